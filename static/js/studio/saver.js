// Autosave: about a second after the last change, everything that differs from the server goes to the
// changes endpoint as one all-or-nothing request (create / update with the version read / delete).
//   400  the field errors ("create.2.attributes.colour") are pinned to their objects, which wait until they are
//        changed again; the rest is saved at once without them.
//   409  someone else changed some of these annotations: the item's annotations are reloaded, the user is told,
//        and the local changes to the other annotations are applied again on top and saved.
// One request at a time; what changes while it runs goes in the next one.

import { TYPE_NAMES } from "./geometry.js";
import { contentKey, pickContent } from "./store.js";

const DEBOUNCE_MS = 1000;
const RETRY_MS = 5000;

export async function api(url, { method = "GET", body, headers: extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = window.dlsaas.csrfToken();
  const response = await fetch(url, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { status: response.status, ok: response.ok, data };
}

export class Saver {
  constructor({ store, recipe, changesUrl, annotationsUrl, status, describe, layer = null }) {
    this.store = store;
    this.layer = layer; // a unit of work's layer (queue mode); null: the item's shared annotations
    this.recipe = recipe;
    this.changesUrl = changesUrl;
    this.annotationsUrl = annotationsUrl;
    this.statusEl = status;
    this.describe = describe;
    this.timer = null;
    this.inFlight = false;
    this.again = false;
    this.lastProblem = null; // a message that stays until the next successful save
    this.onSaved = null;
    this.onReloaded = null;
    this.leaving = false; // set when the page moves on on purpose (queue mode: after a skip or a submit)
    this._onBeforeUnload = (event) => {
      if (!this.leaving && (this.inFlight || this.store.isDirty())) {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", this._onBeforeUnload);
  }

  /** Stops saving (queue mode: the unit was submitted or skipped and the next one takes the page). */
  destroy() {
    clearTimeout(this.timer);
    this.leaving = true;
    window.removeEventListener("beforeunload", this._onBeforeUnload);
  }

  setStatus(state, text) {
    this.statusEl.dataset.state = state;
    this.statusEl.textContent = text;
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.lastProblem) this.setStatus("pending", "Unsaved changes…");
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  /** Saves now (Ctrl+S). */
  flush() {
    clearTimeout(this.timer);
    return this.run();
  }

  _batch() {
    const store = this.store;
    const batch = { create: [], update: [], delete: [], createCids: [], updateCids: [], deleteCids: [], sent: new Map() };
    for (const cid of [...store.touched]) {
      const obj = store.get(cid), known = store.server.get(cid);
      if (!obj && !known) { store.touched.delete(cid); continue; }
      if (!obj) {
        batch.delete.push({ id: known.id, version: known.version });
        batch.deleteCids.push(cid);
        continue;
      }
      const content = pickContent(obj);
      if (known && contentKey(content) === known.saved) { store.touched.delete(cid); continue; }
      if (store.blocked.has(cid)) continue;
      const problems = this.recipe.check(obj);
      if (problems) {
        store.blocked.add(cid);
        store.setErrors(cid, problems);
        continue;
      }
      batch.sent.set(cid, content);
      if (!known) {
        batch.create.push(content);
        batch.createCids.push(cid);
      } else {
        const change = { id: known.id, version: known.version };
        for (const [name, value] of Object.entries(content)) {
          if (JSON.stringify(value) !== JSON.stringify(known.content[name])) change[name] = value;
        }
        batch.update.push(change);
        batch.updateCids.push(cid);
      }
    }
    return batch;
  }

  async run() {
    clearTimeout(this.timer);
    if (this.inFlight) { this.again = true; return; }
    const batch = this._batch();
    if (!batch.create.length && !batch.update.length && !batch.delete.length) {
      this._settle();
      return;
    }
    this.inFlight = true;
    this.setStatus("saving", "Saving…");
    let result;
    try {
      const body = { create: batch.create, update: batch.update, delete: batch.delete };
      if (this.layer !== null) body.layer = this.layer;
      result = await api(this.changesUrl, { method: "POST", body });
    } catch (_) {
      result = null;
    }
    this.inFlight = false;
    if (result === null) {
      this._problem("Not saved: the server could not be reached. Trying again in 5 seconds.");
      this.timer = setTimeout(() => this.run(), RETRY_MS);
      return;
    }
    if (result.ok) {
      this._applied(batch, result.data);
    } else if (result.status === 400 && result.data && result.data.errors) {
      this._refused(batch, result.data);
    } else if (result.status === 409) {
      await this._conflict(result.data || {});
      return;
    } else {
      const detail = (result.data && result.data.detail) || `the server answered ${result.status}`;
      this._problem(`Not saved: ${detail}${result.status >= 500 ? " Trying again in 5 seconds." : ""}`);
      if (result.status >= 500) this.timer = setTimeout(() => this.run(), RETRY_MS);
      return;
    }
    if (this.again || this._hasWork()) {
      this.again = false;
      this.run();
    } else {
      this._settle();
    }
  }

  _hasWork() {
    for (const cid of this.store.touched) if (!this.store.blocked.has(cid)) return true;
    return false;
  }

  _applied(batch, data) {
    const store = this.store;
    this.lastProblem = null;
    const saved = new Set();
    (data.created || []).forEach((row, i) => {
      const cid = batch.createCids[i];
      store.setServer(cid, row.id, row.version, batch.sent.get(cid));
      saved.add(cid);
    });
    const byId = new Map((data.updated || []).map((row) => [row.id, row]));
    batch.updateCids.forEach((cid, i) => {
      const row = byId.get(batch.update[i].id);
      if (row) store.setServer(cid, row.id, row.version, batch.sent.get(cid));
      saved.add(cid);
    });
    batch.deleteCids.forEach((cid) => { store.setServer(cid, null, null, null); saved.add(cid); });
    for (const cid of saved) {
      const obj = store.get(cid), known = store.server.get(cid);
      if ((!obj && !known) || (obj && known && contentKey(pickContent(obj)) === known.saved)) store.touched.delete(cid);
      if (store.errors.has(cid)) store.setErrors(cid, null);
    }
    if (this.onSaved) this.onSaved(saved);
  }

  _refused(batch, data) {
    const store = this.store;
    const lists = { create: batch.createCids, update: batch.updateCids, delete: batch.deleteCids };
    const byCid = new Map();
    const general = [];
    for (const [key, messages] of Object.entries(data.errors)) {
      const message = Array.isArray(messages) ? messages.join(" ") : String(messages);
      const parts = key.split(".");
      const cid = lists[parts[0]] && /^\d+$/.test(parts[1] || "") ? lists[parts[0]][+parts[1]] : null;
      if (!cid) { general.push(`${key}: ${message}`); continue; }
      const field = parts.slice(2).join(".") || "non_field_errors";
      if (!byCid.has(cid)) byCid.set(cid, {});
      byCid.get(cid)[field] = message;
    }
    for (const [cid, errors] of byCid) {
      store.blocked.add(cid);
      store.setErrors(cid, errors);
    }
    if (general.length) {
      // Nothing to pin them on: keep everything in this batch waiting, so the next change tries again.
      for (const cid of batch.sent.keys()) store.blocked.add(cid);
      this.lastProblem = `Not saved: ${general.join(" ")}`;
    } else {
      this.lastProblem = null;
    }
  }

  async _conflict(data) {
    const store = this.store;
    const conflicted = new Set((data.conflicts || []).map((c) => c.id));
    const pending = [...store.touched].map((cid) => ({ id: store.serverId(cid), content: store.content(cid) }));
    this.setStatus("saving", "Someone else changed this item: reloading its annotations…");
    let fresh;
    try {
      fresh = await api(this.annotationsUrl);
    } catch (_) {
      fresh = null;
    }
    if (!fresh || !fresh.ok) {
      this._problem("Not saved: someone else changed these annotations and reloading them failed. Reload the page.");
      return;
    }
    store.load(fresh.data);
    const changes = [];
    let dropped = 0;
    for (const change of pending) {
      if (change.id !== null && conflicted.has(change.id)) { dropped++; continue; }
      if (change.id !== null) {
        const cid = store.cidOfServerId(change.id);
        if (cid) changes.push([cid, change.content]);
        else if (change.content) dropped++;
      } else if (change.content) {
        changes.push([store.newCid(), change.content]);
      }
    }
    if (changes.length) store.commit(changes, "Apply my changes again", { undoable: false });
    const n = conflicted.size;
    const kept = dropped ? `; your change${dropped === 1 ? " to it was" : "s to them were"} not kept` : "";
    this.lastProblem = `Not saved: ${n} annotation${n === 1 ? " was" : "s were"} changed by someone else since you ` +
      `loaded this item. The latest version is shown${kept}.${changes.length ? " Your other changes are being saved again." : ""}`;
    if (this.onReloaded) this.onReloaded(this.lastProblem);
    this.setStatus("error", this.lastProblem);
    if (changes.length) this.run();
  }

  _problem(text) {
    this.lastProblem = text;
    this.setStatus("error", text);
  }

  _settle() {
    const store = this.store;
    if (this.lastProblem) {
      this.setStatus("error", this.lastProblem);
      return;
    }
    const waiting = [...store.blocked].filter((cid) => store.touched.has(cid));
    if (waiting.length) {
      const first = waiting[0];
      const errors = store.errors.get(first) || {};
      const [field, message] = Object.entries(errors)[0] || ["", "needs attention"];
      const more = waiting.length > 1 ? ` (and ${waiting.length - 1} more: see the objects marked “Not saved”)` : "";
      const where = field && !message.toLowerCase().startsWith(field.split(".").pop().toLowerCase()) ? `${field}: ` : "";
      this.setStatus("error", `Not saved: ${this.describe(first)}: ${where}${message}${more}`);
      return;
    }
    this.setStatus("saved", "All changes saved");
  }
}

export function describeObject(store, cid) {
  const obj = store.get(cid);
  const id = store.serverId(cid);
  const type = obj ? TYPE_NAMES[obj.type] || obj.type : "Annotation";
  return `${obj ? obj.label : ""} ${type.toLowerCase()}${id ? ` #${id}` : " (new)"}`.trim();
}
