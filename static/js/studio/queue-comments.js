// Review comments in the studio's queue mode, mixed into Queue.prototype by queue.js (`this` is the Queue).
// Comments come in rounds: the annotator fixes what the latest rejection says and sees earlier rounds as history;
// a reviewer sees them all. They are listed, and pinned beside the annotations they name; a reviewer's new
// comments (the draft, sent with the decision) are pinned to the selected annotation when ticked.
// Text from the server only ever goes through textContent.

import { el } from "./dom.js";
import { api } from "./saver.js";
import { fill } from "./queue-requests.js";

export const comments = {
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
  },

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
  },

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
  },

  _pins() {
    if (this.pinsEl) this.pinsEl.remove();
    this.pinsEl = el("div", { className: "comment-pins", "aria-hidden": "true" });
    document.getElementById("stage").append(this.pinsEl);
  },

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
  },

  // --- Review: the reviewer's draft, pinned to the selection ----------------------------------------

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
    this._status("saved", "Reviewing: look at the work, correct it if need be, comment, then approve or reject it.");
  },

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
  },

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
  },

  _reviewError(text) {
    const node = document.getElementById("review-error");
    node.textContent = text;
    node.hidden = !text;
  },
};
