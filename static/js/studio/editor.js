// Pointer interaction on the canvas: the tools (select/move/resize/rotate, box, rotated box, ellipse, point,
// skeleton, polyline, polygon and hole, brush and eraser), pan, the selection and the clipboard. Every finished
// gesture becomes one undoable store commit; while a gesture runs, the object is lifted onto the overlay.

import {
  TYPE_NAMES, bboxOf, boxInside, clamp, clampDelta, dragHandle, handlesOf, hitShape, insertVertex, pointInRing, removeVertex,
  round2, translate,
} from "./geometry.js";
import { MaskEditor, encodeBitmap } from "./mask.js";

export const DRAW_TOOLS = ["bbox", "rotated_bbox", "ellipse", "point", "keypoints", "polyline", "polygon", "mask"];
const HANDLE_PX = 5;
const PICK_PX = 6;
const CLOSE_PX = 9;

export class Editor {
  constructor({ renderer, store, recipe, canEdit, recipeVersionId, width, height }) {
    this.renderer = renderer;
    this.store = store;
    this.recipe = recipe;
    this.canEdit = canEdit;
    this.recipeVersionId = recipeVersionId;
    this.width = width;
    this.height = height;
    this.tool = "select";
    this.label = null;
    this.selection = null;
    this.hover = null;
    this.drag = null;
    this.drawing = null;
    this.cursor = null;
    this.spaceDown = false;
    this.brushSize = 20;
    this.clipboard = null;
    this.ready = false; // no editing before the current annotations are loaded
    this.masks = new MaskEditor(width, height);
    this.onSelect = () => {};
    this.onTool = () => {};
    this.onLabel = () => {};
    this.onHint = () => {};
    this.onAnnounce = () => {};
    renderer.overlayPainter = (ctx) => this._paintOverlay(ctx);
    const canvas = renderer.overlayCanvas;
    canvas.addEventListener("pointerdown", (e) => this._down(e));
    canvas.addEventListener("pointermove", (e) => this._move(e));
    canvas.addEventListener("pointerup", (e) => this._up(e));
    canvas.addEventListener("pointercancel", () => this._cancelDrag());
    canvas.addEventListener("dblclick", (e) => this._dblclick(e));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [sx, sy] = this._screen(e);
      const factor = Math.exp(-clamp(e.deltaY, -300, 300) * (e.ctrlKey ? 0.01 : 0.0015));
      renderer.zoomAt(factor, sx, sy);
    }, { passive: false });
    canvas.addEventListener("pointerleave", () => {
      this.cursor = null;
      if (this.hover) { this.hover = null; }
      renderer.requestOverlay();
    });
  }

  // --- State -----------------------------------------------------------------------------------

  setTool(tool) {
    if (tool !== "select" && !this.canEdit) return;
    this._abandonDrawing();
    if (tool === "hole") {
      const obj = this.selection && this.store.get(this.selection);
      if (!obj || obj.type !== "polygon") {
        this.onAnnounce("Select a polygon first: a hole is drawn inside the selected polygon.");
        return;
      }
    }
    if (tool === "eraser") {
      const obj = this.selection && this.store.get(this.selection);
      if (!obj || obj.type !== "mask") {
        this.onAnnounce("Select a mask first: the eraser removes pixels from the selected mask.");
        return;
      }
    }
    const needs = tool === "brush" ? "mask" : tool;
    if (DRAW_TOOLS.includes(needs)) {
      const label = this.recipe.label(this.label);
      if (!label || !label.tools.includes(needs)) {
        const fit = this.recipe.labelsFor(needs)[0];
        if (!fit) { this.onAnnounce(`No label of this recipe may be drawn as ${TYPE_NAMES[needs]}.`); return; }
        this.setLabel(fit.name, { relabel: false });
      }
    }
    this.tool = tool;
    this.renderer.overlayCanvas.dataset.tool = tool;
    this.onTool(tool);
    this._hint();
    this.renderer.requestOverlay();
  }

  setLabel(name, { relabel = true } = {}) {
    const label = this.recipe.label(name);
    if (!label) return;
    this.label = name;
    this.onLabel(name);
    // With the select tool, choosing a label relabels the selection; with a drawing tool it is for the next shape.
    if (relabel && this.canEdit && this.selection && this.tool === "select") this._relabel(this.selection, label);
    const needs = this.tool === "brush" ? "mask" : this.tool;
    if (DRAW_TOOLS.includes(needs) && !label.tools.includes(needs)) {
      this.setTool("select");
      this.onAnnounce(`${name} is not drawn as ${TYPE_NAMES[needs]}: back to the select tool.`);
    }
    this._hint();
  }

  _relabel(cid, label) {
    const obj = this.store.get(cid);
    if (!obj || obj.label === label.name || this.store.isLocked(obj)) return;
    if (!label.tools.includes(obj.type)) {
      this.onAnnounce(`${label.name} may not be a ${TYPE_NAMES[obj.type].toLowerCase()}; the selected object keeps ${obj.label}.`);
      return;
    }
    if (obj.type === "keypoints") {
      const from = this.recipe.label(obj.label), size = (s) => (s && s.skeleton ? s.skeleton.points.length : -1);
      if (size(from) !== size(label)) {
        this.onAnnounce(`${label.name} has another skeleton; the selected object keeps ${obj.label}.`);
        return;
      }
    }
    const attributes = this.recipe.carryAttributes(obj.attributes, label.name, obj.type);
    this.update(cid, { label: label.name, attributes }, `Relabel as ${label.name}`);
    this.onAnnounce(`The selected ${TYPE_NAMES[obj.type].toLowerCase()} is now ${label.name}.`);
  }

  select(cid) {
    if (cid === this.selection) return;
    if (this.tool === "hole" || this.tool === "eraser") this.setTool("select");
    this.selection = cid;
    this.renderer.requestOverlay();
    this.onSelect(cid);
  }

  update(cid, patch, label) {
    const content = this.store.content(cid);
    if (!content) return;
    this.store.commit([[cid, { ...content, ...patch }]], label);
  }

  create(type, geometry, extra = {}) {
    const content = {
      type, label: this.label, attributes: this.recipe.defaults(this.label, type), geometry,
      z_order: this.store.maxZ() + 1, frame: 0, source: "human", review_state: "", confidence: null,
      recipe_version: this.recipeVersionId, ...extra,
    };
    const cid = this.store.newCid();
    this.store.commit([[cid, content]], `Draw ${TYPE_NAMES[type].toLowerCase()}`);
    this.select(cid);
    this.onAnnounce(`${this.label} ${TYPE_NAMES[type].toLowerCase()} added.`);
    return cid;
  }

  deleteSelected() {
    const obj = this.selection && this.store.get(this.selection);
    if (!obj || !this.canEdit) return;
    if (this.store.isLocked(obj)) { this.onAnnounce("This object is locked: unlock it to delete it."); return; }
    const cid = this.selection;
    this.select(null);
    this.store.commit([[cid, null]], `Delete ${TYPE_NAMES[obj.type].toLowerCase()}`);
    this.onAnnounce(`${obj.label} ${TYPE_NAMES[obj.type].toLowerCase()} deleted.`);
  }

  copy() {
    const content = this.selection && this.store.content(this.selection);
    if (!content || content.type === "classification") return;
    this.clipboard = content;
    this.onAnnounce(`Copied ${content.label} ${TYPE_NAMES[content.type].toLowerCase()}.`);
  }

  paste() {
    if (!this.canEdit || !this.clipboard) return;
    const content = this.clipboard;
    let geometry = content.geometry; // a mask is pasted in place: it keeps its pixels
    if (content.type !== "mask") {
      const box = boundsOf(content);
      const [dx, dy] = box ? clampDelta(box, 12, 12, this.width, this.height) : [0, 0];
      geometry = translate(content.type, content.geometry, dx, dy);
    }
    const cid = this.store.newCid();
    this.store.commit([[cid, { ...content, geometry, source: "human", review_state: "", confidence: null,
      z_order: this.store.maxZ() + 1 }]], "Paste");
    this.select(cid);
    this.clipboard = { ...content, geometry };
    this.onAnnounce(`Pasted ${content.label} ${TYPE_NAMES[content.type].toLowerCase()}.`);
  }

  nudge(dx, dy) {
    const obj = this.selection && this.store.get(this.selection);
    if (!obj || !this.canEdit || this.store.isLocked(obj) || !obj._box) return;
    const [cx, cy] = clampDelta(obj._box, dx, dy, this.width, this.height);
    if (!cx && !cy) return;
    this.update(obj.cid, { geometry: this._moved(obj, cx, cy) }, "Move");
  }

  _moved(obj, dx, dy) {
    if (obj.type !== "mask") return translate(obj.type, obj.geometry, dx, dy);
    const m = obj._mask;
    return encodeBitmap({ ...m, x: m.x + Math.round(dx), y: m.y + Math.round(dy) }, this.width, this.height);
  }

  // --- Drawing with clicks (polygon, polyline, hole, skeleton) ---------------------------------

  escape() {
    if (this.drawing) { this._abandonDrawing(); this.onAnnounce("Drawing cancelled."); return; }
    if (this.drag) { this._cancelDrag(); return; }
    if (this.tool !== "select") { this.setTool("select"); return; }
    this.select(null);
  }

  enter() {
    if (this.drawing) this._finishDrawing();
  }

  backspace() {
    if (this.drawing && this.drawing.points.length) {
      this.drawing.points.pop();
      if (!this.drawing.points.length && this.drawing.type !== "keypoints") this.drawing = null;
      this._hint();
      this.renderer.requestOverlay();
      return true;
    }
    return false;
  }

  skipKeypoint() {
    if (this.tool !== "keypoints") return;
    this._startDrawing("keypoints");
    this.drawing.points.push([0, 0, 0]);
    this._afterKeypoint();
  }

  _startDrawing(type) {
    if (!this.drawing) this.drawing = { type, points: [], label: this.label, target: this.selection };
  }

  _abandonDrawing() {
    if (this.drawing) {
      this.drawing = null;
      this._hint();
      this.renderer.requestOverlay();
    }
  }

  _afterKeypoint() {
    const skeleton = this.recipe.label(this.drawing.label).skeleton;
    if (this.drawing.points.length >= skeleton.points.length) this._finishDrawing();
    else { this._hint(); this.renderer.requestOverlay(); }
  }

  _finishDrawing() {
    const d = this.drawing;
    if (!d) return;
    if (d.type === "keypoints") {
      const skeleton = this.recipe.label(d.label).skeleton;
      const points = d.points.slice();
      while (points.length < skeleton.points.length) points.push([0, 0, 0]);
      this.drawing = null;
      if (!points.some((p) => p[2] > 0)) { this.onAnnounce("Place at least one point of the skeleton."); this._hint(); return; }
      this.create("keypoints", { points });
    } else if (d.type === "polyline") {
      if (d.points.length < 2) { this.onAnnounce("A polyline needs at least 2 points."); return; }
      this.drawing = null;
      this.create("polyline", { points: d.points });
    } else if (d.type === "polygon") {
      if (d.points.length < 3) { this.onAnnounce("A polygon needs at least 3 points."); return; }
      this.drawing = null;
      this.create("polygon", { exterior: d.points, holes: [] });
    } else if (d.type === "hole") {
      if (d.points.length < 3) { this.onAnnounce("A hole needs at least 3 points."); return; }
      const target = this.store.get(d.target);
      this.drawing = null;
      if (!target || target.type !== "polygon") { this.onAnnounce("The polygon for this hole is gone."); return; }
      if (!d.points.every((p) => pointInRing(target.geometry.exterior, p[0], p[1]))) {
        this.onAnnounce("A hole must lie inside the polygon's outline: draw it again inside.");
        this._hint();
        this.renderer.requestOverlay();
        return;
      }
      this.update(target.cid, { geometry: { exterior: target.geometry.exterior,
        holes: [...(target.geometry.holes || []), d.points] } }, "Add hole");
      this.onAnnounce(`Hole added to ${target.label} polygon.`);
    }
    this._hint();
    this.renderer.requestOverlay();
  }

  _hint() {
    const d = this.drawing;
    let text;
    if (!this.canEdit) text = "Read only: select objects to see their attributes; drag to pan, wheel to zoom.";
    else if (this.tool === "select") text = "Click an object to select it; drag to move it, drag its handles to resize or rotate. Drag empty space to pan.";
    else if (this.tool === "keypoints") {
      const skeleton = (this.recipe.label(this.label) || {}).skeleton;
      const k = d ? d.points.length : 0;
      text = skeleton ? `Click to place ${skeleton.points[k]} (${k + 1} of ${skeleton.points.length}). Shift+click places it as hidden; Shift+N skips it (absent).`
        : "This label has no skeleton.";
    } else if (this.tool === "polygon" || this.tool === "hole") {
      text = `${this.tool === "hole" ? "Click the hole's corners inside the selected polygon" : "Click to add corners"}; click the first corner, double-click or press Enter to close; Backspace removes the last; Escape cancels.`;
    } else if (this.tool === "polyline") text = "Click to add points; double-click or Enter to finish; Backspace removes the last; Escape cancels.";
    else if (this.tool === "point") text = "Click to place a point.";
    else if (this.tool === "brush") text = "Paint to add to the selected mask, or to start a new one. [ and ] change the brush size.";
    else if (this.tool === "eraser") text = "Paint to erase from the selected mask. [ and ] change the brush size.";
    else text = `Drag to draw a ${TYPE_NAMES[this.tool].toLowerCase()}.`;
    this.onHint(text);
  }

  // --- Pointer ---------------------------------------------------------------------------------

  _screen(e) {
    const rect = this.renderer.overlayCanvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }

  _image(e, clampIt = true) {
    const [sx, sy] = this._screen(e);
    const [x, y] = this.renderer.toImage(sx, sy);
    return clampIt ? [round2(clamp(x, 0, this.width)), round2(clamp(y, 0, this.height))] : [x, y];
  }

  /** The topmost object under (x, y): highest z-order, then the smallest. Hidden and locked ones are skipped. */
  pick(x, y) {
    const tol = PICK_PX / this.renderer.view.s;
    let best = null, bestZ = -Infinity, bestArea = Infinity;
    for (const cid of this.store.index.query([x - tol, y - tol, x + tol, y + tol])) {
      const obj = this.store.get(cid);
      if (!obj || !this.renderer.isDrawn(obj) && !this.renderer.lifted.has(cid) || this.store.isLocked(obj)) continue;
      if (this.store.isHidden(obj)) continue;
      const b = obj._box;
      if (x < b[0] - tol || x > b[2] + tol || y < b[1] - tol || y > b[3] + tol) continue;
      let hit;
      if (obj.type === "mask") {
        const m = obj._mask, px = Math.floor(x) - m.x, py = Math.floor(y) - m.y;
        hit = px >= 0 && py >= 0 && px < m.w && py < m.h && m.data[py * m.w + px] === 1;
      } else {
        const label = this.recipe.label(obj.label);
        hit = hitShape(obj.type, obj.geometry, x, y, tol, label && label.skeleton);
      }
      if (!hit) continue;
      const area = (b[2] - b[0]) * (b[3] - b[1]);
      if (obj.z_order > bestZ || (obj.z_order === bestZ && area < bestArea)) {
        best = cid; bestZ = obj.z_order; bestArea = area;
      }
    }
    return best;
  }

  _handleAt(sx, sy) {
    const obj = this.selection && this.store.get(this.selection);
    if (!obj || !this.canEdit || this.store.isLocked(obj) || obj.type === "mask" || obj.type === "classification") return null;
    const s = this.renderer.view.s;
    let best = null, bestD = HANDLE_PX + 3;
    for (const h of handlesOf(obj.type, obj.geometry, s)) {
      const [hx, hy] = this.renderer.toScreen(h.x, h.y);
      const d = Math.hypot(hx - sx, hy - sy);
      if (d <= bestD) { best = h; bestD = d; }
    }
    return best;
  }

  _down(e) {
    this.renderer.overlayCanvas.focus({ preventScroll: true });
    if (!this.ready) return;
    const [sx, sy] = this._screen(e);
    if (e.button === 1 || (e.button === 0 && this.spaceDown)) {
      e.preventDefault();
      this._startPan(e, sx, sy);
      return;
    }
    if (e.button === 2 && this.drawing) { this._finishDrawing(); return; }
    if (e.button !== 0) return;
    const [x, y] = this._image(e);
    const tool = this.tool;
    if (tool === "select") return this._downSelect(e, sx, sy, x, y);
    if (!this.canEdit) return;
    if (["bbox", "rotated_bbox", "ellipse"].includes(tool)) {
      this.drag = { mode: "rect", type: tool, start: [x, y], end: [x, y] };
      this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
    } else if (tool === "point") {
      this.create("point", { x, y });
    } else if (tool === "polygon" || tool === "polyline" || tool === "hole") {
      this._startDrawing(tool);
      const pts = this.drawing.points;
      const last = pts[pts.length - 1];
      if (last && Math.hypot(...this.renderer.toScreen(last[0], last[1]).map((v, i) => v - [sx, sy][i])) < 3) return;
      if (tool !== "polyline" && pts.length >= 3) {
        const [fx, fy] = this.renderer.toScreen(pts[0][0], pts[0][1]);
        if (Math.hypot(fx - sx, fy - sy) <= CLOSE_PX) { this._finishDrawing(); return; }
      }
      pts.push([x, y]);
      this._hint();
      this.renderer.requestOverlay();
    } else if (tool === "keypoints") {
      this._startDrawing("keypoints");
      this.drawing.points.push([x, y, e.shiftKey ? 1 : 2]);
      this._afterKeypoint();
    } else if (tool === "brush" || tool === "eraser") {
      this._startBrush(e, x, y);
    }
  }

  _downSelect(e, sx, sy, x, y) {
    const handle = this._handleAt(sx, sy);
    if (handle) {
      const obj = this.store.get(this.selection);
      if (e.altKey && handle.kind === "vertex") {
        const geometry = removeVertex(obj.type, obj.geometry, handle.key);
        if (geometry) this.update(obj.cid, { geometry }, "Remove vertex");
        else this.onAnnounce("That shape cannot lose another vertex.");
        return;
      }
      this.drag = { mode: "handle", cid: obj.cid, key: handle.key, g0: obj.geometry, geometry: obj.geometry };
      this.renderer.lift(obj.cid);
      this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
      return;
    }
    const cid = this.pick(x, y);
    this.select(cid);
    if (cid && this.canEdit) {
      const obj = this.store.get(cid);
      this.drag = { mode: "move", cid, start: this._image(e, false), box0: obj._box, g0: obj.geometry, dx: 0, dy: 0, moved: false };
      this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
    } else if (!cid) {
      this._startPan(e, sx, sy);
    }
  }

  _startPan(e, sx, sy) {
    this.drag = { mode: "pan", last: [sx, sy] };
    this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
    this.renderer.overlayCanvas.classList.add("panning");
  }

  _startBrush(e, x, y) {
    const erase = this.tool === "eraser";
    const selected = this.selection && this.store.get(this.selection);
    const target = selected && selected.type === "mask" && !this.store.isLocked(selected) ? selected : null;
    if (erase && !target) { this.onAnnounce("Select a mask to erase from."); return; }
    const labelName = target ? target.label : this.label;
    const label = this.recipe.label(labelName);
    if (!label || (!target && !label.tools.includes("mask"))) { this.onAnnounce(`${labelName} is not drawn as a mask.`); return; }
    this.masks.begin(target && target._mask ? target._mask : null, label.color, erase, this.brushSize);
    this.masks.paintTo(x, y);
    this.drag = { mode: "brush", cid: target ? target.cid : null, label: labelName };
    if (target) this.renderer.lift(target.cid);
    this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
    this.renderer.requestOverlay();
  }

  _move(e) {
    const [sx, sy] = this._screen(e);
    const [x, y] = this._image(e, false);
    this.cursor = [x, y];
    const drag = this.drag;
    if (!drag) {
      if (this.tool === "select") {
        const handle = this._handleAt(sx, sy);
        const over = handle ? this.selection : this.pick(x, y);
        this.renderer.overlayCanvas.dataset.over = handle ? handle.kind : over ? "object" : "";
        if (over !== this.hover) { this.hover = over; this.renderer.requestOverlay(); }
      } else {
        this.renderer.requestOverlay();
      }
      return;
    }
    if (drag.mode === "pan") {
      this.renderer.panBy(sx - drag.last[0], sy - drag.last[1]);
      drag.last = [sx, sy];
    } else if (drag.mode === "move") {
      const obj = this.store.get(drag.cid);
      if (this.store.isLocked(obj)) return;
      const [dx, dy] = clampDelta(drag.box0, x - drag.start[0], y - drag.start[1], this.width, this.height);
      if (!drag.moved) {
        const [s0x, s0y] = this.renderer.toScreen(...drag.start);
        if (Math.hypot(sx - s0x, sy - s0y) < 3) return;
        drag.moved = true;
        this.renderer.lift(drag.cid);
      }
      drag.dx = obj.type === "mask" ? Math.round(dx) : round2(dx);
      drag.dy = obj.type === "mask" ? Math.round(dy) : round2(dy);
      this.renderer.requestOverlay();
    } else if (drag.mode === "handle") {
      const obj = this.store.get(drag.cid);
      drag.geometry = dragHandle(obj.type, drag.g0, drag.key, x, y, this.width, this.height, e.shiftKey);
      this.renderer.requestOverlay();
    } else if (drag.mode === "rect") {
      drag.end = [round2(clamp(x, 0, this.width)), round2(clamp(y, 0, this.height))];
      this.renderer.requestOverlay();
    } else if (drag.mode === "brush") {
      this.masks.paintTo(clamp(x, 0, this.width), clamp(y, 0, this.height));
      this.renderer.requestOverlay();
    }
  }

  _up(e) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    try { this.renderer.overlayCanvas.releasePointerCapture(e.pointerId); } catch (_) { /* already released */ }
    this.renderer.overlayCanvas.classList.remove("panning");
    if (drag.mode === "move") {
      if (drag.moved && (drag.dx || drag.dy)) {
        const obj = this.store.get(drag.cid);
        this.update(drag.cid, { geometry: this._moved(obj, drag.dx, drag.dy) }, "Move");
      }
      this.renderer.unlift(drag.cid);
    } else if (drag.mode === "handle") {
      const obj = this.store.get(drag.cid);
      const box = boundsOf({ type: obj.type, geometry: drag.geometry });
      if (drag.geometry !== drag.g0 && box && boxInside(box, this.width, this.height)) {
        this.update(drag.cid, { geometry: drag.geometry }, drag.key === "rot" ? "Rotate" : "Resize");
      } else if (drag.geometry !== drag.g0) {
        this.onAnnounce("The shape would leave the image: the change was not applied.");
      }
      this.renderer.unlift(drag.cid);
    } else if (drag.mode === "rect") {
      this._finishRect(drag);
    } else if (drag.mode === "brush") {
      this._finishBrush(drag);
    }
    this.renderer.requestOverlay();
  }

  _cancelDrag() {
    const drag = this.drag;
    this.drag = null;
    if (drag && drag.cid) this.renderer.unlift(drag.cid);
    this.renderer.overlayCanvas.classList.remove("panning");
    this.renderer.requestOverlay();
  }

  _finishRect(drag) {
    const [x0, y0] = drag.start, [x1, y1] = drag.end;
    const left = Math.min(x0, x1), top = Math.min(y0, y1), w = round2(Math.abs(x1 - x0)), h = round2(Math.abs(y1 - y0));
    if (w < 2 || h < 2) { this.onAnnounce(`Drag to draw a ${TYPE_NAMES[drag.type].toLowerCase()}.`); return; }
    if (drag.type === "bbox") this.create("bbox", { x: left, y: top, w, h });
    else if (drag.type === "rotated_bbox") this.create("rotated_bbox", { cx: round2(left + w / 2), cy: round2(top + h / 2), w, h, angle: 0 });
    else this.create("ellipse", { cx: round2(left + w / 2), cy: round2(top + h / 2), rx: round2(w / 2), ry: round2(h / 2), angle: 0 });
  }

  _finishBrush(drag) {
    const geometry = this.masks.finish();
    if (drag.cid) {
      this.renderer.unlift(drag.cid);
      if (geometry) this.update(drag.cid, { geometry }, this.tool === "eraser" ? "Erase" : "Paint");
      else {
        this.select(null);
        this.store.commit([[drag.cid, null]], "Erase mask");
        this.onAnnounce("The mask was erased completely and removed.");
      }
    } else if (geometry) {
      const previous = this.label;
      this.label = drag.label;
      this.create("mask", geometry);
      this.label = previous;
    }
  }

  _dblclick(e) {
    if (this.drawing) { this._finishDrawing(); return; }
    if (this.tool !== "select" || !this.canEdit) return;
    const obj = this.selection && this.store.get(this.selection);
    if (!obj || this.store.isLocked(obj) || (obj.type !== "polygon" && obj.type !== "polyline")) return;
    const [x, y] = this._image(e);
    const geometry = insertVertex(obj.type, obj.geometry, x, y, PICK_PX / this.renderer.view.s);
    if (geometry) this.update(obj.cid, { geometry }, "Add vertex");
  }

  // --- Overlay ---------------------------------------------------------------------------------

  _paintOverlay(ctx) {
    const r = this.renderer, s = r.view.s;
    if (this.hover && this.hover !== this.selection && !this.drag && !this.drawing) {
      const obj = this.store.get(this.hover);
      if (obj && r.isDrawn(obj)) this._outline(ctx, obj, "#ffffff", 1);
    }
    const drag = this.drag;
    const selected = this.selection && this.store.get(this.selection);
    if (selected && selected.type !== "classification" && !this.store.isHidden(selected)) {
      let shown = selected;
      if (drag && drag.mode === "move" && drag.cid === selected.cid && drag.moved) {
        shown = { ...selected, geometry: selected.type === "mask" ? selected.geometry : translate(selected.type, drag.g0, drag.dx, drag.dy),
          _mask: selected._mask ? { ...selected._mask, x: selected._mask.x + drag.dx, y: selected._mask.y + drag.dy } : null };
      } else if (drag && drag.mode === "handle" && drag.cid === selected.cid) {
        shown = { ...selected, geometry: drag.geometry };
      }
      if (!(drag && drag.mode === "brush" && drag.cid === selected.cid)) {
        if (r.lifted.has(selected.cid)) r.drawSingle(ctx, shown, false);
        this._outline(ctx, shown, "#ffffff", 2);
        if (this.canEdit && !this.store.isLocked(selected) && !(drag && drag.mode === "move")) this._handles(ctx, shown);
      }
    }
    if (drag && drag.mode === "rect") this._rectPreview(ctx, drag);
    if (drag && drag.mode === "brush") {
      const region = this.masks.pixelRegion();
      if (region) {
        ctx.globalAlpha = 0.5;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(this.masks.canvas, region.x, region.y, region.w, region.h, region.x, region.y, region.w, region.h);
        ctx.globalAlpha = 1;
      }
    }
    if (this.drawing) this._drawingPreview(ctx);
    if ((this.tool === "brush" || this.tool === "eraser") && this.cursor) {
      ctx.beginPath();
      ctx.setLineDash([]);
      ctx.lineWidth = 1.5 / s;
      ctx.strokeStyle = this.tool === "eraser" ? "#ffffff" : "#111111";
      ctx.arc(this.cursor[0], this.cursor[1], this.brushSize / 2, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  _outline(ctx, obj, color, width) {
    const s = this.renderer.view.s;
    ctx.save();
    ctx.setLineDash(obj.type === "mask" ? [4 / s, 3 / s] : []);
    ctx.lineWidth = (width + 2) / s;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.55)";
    ctx.beginPath();
    if (obj.type === "mask") {
      const m = obj._mask;
      if (m) ctx.rect(m.x, m.y, m.w, m.h);
    } else if (!this.renderer._traceClosed(ctx, obj.type, obj.geometry)) {
      this.renderer._traceOpen(ctx, obj.type, obj.geometry, obj.label);
      if (obj.type === "point") ctx.arc(obj.geometry.x, obj.geometry.y, 6 / s, 0, Math.PI * 2);
      if (obj.type === "keypoints") {
        for (const p of obj.geometry.points) if (p[2] > 0) { ctx.moveTo(p[0] + 6 / s, p[1]); ctx.arc(p[0], p[1], 6 / s, 0, Math.PI * 2); }
      }
    }
    ctx.stroke();
    ctx.lineWidth = width / s;
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.restore();
  }

  _handles(ctx, obj) {
    const s = this.renderer.view.s, size = HANDLE_PX / s;
    const handles = handlesOf(obj.type, obj.geometry, s);
    ctx.save();
    ctx.setLineDash([]);
    ctx.lineWidth = 1 / s;
    const rot = handles.find((h) => h.key === "rot");
    if (rot) {
      const n = handles.find((h) => h.key === "n");
      ctx.beginPath();
      ctx.moveTo(n.x, n.y);
      ctx.lineTo(rot.x, rot.y);
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
    }
    ctx.beginPath();
    for (const h of handles) {
      if (h.kind === "rotate") { ctx.moveTo(h.x + size, h.y); ctx.arc(h.x, h.y, size, 0, Math.PI * 2); } else ctx.rect(h.x - size, h.y - size, size * 2, size * 2);
    }
    ctx.fillStyle = "#ffffff";
    ctx.fill();
    ctx.strokeStyle = "#111111";
    ctx.stroke();
    ctx.restore();
  }

  _rectPreview(ctx, drag) {
    const s = this.renderer.view.s;
    const [x0, y0] = drag.start, [x1, y1] = drag.end;
    const label = this.recipe.label(this.label);
    ctx.save();
    ctx.setLineDash([5 / s, 3 / s]);
    ctx.lineWidth = 1.5 / s;
    ctx.strokeStyle = label ? label.color : "#ffffff";
    ctx.beginPath();
    if (drag.type === "ellipse") ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, 0, 0, Math.PI * 2);
    else ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    ctx.stroke();
    ctx.restore();
  }

  _drawingPreview(ctx) {
    const d = this.drawing, s = this.renderer.view.s;
    const label = this.recipe.label(d.label);
    const color = label ? label.color : "#ffffff";
    ctx.save();
    ctx.setLineDash([]);
    ctx.lineWidth = 1.5 / s;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    if (d.type === "keypoints") {
      const edges = (label.skeleton && label.skeleton.edges) || [];
      ctx.beginPath();
      for (const [a, b] of edges) {
        const pa = d.points[a], pb = d.points[b];
        if (pa && pb && pa[2] > 0 && pb[2] > 0) { ctx.moveTo(pa[0], pa[1]); ctx.lineTo(pb[0], pb[1]); }
      }
      ctx.stroke();
      ctx.beginPath();
      for (const p of d.points) if (p[2] > 0) { ctx.moveTo(p[0] + 4 / s, p[1]); ctx.arc(p[0], p[1], 4 / s, 0, Math.PI * 2); }
      ctx.fill();
      if (this.cursor && label.skeleton) {
        const name = label.skeleton.points[d.points.length];
        if (name) {
          ctx.setTransform(1, 0, 0, 1, 0, 0);
          const [cx, cy] = this.renderer.toScreen(...this.cursor);
          const dpr = this.renderer.dpr;
          ctx.font = `${12 * dpr}px system-ui, sans-serif`;
          ctx.lineWidth = 3 * dpr;
          ctx.strokeStyle = "#000000";
          ctx.strokeText(name, (cx + 10) * dpr, (cy - 8) * dpr);
          ctx.fillStyle = "#ffffff";
          ctx.fillText(name, (cx + 10) * dpr, (cy - 8) * dpr);
        }
      }
    } else {
      const pts = d.points;
      ctx.beginPath();
      if (pts.length) {
        ctx.moveTo(pts[0][0], pts[0][1]);
        for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
        if (this.cursor) ctx.lineTo(clamp(this.cursor[0], 0, this.width), clamp(this.cursor[1], 0, this.height));
      }
      ctx.stroke();
      ctx.beginPath();
      for (const p of pts) ctx.rect(p[0] - 3 / s, p[1] - 3 / s, 6 / s, 6 / s);
      ctx.fillStyle = "#ffffff";
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
  }
}

function boundsOf(content) {
  return content.geometry && content.type !== "mask" ? bboxOf(content.type, content.geometry) : null;
}
