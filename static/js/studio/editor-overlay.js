// What the editor paints on the overlay canvas, mixed into Editor.prototype by editor.js (`this` is the Editor):
// the hovered and selected outlines, the selection's handles, the object lifted by a gesture as it moves, and the
// previews of a shape being drawn or painted (with the brush cursor).

import { HANDLE_PX, clamp, handlesOf, translate } from "./geometry.js";

export const overlay = {
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
  },

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
  },

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
  },

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
  },

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
  },
};
