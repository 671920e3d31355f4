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
// The Queue class is this file with two more mixed into its prototype (below): queue-comments.js (comments listed,
// pinned and drafted) and queue-decisions.js (submit, skip, approve, reject).
// Text from the server only ever goes through textContent.

import { el } from "./dom.js";
import { comments } from "./queue-comments.js";
import { decisions } from "./queue-decisions.js";
import { detail, fill, sleep } from "./queue-requests.js";
import { api } from "./saver.js";

const PRELOAD_WAIT_MS = 4000;
const MAX_HEARTBEAT_SECONDS = 120;

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
    const opened = await this._fetchUnit(pulled.id);
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
    const opened = await this._fetchUnit(pulled.id);
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

  /** The unit's detail (the api() answer), or null when the server could not be reached. */
  async _fetchUnit(id) {
    try {
      return await api(fill(this.urls.unit, id));
    } catch (_) {
      return null;
    }
  }

  /** Leases the caller's next unit (POST next; the api() answer), or null when the server could not be reached. */
  async _requestNext() {
    try {
      return await api(this.urls.next, { method: "POST", body: { stage: this.stage } });
    } catch (_) {
      return null;
    }
  }

  async _pull() {
    const result = await this._requestNext();
    if (!result) {
      this.stop("The server could not be reached. Reload the page to try again.");
      return null;
    }
    if (result.status === 204) {
      this._stopEmpty();
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
    this._status("idle", "");
    this.messageEl.className = `message ${empty ? "message-success" : "message-warning"} queue-message`;
    this.messageEl.textContent = `${text} `;
    this.messageEl.append(el("a", { href: this.urls.my_work, text: "Back to My work" }));
    this.messageEl.hidden = false;
    this.studioEl.dataset.queue = empty ? "empty" : "stopped";
  }

  _stopEmpty() {
    this.stop(this.stage === "review" ? "No more work in this task: nothing is waiting for your review."
      : "No more work in this task.", { empty: true });
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
    if (on && text) this._status("saving", text);
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
      this._stopEmpty();
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
    const result = await this._requestNext();
    if (!result) return null;
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

Object.assign(Queue.prototype, comments, decisions);
