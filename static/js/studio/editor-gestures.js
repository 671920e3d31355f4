// The editor's pointer gestures on the canvas, mixed into Editor.prototype by editor.js (`this` is the Editor):
// picking the object under the pointer, select/move/resize/rotate, pan, the drag-to-draw shapes (box, rotated
// box, ellipse), the click-drawn ones (point, polyline, polygon, hole, skeleton), brush and eraser strokes, and
// double-click to add a vertex. A finished gesture ends in one store commit (Editor.create/update).

import {
  HANDLE_PX, TYPE_NAMES, boundsOf, boxInside, clamp, clampDelta, dragHandle, handlesOf, hitShape, insertVertex,
  removeVertex, round2,
} from "./geometry.js";

const PICK_PX = 6;
const CLOSE_PX = 9;

export const gestures = {
  _screen(e) {
    const rect = this.renderer.overlayCanvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  },

  _image(e, clampIt = true) {
    const [sx, sy] = this._screen(e);
    const [x, y] = this.renderer.toImage(sx, sy);
    return clampIt ? [round2(clamp(x, 0, this.width)), round2(clamp(y, 0, this.height))] : [x, y];
  },

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
  },

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
  },

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
  },

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
  },

  _startPan(e, sx, sy) {
    this.drag = { mode: "pan", last: [sx, sy] };
    this.renderer.overlayCanvas.setPointerCapture(e.pointerId);
    this.renderer.overlayCanvas.classList.add("panning");
  },

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
  },

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
  },

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
  },

  _cancelDrag() {
    const drag = this.drag;
    this.drag = null;
    if (drag && drag.cid) this.renderer.unlift(drag.cid);
    this.renderer.overlayCanvas.classList.remove("panning");
    this.renderer.requestOverlay();
  },

  _finishRect(drag) {
    const [x0, y0] = drag.start, [x1, y1] = drag.end;
    const left = Math.min(x0, x1), top = Math.min(y0, y1), w = round2(Math.abs(x1 - x0)), h = round2(Math.abs(y1 - y0));
    if (w < 2 || h < 2) { this.onAnnounce(`Drag to draw a ${TYPE_NAMES[drag.type].toLowerCase()}.`); return; }
    if (drag.type === "bbox") this.create("bbox", { x: left, y: top, w, h });
    else if (drag.type === "rotated_bbox") this.create("rotated_bbox", { cx: round2(left + w / 2), cy: round2(top + h / 2), w, h, angle: 0 });
    else this.create("ellipse", { cx: round2(left + w / 2), cy: round2(top + h / 2), rx: round2(w / 2), ry: round2(h / 2), angle: 0 });
  },

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
  },

  _dblclick(e) {
    if (this.drawing) { this._finishDrawing(); return; }
    if (this.tool !== "select" || !this.canEdit) return;
    const obj = this.selection && this.store.get(this.selection);
    if (!obj || this.store.isLocked(obj) || (obj.type !== "polygon" && obj.type !== "polyline")) return;
    const [x, y] = this._image(e);
    const geometry = insertVertex(obj.type, obj.geometry, x, y, PICK_PX / this.renderer.view.s);
    if (geometry) this.update(obj.cid, { geometry }, "Add vertex");
  },
};
