// The studio's queue mode (a task's annotate or review queue; the page's json_script carries a "queue" block).
// It pulls the caller's unit (POST next: their current lease first, then rejected work to fix, then the queue),
// opens it (the item, the URLs of the unit's layer, model suggestions), and after main.js has loaded the editor:
// - annotate: the model suggestions of the item's shared annotations are shown in the unit's layer until accepted
//   (accepting copies one into the layer); reviewer comments are listed and pinned beside the annotations they name;
//   Submit saves what is left and submits; Skip asks why;
// - review: the reviewed layer, which the reviewer may correct (saved as their revisions; an approval promotes the
//   corrected layer); comments (pinned to the selected annotation or not); Approve / Reject;
// - both: heartbeats credit active time (every ~30 s while the tab has the focus and there was input in the last
//   minute); after a decision the next unit is pulled and its image preloaded, then swapped in without a page
//   load (main.js opens its item; history.pushState names it, and a reload resumes it). Reviewer comments come
//   in rounds: the annotator fixes what the latest rejection says; earlier rounds are listed as history.
// Text from the server only ever goes through textContent.

import { api } from "./saver.js";

const PRELOAD_WAIT_MS = 4000;
const MAX_HEARTBEAT_SECONDS = 120;

function fill(template, id) {
  return template.replace("{id}", encodeURIComponent(String(id)));
}

function detail(result, fallback) {
  const data = result && result.data;
  if (data && data.errors && typeof data.errors === "object") {
    const words = Object.values(data.errors).flat().filter((m) => typeof m === "string");
    if (words.length) return words.join(" ");
  }
  return (data && typeof data.detail === "string" && data.detail) || fallback;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sleep(ms) {
  return new Promise((resolve) => { window.setTimeout(resolve, ms); });
}

function contentKey(obj) {
  return JSON.stringify([obj.type, obj.label, obj.geometry]);
}

export class Queue {
  constructor(config, { announce, statusEl }) {
    this.config = config;
    this.urls = config.urls;
    this.stage = config.stage;
    this.announce = announce;
    this.statusEl = statusEl;
    this.unit = null;
    this.opened = null;
    this.comments = [];
    this.history = [];
    this.draft = [];
    this.busy = false;
    this.decisionKey = null;
    this.lastInput = Date.now();
    this.lastBeat = Date.now();
    this.timer = null;
    this.messageEl = document.getElementById("queue-message");
    this.studioEl = document.getElementById("studio");
    this.baseTitle = document.title;
    this.bound = false; // the page's buttons and keys are bound once, for whichever unit is open
    this.onNext = null; // main.js: opens the next unit's item in place (no page load)
    // Back (or forward) to an earlier unit's address: the server hands out the caller's current unit again.
    window.addEventListener("popstate", () => this._leave());
  }

  get canEdit() {
    return true; // annotate: the unit's layer; review: the reviewer may correct the work before deciding
  }

  // --- Pull and open ---------------------------------------------------------------------------

  /** Pulls and opens the caller's unit ({unit, item, suggestions} from the unit's detail), or null (said why). */
  async start() {
    const pulled = await this._pull();
    if (!pulled) return null;
    let opened;
    try {
      opened = await api(fill(this.urls.unit, pulled.id));
    } catch (_) {
      opened = null;
    }
    if (!opened || !opened.ok) {
      this.stop(`This unit could not be opened: ${detail(opened, "the server could not be reached")}. Reload the page to try again.`);
      return null;
    }
    this._opened(pulled, opened.data);
    return this.opened;
  }

  _opened(pulled, detail) {
    this.unit = { ...pulled, ...detail };
    this.opened = { unit: this.unit, item: detail.item_detail, suggestions: detail.suggestions || [] };
    document.getElementById("unit-item-name").textContent = detail.item_detail.name;
    document.title = `${this.stage === "review" ? "Review" : "Annotate"} ${detail.item_detail.name} · ${this.baseTitle}`;
    this.studioEl.dataset.unitId = String(this.unit.id);
  }

  /** Opens the unit preloadNext leased in place of the finished one: its item, layer and comments, no page load;
   * the address names it (history.pushState), and a reload resumes it (the server hands out the current lease). */
  async _swap(pulled) {
    let opened;
    try {
      opened = await api(fill(this.urls.unit, pulled.id));
    } catch (_) {
      opened = null;
    }
    if (!opened || !opened.ok) {
      this._leave();
      return;
    }
    document.getElementById("studio-editor").dataset.ready = "false";
    this.messageEl.hidden = true;
    this._opened(pulled, opened.data);
    const url = new URL(window.location.href);
    url.searchParams.set("unit", String(pulled.id));
    window.history.pushState({ unit: pulled.id }, "", url);
    await this.onNext(this.opened);
  }

  async _pull() {
    let result;
    try {
      result = await api(this.urls.next, { method: "POST", body: { stage: this.stage } });
    } catch (_) {
      this.stop("The server could not be reached. Reload the page to try again.");
      return null;
    }
    if (result.status === 204) {
      this.stop(this.stage === "review" ? "No more work in this task: nothing is waiting for your review."
        : "No more work in this task.", { empty: true });
      return null;
    }
    if (!result.ok) {
      this.stop(`No unit was handed out: ${detail(result, `the server answered ${result.status}`)}`);
      return null;
    }
    return result.data;
  }

  /** Says why there is nothing to work on, in place of the editor. */
  stop(text, { empty = false } = {}) {
    this._stopHeartbeats();
    const editor = document.getElementById("studio-editor");
    if (editor) editor.hidden = true;
    for (const id of ["queue-submit", "save-now"]) {
      const node = document.getElementById(id);
      if (node) node.hidden = true;
    }
    this.statusEl.dataset.state = "idle";
    this.statusEl.textContent = "";
    this.messageEl.className = `message ${empty ? "message-success" : "message-warning"} queue-message`;
    this.messageEl.textContent = `${text} `;
    this.messageEl.append(el("a", { href: this.urls.my_work, text: "Back to My work" }));
    this.messageEl.hidden = false;
    this.studioEl.dataset.queue = empty ? "empty" : "stopped";
  }

  // --- After the editor is up --------------------------------------------------------------------

  async attach({ store, renderer, editor, saver, describe }) {
    Object.assign(this, { store, renderer, editor, saver, describe });
    this.comments = [];
    this.history = [];
    this.draft = [];
    this.decisionKey = null;
    if (this.stage === "annotate") this._showSuggestions(this.opened.suggestions || []);
    this._facts();
    this._pins();
    await this._loadComments();
    if (!this.bound) {
      if (this.stage === "annotate") this._bindAnnotate();
      else this._bindReview();
      this.bound = true;
    }
    if (this.stage === "review") {
      this._reviewUnit();
      this._listDraft();
    } else {
      const skipBox = document.getElementById("skip-box");
      if (skipBox) skipBox.open = false;
    }
    this._busy(false);
    store.onChange(() => this._drawPins());
    const previousView = renderer.onView;
    renderer.onView = (view) => { if (previousView) previousView(view); this._drawPins(); };
    this._startHeartbeats();
    this.studioEl.dataset.queue = "working";
  }

  _facts() {
    const facts = document.getElementById("unit-facts");
    const parts = [`Unit ${this.unit.id}`];
    if (this.unit.attempts > 1 && this.stage === "annotate") parts.push(`attempt ${this.unit.attempts}`);
    if (this.unit.lease_expires_at) {
      const until = new Date(this.unit.lease_expires_at);
      parts.push(`yours until ${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} (kept while you work)`);
    }
    facts.textContent = parts.join(" · ");
  }

  _showSuggestions(list) {
    // What this layer already holds (an accepted suggestion, on a second visit) is not suggested again.
    const held = new Set([...this.store.objects.values()].map(contentKey));
    const fresh = list.filter((s) => !held.has(contentKey(s)))
      .map((s) => ({ ...s, recipe_version: this.unit.recipe_version, review_state: "proposed" }));
    if (fresh.length) this.store.addLocal(fresh);
  }

  // --- Comments, listed and pinned -----------------------------------------------------------------

  async _loadComments() {
    let result;
    try {
      result = await api(fill(this.urls.comments, this.unit.id));
    } catch (_) {
      result = null;
    }
    if (!result || !result.ok) return;
    const all = (result.data.results || []).slice().sort((a, b) => a.id - b.id);
    // Each review is a round. The annotator fixes what the latest rejection says; the rounds before it (and, for
    // a reviewer, every round) are history.
    const roundOf = (c) => (c.round ? c.round.number : 0);
    const rejected = all.filter((c) => !c.round || c.round.decision === "rejected").map(roundOf);
    const latest = this.stage === "annotate" && rejected.length ? Math.max(...rejected) : null;
    this.comments = latest === null ? [] : all.filter((c) => roundOf(c) === latest);
    this.history = all.filter((c) => !this.comments.includes(c));
    if (this.stage === "review") { this.comments = all; this.history = []; }
    this._listComments();
    this._listHistory();
  }

  _listHistory() {
    const block = document.getElementById("review-history");
    if (!block) return;
    const list = document.getElementById("review-history-list");
    list.textContent = "";
    const rounds = new Map();
    for (const c of this.history) {
      const key = c.round ? c.round.number : 0;
      if (!rounds.has(key)) rounds.set(key, { round: c.round, comments: [] });
      rounds.get(key).comments.push(c);
    }
    for (const [number, { round, comments }] of [...rounds.entries()].sort((a, b) => b[0] - a[0])) {
      const title = round ? `Round ${number}: ${round.decision}${round.reviewer ? ` by ${round.reviewer}` : ""}` : "Earlier";
      const inner = el("ul", { className: "review-comments" });
      for (const c of comments) inner.append(el("li", { className: "review-comment history-comment" }, el("p", { className: "comment-text", text: c.text })));
      list.append(el("li", { className: "review-round", "data-round": String(number) }, el("p", { className: "helptext", text: title }), inner));
    }
    block.hidden = this.history.length === 0;
  }

  _listComments() {
    const block = document.getElementById("review-comments-block");
    const list = document.getElementById("review-comments");
    list.textContent = "";
    this.comments.forEach((comment, i) => {
      const cid = comment.annotation_id ? this.store.cidOfServerId(comment.annotation_id) : null;
      let where;
      if (!comment.annotation_id) where = "On the whole item";
      else if (cid) where = `On ${this.describe(cid)}`;
      else where = "On an annotation that is no longer there";
      const li = el("li", { className: "review-comment", "data-annotation-id": comment.annotation_id || "" },
        el("span", { className: "pin-number", "aria-hidden": "true", text: String(i + 1) }),
        el("p", { className: "comment-text", text: comment.text }),
        el("p", { className: "helptext", text: `${where}${comment.author ? ` · ${comment.author}` : ""}` }));
      if (cid) {
        li.append(el("button", {
          type: "button", className: "button button-small button-secondary", text: "Show it",
          "aria-label": `Show ${this.describe(cid)}`, onclick: () => { this.editor.select(cid); this.renderer.overlayCanvas.focus(); },
        }));
      }
      list.append(li);
    });
    block.hidden = this.comments.length === 0;
    this._drawPins();
  }

  _pins() {
    if (this.pinsEl) this.pinsEl.remove();
    this.pinsEl = el("div", { className: "comment-pins", "aria-hidden": "true" });
    document.getElementById("stage").append(this.pinsEl);
  }

  _drawPins() {
    if (!this.pinsEl) return;
    this.pinsEl.textContent = "";
    const pinned = [...this.comments.map((c, i) => ({ ...c, label: String(i + 1), kind: "comment" })),
      ...this.draft.map((c, i) => ({ ...c, label: `+${i + 1}`, kind: "draft" }))];
    for (const comment of pinned) {
      if (!comment.annotation_id) continue;
      const cid = this.store.cidOfServerId(comment.annotation_id);
      const obj = cid && this.store.get(cid);
      if (!obj || !obj._box || this.store.isHidden(obj)) continue;
      const [sx, sy] = this.renderer.toScreen(obj._box[2], obj._box[1]);
      const pin = el("span", { className: `comment-pin comment-pin-${comment.kind}`, text: comment.label, title: comment.text });
      pin.style.left = `${Math.round(sx)}px`;
      pin.style.top = `${Math.round(sy)}px`;
      this.pinsEl.append(pin);
    }
  }

  // --- Annotate: submit and skip ---------------------------------------------------------------------

  _bindAnnotate() {
    const submit = document.getElementById("queue-submit");
    submit.disabled = false;
    submit.addEventListener("click", () => this.submit());
    document.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && !(e.target instanceof Element && e.target.closest("input, select, textarea"))) {
        e.preventDefault();
        this.submit();
      }
    });
    document.getElementById("skip-form").addEventListener("submit", (e) => { e.preventDefault(); this.skip(); });
  }

  async _settleSaves() {
    if (!this.saver) return true;
    for (let i = 0; i < 3; i++) {
      await this.saver.flush();
      const deadline = Date.now() + 15000;
      while (this.saver.inFlight && Date.now() < deadline) await sleep(100);
      if (!this.saver.inFlight && !this.store.isDirty()) return !this.saver.lastProblem;
    }
    return false;
  }

  async submit() {
    if (this.busy) return;
    if (this.editor.drawing) { this.announce("Finish or cancel the shape you are drawing first (Enter or Esc)."); return; }
    this._busy(true, "Saving, then submitting…");
    try {
      if (!(await this._settleSaves())) {
        this._busy(false);
        this.saver._settle();
        this.announce("Not submitted: some changes are not saved yet. The save status says what is wrong.");
        return;
      }
      await this.heartbeat({ final: true });
      this.decisionKey = this.decisionKey || newKey();
      const result = await this._post(fill(this.urls.submit, this.unit.id), undefined, this.decisionKey);
      if (result && result.ok && result.data && result.data.feedback) {
        this._feedback(result.data.feedback);
        return;
      }
      if (result && result.ok) {
        this._done("Submitted.");
        return;
      }
      this._refused(result, "Not submitted");
    } catch (error) {
      this._busy(false);
      throw error;
    }
  }

  async skip() {
    if (this.busy) return;
    const reason = (document.getElementById("skip-reason").value || document.getElementById("skip-other").value).trim();
    const errorEl = document.getElementById("skip-error");
    if (!reason) {
      errorEl.textContent = "Say why you skip this item.";
      errorEl.hidden = false;
      document.getElementById("skip-other").focus();
      return;
    }
    errorEl.hidden = true;
    this._busy(true, "Skipping…");
    const result = await this._post(fill(this.urls.skip, this.unit.id), { reason });
    if (result && result.ok) {
      this._done("Skipped: the item went back to the queue.");
      return;
    }
    this._refused(result, "Not skipped");
  }

  // --- Review: comments, approve, reject --------------------------------------------------------------

  /** The open review unit: the pin follows the selection of its editor. */
  _reviewUnit() {
    const pin = document.getElementById("review-pin");
    const target = document.getElementById("review-pin-target");
    const previous = this.editor.onSelect;
    const selected = (cid) => {
      const id = cid ? this.store.serverId(cid) : null;
      pin.disabled = !id;
      if (!id) pin.checked = false;
      else pin.checked = true;
      target.textContent = id ? this.describe(cid) : "select one on the image";
    };
    this.editor.onSelect = (cid) => { previous(cid); selected(cid); };
    selected(this.editor.selection);
    this.statusEl.dataset.state = "saved";
    this.statusEl.textContent = "Reviewing: look at the work, correct it if need be, comment, then approve or reject it.";
  }

  _bindReview() {
    const text = document.getElementById("review-comment");
    for (const b of document.querySelectorAll("[data-reason]")) {
      b.addEventListener("click", () => { text.value = text.value ? `${text.value} ${b.dataset.reason}` : b.dataset.reason; text.focus(); });
    }
    document.getElementById("review-add-comment").addEventListener("click", () => this._addComment());
    document.getElementById("review-form").addEventListener("submit", (e) => { e.preventDefault(); this._addComment(); });
    document.getElementById("review-approve").addEventListener("click", () => this.decide("approve"));
    document.getElementById("review-reject").addEventListener("click", () => this.decide("reject"));
  }

  /** The comment being typed becomes one to send (pinned to the selected annotation when ticked). */
  _addComment({ quiet = false } = {}) {
    const text = document.getElementById("review-comment");
    const value = text.value.trim();
    if (!value) {
      if (!quiet) this._reviewError("Write the comment first.");
      return false;
    }
    const pin = document.getElementById("review-pin");
    const cid = this.editor.selection;
    const annotationId = pin.checked && cid ? this.store.serverId(cid) : null;
    this.draft.push({ annotation_id: annotationId, text: value, where: annotationId ? this.describe(cid) : "the whole item" });
    text.value = "";
    this._reviewError("");
    this._listDraft();
    this.announce(`Comment added${annotationId ? ` on ${this.describe(cid)}` : ""}.`);
    return true;
  }

  _listDraft() {
    const list = document.getElementById("review-draft");
    list.textContent = "";
    this.draft.forEach((comment, i) => {
      list.append(el("li", { className: "review-comment draft-comment" },
        el("span", { className: "pin-number", "aria-hidden": "true", text: `+${i + 1}` }),
        el("p", { className: "comment-text", text: comment.text }),
        el("p", { className: "helptext", text: `On ${comment.where}` }),
        el("button", {
          type: "button", className: "link-button link-danger", text: "Remove", "aria-label": `Remove the comment “${comment.text}”`,
          onclick: () => { this.draft.splice(i, 1); this._listDraft(); },
        })));
    });
    this._drawPins();
  }

  _reviewError(text) {
    const node = document.getElementById("review-error");
    node.textContent = text;
    node.hidden = !text;
  }

  async decide(decision) {
    if (this.busy) return;
    if (document.getElementById("review-comment").value.trim()) this._addComment({ quiet: true });
    if (decision === "reject" && !this.draft.length) {
      this._reviewError("Say what to fix: a rejection needs at least one comment.");
      document.getElementById("review-comment").focus();
      return;
    }
    if (this.editor.drawing) { this.announce("Finish or cancel the shape you are drawing first (Enter or Esc)."); return; }
    this._busy(true, decision === "approve" ? "Approving…" : "Rejecting…");
    if (!(await this._settleSaves())) {
      // The reviewer's corrections are saved first: an approval promotes the layer as it is on the server.
      this._busy(false);
      this.saver._settle();
      this._reviewError("Not decided: some of your corrections are not saved yet. The save status says what is wrong.");
      return;
    }
    await this.heartbeat({ final: true });
    this.decisionKey = this.decisionKey || newKey();
    const comments = this.draft.map((c) => ({ annotation_id: c.annotation_id, text: c.text }));
    const result = await this._post(fill(this.urls.review, this.unit.id), { decision, comments }, this.decisionKey);
    if (result && result.ok) {
      this._done(decision === "approve" ? "Approved." : "Rejected: the work goes back to its annotator with your comments.");
      return;
    }
    this._refused(result, decision === "approve" ? "Not approved" : "Not rejected");
  }

  // --- Shared: requests, outcome, the next unit ----------------------------------------------------------

  async _post(url, body, key) {
    try {
      return await api(url, { method: "POST", body, headers: key ? { "Idempotency-Key": key } : {} });
    } catch (_) {
      return null; // the same key goes with a retry, so a decision that did arrive is not made twice
    }
  }

  _busy(on, text = "") {
    this.busy = on;
    for (const id of ["queue-submit", "skip-submit", "review-approve", "review-reject"]) {
      const node = document.getElementById(id);
      if (node) node.disabled = on;
    }
    if (on && text) {
      this.statusEl.dataset.state = "saving";
      this.statusEl.textContent = text;
    }
  }

  _refused(result, what) {
    this._busy(false);
    if (result === null) {
      this._status("error", `${what}: the server could not be reached. Try again.`);
      return;
    }
    this.decisionKey = null;
    const words = detail(result, `the server answered ${result.status}`);
    this._status("error", `${what}: ${words}`);
    if (result.status === 409 || result.status === 403 || result.status === 404) {
      // The unit is not ours any more (expired, reassigned, finished): move on rather than retry.
      this._stopHeartbeats();
      this.messageEl.className = "message message-warning queue-message";
      this.messageEl.textContent = `${what}: ${words} `;
      this.messageEl.append(el("button", { type: "button", className: "button button-small", text: "Go to the next unit", onclick: () => this._leave() }));
      this.messageEl.hidden = false;
    }
    this.announce(`${what}: ${words}`);
  }

  _status(state, text) {
    this.statusEl.dataset.state = state;
    this.statusEl.textContent = text;
  }

  async _done(text) {
    this._stopHeartbeats();
    this._status("saved", `${text} Loading the next unit…`);
    this.announce(text);
    this.studioEl.dataset.queue = "finished";
    if (this.saver) this.saver.leaving = true;
    const next = await this.preloadNext();
    if (next && next.unit && this.onNext) {
      await this._swap(next.unit);
      return;
    }
    if (next && next.status === 204) {
      this.stop(this.stage === "review" ? "No more work in this task: nothing is waiting for your review."
        : "No more work in this task.", { empty: true });
      return;
    }
    this._leave();
  }

  /** A training item: how the work compared with the right answer, before moving on. */
  _feedback(feedback) {
    this._stopHeartbeats();
    const details = feedback.details || {};
    let shapes = details.shapes || {};
    if (!details.shapes && details.types) {
      // Per shape type (the quality metrics): matched pairs and what only one side has.
      shapes = { a: 0, b: 0, matched: 0 };
      for (const part of Object.values(details.types)) {
        const matched = (part.pairs || []).length;
        shapes.matched += matched;
        shapes.a += matched + (part.unmatched_a || []).length;
        shapes.b += matched + (part.unmatched_b || []).length;
      }
    }
    const classes = details.classes || {};
    const parts = [`Training result: ${Math.round((feedback.score || 0) * 100)}% agreement with the right answer.`];
    if (shapes.b !== undefined) {
      parts.push(`You drew ${shapes.a} shape${shapes.a === 1 ? "" : "s"}; the answer has ${shapes.b}; ${shapes.matched} matched.`);
    }
    const mine = new Set(classes.a || []), answer = new Set(classes.b || []);
    const missed = [...answer].filter((c) => !mine.has(c)), extra = [...mine].filter((c) => !answer.has(c));
    if (missed.length) parts.push(`Classes you missed: ${missed.join(", ")}.`);
    if (extra.length) parts.push(`Classes not in the answer: ${extra.join(", ")}.`);
    this._status("saved", "Submitted.");
    this.messageEl.className = "message message-success queue-message training-feedback";
    this.messageEl.textContent = `${parts.join(" ")} `;
    this.messageEl.append(el("button", { type: "button", className: "button button-small", text: "Next item", onclick: () => this._done("Submitted.") }));
    this.messageEl.hidden = false;
    this.messageEl.querySelector("button").focus();
  }

  /** Leases the next unit now and fetches its image, so that opening it finds the image cached:
   * {status, unit} (unit null when none was handed out), or null when the server could not be reached. */
  async preloadNext() {
    let result;
    try {
      result = await api(this.urls.next, { method: "POST", body: { stage: this.stage } });
    } catch (_) {
      return null;
    }
    if (result.status !== 200 || !result.data) return { status: result.status, unit: null };
    const image = new Image();
    image.decoding = "async";
    const loaded = new Promise((resolve) => { image.onload = resolve; image.onerror = resolve; });
    image.src = fill(this.urls.content, result.data.item);
    window.__queueNextImage = image;
    await Promise.race([loaded, sleep(PRELOAD_WAIT_MS)]);
    return { status: 200, unit: result.data };
  }

  _leave() {
    if (this.saver) this.saver.leaving = true;
    window.location.reload();
  }

  // --- Active time -----------------------------------------------------------------------------

  _startHeartbeats() {
    if (!this.watchingInput) {
      const mark = () => { this.lastInput = Date.now(); };
      for (const type of ["pointerdown", "pointermove", "keydown", "wheel"]) {
        document.addEventListener(type, mark, { passive: true, capture: true });
      }
      this.watchingInput = true;
    }
    this._stopHeartbeats();
    this.lastBeat = Date.now();
    this.timer = window.setInterval(() => this.heartbeat(), this.config.heartbeat_ms);
  }

  _stopHeartbeats() {
    if (this.timer) window.clearInterval(this.timer);
    this.timer = null;
  }

  /** Credits the time since the last heartbeat when the annotator is active (focused, input in the last minute). */
  async heartbeat({ final = false } = {}) {
    if (!this.unit || (!this.timer && !final)) return null;
    const now = Date.now();
    const seconds = Math.min(MAX_HEARTBEAT_SECONDS, (now - this.lastBeat) / 1000);
    this.lastBeat = now;
    const active = document.hasFocus() && document.visibilityState === "visible" && now - this.lastInput < this.config.idle_ms;
    if (!active || seconds < 0.5) return null;
    let result;
    try {
      result = await api(fill(this.urls.heartbeat, this.unit.id), { method: "POST", body: { active_seconds: Math.round(seconds * 10) / 10 } });
    } catch (_) {
      return null;
    }
    if (result.status === 409 && !final) {
      this._stopHeartbeats();
      this._status("error", `This unit is not yours any more: ${detail(result, "its lease ended")}`);
    }
    return result;
  }
}
