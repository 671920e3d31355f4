// Small helpers of the studio's queue mode around api() (saver.js): the queue's URL templates, what a refusal
// says, idempotency keys for decisions, and waiting.

/** A URL template of the queue's config ("…/units/{id}/submit/") for one unit or item. */
export function fill(template, id) {
  return template.replace("{id}", encodeURIComponent(String(id)));
}

/** What an API answer says went wrong (its field errors, or its detail), or the fallback. */
export function detail(result, fallback) {
  const data = result && result.data;
  if (data && data.errors && typeof data.errors === "object") {
    const words = Object.values(data.errors).flat().filter((m) => typeof m === "string");
    if (words.length) return words.join(" ");
  }
  return (data && typeof data.detail === "string" && data.detail) || fallback;
}

export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function sleep(ms) {
  return new Promise((resolve) => { window.setTimeout(resolve, ms); });
}
