// The decisions of the studio's queue mode, mixed into Queue.prototype by queue.js (`this` is the Queue):
// annotate: Submit (what is left saved first; a training item answers with feedback) and Skip (with a reason);
// review: Approve or Reject (with the draft comments; the reviewer's corrections saved first). Each decision goes
// with an idempotency key, so a retry after a lost answer does not decide twice.

import { fill, newKey, sleep } from "./queue-requests.js";

export const decisions = {
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
  },

  async _settleSaves() {
    if (!this.saver) return true;
    for (let i = 0; i < 3; i++) {
      await this.saver.flush();
      const deadline = Date.now() + 15000;
      while (this.saver.inFlight && Date.now() < deadline) await sleep(100);
      if (!this.saver.inFlight && !this.store.isDirty()) return !this.saver.lastProblem;
    }
    return false;
  },

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
  },

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
  },

  // --- Review: approve, reject ----------------------------------------------------------------------

  _bindReview() {
    const text = document.getElementById("review-comment");
    for (const b of document.querySelectorAll("[data-reason]")) {
      b.addEventListener("click", () => { text.value = text.value ? `${text.value} ${b.dataset.reason}` : b.dataset.reason; text.focus(); });
    }
    document.getElementById("review-add-comment").addEventListener("click", () => this._addComment());
    document.getElementById("review-form").addEventListener("submit", (e) => { e.preventDefault(); this._addComment(); });
    document.getElementById("review-approve").addEventListener("click", () => this.decide("approve"));
    document.getElementById("review-reject").addEventListener("click", () => this.decide("reject"));
  },

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
  },
};
