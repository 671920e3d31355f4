// The annotation editor on the canvas: the current tool and label, the selection and the clipboard, and the
// edits they make (draw, relabel, move, delete, paste), each one undoable store commit. The tools are select/move/
// resize/rotate, box, rotated box, ellipse, point, skeleton, polyline, polygon and hole, brush and eraser.
// Two more files make up the Editor class (their methods are mixed into its prototype, below):
// editor-gestures.js (pointer gestures: pick, drag, pan, draw, paint) and editor-overlay.js (what is painted on
// the overlay: selection, handles, the object lifted while a gesture runs, previews).

import { gestures } from "./editor-gestures.js";
import { overlay } from "./editor-overlay.js";
import { TYPE_NAMES, boundsOf, clamp, clampDelta, pointInRing, translate } from "./geometry.js";
import { MaskEditor, encodeBitmap } from "./mask.js";

export const DRAW_TOOLS = ["bbox", "rotated_bbox", "ellipse", "point", "keypoints", "polyline", "polygon", "mask"];

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
}

Object.assign(Editor.prototype, gestures, overlay);
