// The item's annotations as the studio holds them: content by client id, what the server has (id, version and
// the content last saved), the undo/redo history, the spatial index, and per-object view state (hidden, locked,
// errors). Content objects are never mutated: a change replaces them, so history entries can share them.

import { bboxOf } from "./geometry.js";
import { bitmapCanvas, decodeRle } from "./mask.js";
import { SpatialGrid } from "./spatial.js";

export const CONTENT_FIELDS = ["type", "label", "attributes", "geometry", "z_order", "frame", "source", "review_state",
  "confidence", "recipe_version"];
const HISTORY_LIMIT = 200;

export function pickContent(source) {
  const out = {};
  for (const name of CONTENT_FIELDS) out[name] = source[name] === undefined ? null : source[name];
  if (out.attributes === null) out.attributes = {};
  if (out.review_state === null) out.review_state = "";
  return out;
}

export function contentKey(content) {
  return JSON.stringify(content);
}

export class Store {
  constructor({ width, height, labels }) {
    this.width = width;
    this.height = height;
    this.labels = labels; // name -> label of the recipe version
    this.objects = new Map(); // cid -> {cid, ...content, _box, _mask}
    this.server = new Map(); // cid -> {id, version, content, saved}: what the server holds (saved = its key)
    this.byServerId = new Map(); // server id -> cid
    this.touched = new Set(); // cids changed since the server last agreed
    this.hidden = new Set();
    this.locked = new Set();
    this.hiddenLabels = new Set();
    this.lockedLabels = new Set();
    this.errors = new Map(); // cid -> {path: message}
    this.blocked = new Set(); // cids the server refused: left out of saves until changed again
    this.undoStack = [];
    this.redoStack = [];
    this.index = new SpatialGrid(width, height);
    this.listeners = [];
    this.seq = 0;
  }

  newCid() {
    this.seq += 1;
    return `n${this.seq}`;
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  _emit(event) {
    for (const listener of this.listeners) listener(event);
  }

  get(cid) {
    return this.objects.get(cid);
  }

  serverId(cid) {
    const known = this.server.get(cid);
    return known ? known.id : null;
  }

  cidOfServerId(id) {
    return this.byServerId.get(id) || null;
  }

  /** Records what the server now holds for `cid` (after a load or a save); `content` null: deleted there. */
  setServer(cid, id, version, content) {
    const known = this.server.get(cid);
    if (known) this.byServerId.delete(known.id);
    if (content === null) {
      this.server.delete(cid);
      return;
    }
    this.server.set(cid, { id, version, content, saved: contentKey(content) });
    this.byServerId.set(id, cid);
  }

  /** Replaces everything with the server's list (first load, or after a conflict). */
  load(list) {
    const before = [...this.objects.keys()];
    this.objects.clear();
    this.server.clear();
    this.byServerId.clear();
    this.touched.clear();
    this.errors.clear();
    this.blocked.clear();
    this.index.clear();
    this.undoStack = [];
    this.redoStack = [];
    for (const raw of list) {
      const cid = `s${raw.id}`;
      const content = pickContent(raw);
      this._put(cid, content);
      this.setServer(cid, raw.id, raw.version, content);
    }
    this._emit({ reason: "load", cids: new Set([...before, ...this.objects.keys()]), oldBoxes: new Map() });
  }

  /** Adds objects the server keeps elsewhere (model suggestions of the shared annotations, shown in a unit's
   * layer): drawn and listed, but not saved unless changed (accepting one creates it in this layer). */
  addLocal(list) {
    const cids = new Set();
    for (const raw of list) {
      const cid = `p${raw.id}`;
      this._put(cid, pickContent(raw));
      cids.add(cid);
    }
    this._emit({ reason: "load", cids, oldBoxes: new Map() });
  }

  _put(cid, content) {
    const old = this.objects.get(cid);
    const oldBox = old ? old._box : null;
    if (content === null) {
      this.objects.delete(cid);
      this.index.remove(cid);
      return oldBox;
    }
    const obj = { cid, ...content, _box: null, _mask: null };
    if (content.type === "mask") {
      const reuse = old && old.geometry === content.geometry && old.label === content.label ? old._mask : null;
      obj._mask = reuse || this._maskOf(content);
      obj._box = obj._mask ? [obj._mask.x, obj._mask.y, obj._mask.x + obj._mask.w, obj._mask.y + obj._mask.h] : null;
    } else {
      obj._box = bboxOf(content.type, content.geometry);
    }
    this.objects.set(cid, obj);
    if (obj._box) this.index.insert(cid, obj._box);
    else this.index.remove(cid);
    return oldBox;
  }

  _maskOf(content) {
    const bitmap = decodeRle(content.geometry.rle);
    if (!bitmap) return null;
    const label = this.labels[content.label];
    bitmap.canvas = bitmapCanvas(bitmap, label ? label.color : "#888888");
    return bitmap;
  }

  content(cid) {
    const obj = this.objects.get(cid);
    return obj ? pickContent(obj) : null;
  }

  /** Applies [[cid, content | null], ...] as one undoable step named `label`. */
  commit(changes, label, { undoable = true } = {}) {
    const entry = { label, changes: [] };
    const oldBoxes = new Map();
    const cids = new Set();
    for (const [cid, after] of changes) {
      const before = this.content(cid);
      entry.changes.push({ cid, before, after: after ? pickContent(after) : null });
      oldBoxes.set(cid, this._put(cid, after ? pickContent(after) : null));
      this._touch(cid);
      cids.add(cid);
    }
    if (undoable) {
      this.undoStack.push(entry);
      if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
      this.redoStack = [];
    }
    this._emit({ reason: "commit", label, cids, oldBoxes });
  }

  _touch(cid) {
    this.touched.add(cid);
    this.blocked.delete(cid);
    this.errors.delete(cid);
  }

  _replay(entry, direction) {
    const oldBoxes = new Map();
    const cids = new Set();
    const changes = direction === "undo" ? [...entry.changes].reverse() : entry.changes;
    for (const change of changes) {
      const content = direction === "undo" ? change.before : change.after;
      oldBoxes.set(change.cid, this._put(change.cid, content));
      this._touch(change.cid);
      cids.add(change.cid);
    }
    this._emit({ reason: direction, label: entry.label, cids, oldBoxes });
  }

  undo() {
    const entry = this.undoStack.pop();
    if (!entry) return null;
    this._replay(entry, "undo");
    this.redoStack.push(entry);
    return entry.label;
  }

  redo() {
    const entry = this.redoStack.pop();
    if (!entry) return null;
    this._replay(entry, "redo");
    this.undoStack.push(entry);
    return entry.label;
  }

  /** Whether anything differs from what the server holds. */
  isDirty() {
    for (const cid of this.touched) {
      const obj = this.objects.get(cid), known = this.server.get(cid);
      if (!obj && !known) continue;
      if (!obj || !known || contentKey(pickContent(obj)) !== known.saved) return true;
    }
    return false;
  }

  maxZ() {
    let z = 0;
    for (const obj of this.objects.values()) if (obj.z_order > z) z = obj.z_order;
    return z;
  }

  isHidden(obj) {
    return this.hidden.has(obj.cid) || this.hiddenLabels.has(obj.label);
  }

  isLocked(obj) {
    return this.locked.has(obj.cid) || this.lockedLabels.has(obj.label);
  }

  setViewFlag(kind, cid, on) {
    const set = kind === "hidden" ? this.hidden : this.locked;
    if (on) set.add(cid); else set.delete(cid);
    const obj = this.objects.get(cid);
    this._emit({ reason: "view", cids: new Set([cid]), oldBoxes: new Map([[cid, obj ? obj._box : null]]) });
  }

  setLabelFlag(kind, label, on) {
    const set = kind === "hidden" ? this.hiddenLabels : this.lockedLabels;
    if (on) set.add(label); else set.delete(label);
    this._emit({ reason: "view-label", label, cids: new Set(), oldBoxes: new Map() });
  }

  setErrors(cid, errors) {
    if (errors) this.errors.set(cid, errors); else this.errors.delete(cid);
    this._emit({ reason: "errors", cids: new Set([cid]), oldBoxes: new Map() });
  }
}
