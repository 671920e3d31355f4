// The canvas renderer: three stacked canvases.
//   base     the image, redrawn only when the view changes (zoom, pan, resize);
//   shapes   every visible object, batched by label colour (one path per colour), redrawn in full on a view
//            change and otherwise only inside the rectangle that changed (the spatial index says what to draw);
//   overlay  the selection, its handles, the object being dragged or drawn: cheap, redrawn every pointer frame.
// An object being dragged is "lifted": left out of the shapes layer and drawn on the overlay, so a drag frame
// costs one shape, whatever the number of objects. Timings go to window.__studioPerf for bench/studio_render.py.

const MIN_SCALE = 0.01;
const MAX_SCALE = 40;
const PERF_KEEP = 5000;
const BATCH = 32;

function hexToRgba(hex, alpha) {
  const r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function intersects(a, b) {
  return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];
}

export function perfLog() {
  if (!window.__studioPerf) window.__studioPerf = { renders: [], firstFullRender: null, ready: false };
  return window.__studioPerf;
}

export class Renderer {
  constructor({ stage, image, store, width, height }) {
    this.stage = stage;
    this.image = image;
    this.store = store;
    this.width = width;
    this.height = height;
    this.view = { s: 1, tx: 0, ty: 0 };
    this.dpr = window.devicePixelRatio || 1;
    this.lifted = new Set();
    this.styles = new Map();
    this.pendingFull = false;
    this.pendingRect = null;
    this.pendingOverlay = false;
    this.frameRequested = false;
    this.overlayPainter = null;
    this.onView = null;
    this.perf = perfLog();
    this.layers = {};
    for (const name of ["base", "shapes", "overlay"]) {
      const canvas = document.createElement("canvas");
      canvas.className = `stage-layer stage-${name}`;
      if (name !== "overlay") canvas.setAttribute("aria-hidden", "true");
      else {
        canvas.tabIndex = 0; // the arrow keys nudge the selection while the image has the focus
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-describedby", "tool-hint");
      }
      stage.appendChild(canvas);
      this.layers[name] = { canvas, ctx: canvas.getContext("2d") };
    }
    this.resize();
    this.resizeObserver = new ResizeObserver(() => { this.resize(); this.requestFull(); });
    this.resizeObserver.observe(stage);
  }

  /** Takes the canvases off the stage (queue mode swaps in the next unit's item without a page load). */
  destroy() {
    this.resizeObserver.disconnect();
    this.destroyed = true;
    for (const { canvas } of Object.values(this.layers)) canvas.remove();
  }

  get overlayCanvas() {
    return this.layers.overlay.canvas;
  }

  resize() {
    const rect = this.stage.getBoundingClientRect();
    this.cssWidth = Math.max(1, Math.round(rect.width));
    this.cssHeight = Math.max(1, Math.round(rect.height));
    for (const { canvas } of Object.values(this.layers)) {
      canvas.width = Math.round(this.cssWidth * this.dpr);
      canvas.height = Math.round(this.cssHeight * this.dpr);
      canvas.style.width = `${this.cssWidth}px`;
      canvas.style.height = `${this.cssHeight}px`;
    }
  }

  // --- View ------------------------------------------------------------------------------------

  toImage(sx, sy) {
    return [(sx - this.view.tx) / this.view.s, (sy - this.view.ty) / this.view.s];
  }

  toScreen(x, y) {
    return [x * this.view.s + this.view.tx, y * this.view.s + this.view.ty];
  }

  fit() {
    const s = Math.min(this.cssWidth / this.width, this.cssHeight / this.height) * 0.98;
    this.view = { s, tx: (this.cssWidth - this.width * s) / 2, ty: (this.cssHeight - this.height * s) / 2 };
    this._viewChanged();
  }

  zoomAt(factor, sx, sy) {
    const s = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.view.s * factor));
    const k = s / this.view.s;
    this.view = { s, tx: sx - (sx - this.view.tx) * k, ty: sy - (sy - this.view.ty) * k };
    this._viewChanged();
  }

  panBy(dx, dy) {
    this.view = { ...this.view, tx: this.view.tx + dx, ty: this.view.ty + dy };
    this._viewChanged();
  }

  _viewChanged() {
    this.requestFull();
    if (this.onView) this.onView(this.view);
  }

  visibleRect() {
    const [x0, y0] = this.toImage(0, 0);
    const [x1, y1] = this.toImage(this.cssWidth, this.cssHeight);
    return [x0, y0, x1, y1];
  }

  // --- Scheduling ------------------------------------------------------------------------------

  _schedule() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this._frame());
  }

  requestFull() {
    this.pendingFull = true;
    this.pendingOverlay = true;
    this._schedule();
  }

  /** Redraws the shapes layer inside an image rectangle (an object's old or new box). */
  invalidate(box) {
    if (!box) return;
    const p = this.pendingRect;
    this.pendingRect = p ? [Math.min(p[0], box[0]), Math.min(p[1], box[1]), Math.max(p[2], box[2]), Math.max(p[3], box[3])]
      : box.slice();
    this.pendingOverlay = true;
    this._schedule();
  }

  requestOverlay() {
    this.pendingOverlay = true;
    this._schedule();
  }

  lift(cid) {
    if (this.lifted.has(cid)) return;
    this.lifted.add(cid);
    const obj = this.store.get(cid);
    if (obj) this.invalidate(obj._box);
  }

  unlift(cid) {
    if (!this.lifted.delete(cid)) return;
    const obj = this.store.get(cid);
    if (obj) this.invalidate(obj._box);
  }

  _record(kind, ms, count) {
    const log = this.perf.renders;
    log.push({ kind, ms, count, at: performance.now() });
    if (log.length > PERF_KEEP) log.splice(0, log.length - PERF_KEEP);
  }

  _frame() {
    this.frameRequested = false;
    if (this.pendingFull) {
      const t0 = performance.now();
      this._drawBase();
      const count = this._drawShapesFull();
      const ms = performance.now() - t0;
      this._record("full", ms, count);
      if (this.perf.firstFullRender === null && this.store.objects.size && this.perf.ready) {
        this.perf.firstFullRender = performance.now();
        this.perf.firstFullRenderMs = ms;
      }
    } else if (this.pendingRect) {
      const t0 = performance.now();
      const count = this._drawShapesRect(this.pendingRect);
      this._record("partial", performance.now() - t0, count);
    }
    if (this.pendingOverlay || this.pendingFull || this.pendingRect) {
      const t0 = performance.now();
      this._drawOverlay();
      this._record("overlay", performance.now() - t0, 1);
    }
    this.pendingFull = false;
    this.pendingRect = null;
    this.pendingOverlay = false;
  }

  // --- Drawing ---------------------------------------------------------------------------------

  _imageTransform(ctx) {
    const { s, tx, ty } = this.view, d = this.dpr;
    ctx.setTransform(d * s, 0, 0, d * s, d * tx, d * ty);
  }

  _clear(ctx) {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  }

  _drawBase() {
    const { ctx } = this.layers.base;
    this._clear(ctx);
    this._imageTransform(ctx);
    ctx.imageSmoothingEnabled = this.view.s < 2;
    ctx.drawImage(this.image, 0, 0, this.width, this.height);
  }

  _drawShapesFull() {
    const { ctx } = this.layers.shapes;
    this._clear(ctx);
    this._imageTransform(ctx);
    const rect = this.visibleRect();
    const whole = rect[0] <= 0 && rect[1] <= 0 && rect[2] >= this.width && rect[3] >= this.height;
    const cids = whole ? this.store.objects.keys() : this.store.index.query(rect);
    return this._drawObjects(ctx, cids, whole ? null : rect);
  }

  _drawShapesRect(box) {
    const { ctx } = this.layers.shapes;
    const pad = 10 / this.view.s;
    const rect = [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad];
    const [sx0, sy0] = this.toScreen(rect[0], rect[1]);
    const [sx1, sy1] = this.toScreen(rect[2], rect[3]);
    const d = this.dpr;
    const x = Math.floor(sx0 * d), y = Math.floor(sy0 * d);
    const w = Math.ceil(sx1 * d) - x, h = Math.ceil(sy1 * d) - y;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    ctx.clearRect(x, y, w, h);
    this._imageTransform(ctx);
    const count = this._drawObjects(ctx, this.store.index.query(rect), rect);
    ctx.restore();
    return count;
  }

  styleOf(labelName) {
    let style = this.styles.get(labelName);
    if (!style) {
      const label = this.store.labels[labelName];
      const color = label ? label.color : "#888888";
      style = { color, fill: hexToRgba(color, 0.18), fillProposed: hexToRgba(color, 0.08) };
      this.styles.set(labelName, style);
    }
    return style;
  }

  isDrawn(obj) {
    return obj.type !== "classification" && !this.lifted.has(obj.cid) && !this.store.isHidden(obj) && (obj.frame || 0) === 0;
  }

  /** Draws objects batched by (label, proposed): one fill and one stroke per batch. Returns how many. */
  _drawObjects(ctx, cids, clip) {
    const groups = new Map();
    let count = 0;
    for (const cid of cids) {
      const obj = this.store.get(cid);
      if (!obj || !obj._box || !this.isDrawn(obj)) continue;
      if (clip && !intersects(obj._box, clip)) continue;
      const key = obj.review_state === "proposed" ? `p\u0000${obj.label}` : obj.label;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { label: obj.label, proposed: obj.review_state === "proposed", list: [] }));
      group.list.push(obj);
      count++;
    }
    for (const group of groups.values()) this._drawGroup(ctx, group.list, this.styleOf(group.label), group.proposed);
    return count;
  }

  _drawGroup(ctx, list, style, proposed, highlight = false) {
    const s = this.view.s;
    // One device pixel: Skia draws it as a hairline, several times faster than a wider antialiased stroke.
    ctx.lineWidth = (highlight ? 2.5 : 1) / s;
    ctx.setLineDash(proposed ? [6 / s, 4 / s] : []);
    ctx.strokeStyle = style.color;
    ctx.fillStyle = proposed ? style.fillProposed : style.fill;
    const masks = list.filter((o) => o.type === "mask");
    if (masks.length) {
      const smoothing = ctx.imageSmoothingEnabled;
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = proposed ? 0.3 : 0.45;
      for (const obj of masks) if (obj._mask) ctx.drawImage(obj._mask.canvas, obj._mask.x, obj._mask.y);
      ctx.globalAlpha = 1;
      ctx.imageSmoothingEnabled = smoothing;
    }
    // Paths of a few dozen shapes: one path per shape costs a call each, one path for thousands makes the
    // rasteriser sort every edge together; BATCH in between is the fastest (bench/studio_render.py).
    let n = 0;
    ctx.beginPath();
    for (const obj of list) {
      if (this._traceClosed(ctx, obj.type, obj.geometry) && ++n === BATCH) {
        ctx.fill("nonzero");
        ctx.stroke();
        ctx.beginPath();
        n = 0;
      }
    }
    if (n) { ctx.fill("nonzero"); ctx.stroke(); }
    n = 0;
    ctx.beginPath();
    for (const obj of list) {
      if (this._traceOpen(ctx, obj.type, obj.geometry, obj.label) && ++n === BATCH) {
        ctx.stroke();
        ctx.beginPath();
        n = 0;
      }
    }
    if (n) ctx.stroke();
    const r = (highlight ? 5 : 4) / s;
    const pointed = list.filter((o) => o.type === "point" || o.type === "keypoints");
    if (!pointed.length) return;
    ctx.beginPath();
    for (const obj of pointed) {
      if (obj.type === "point") { ctx.moveTo(obj.geometry.x + r, obj.geometry.y); ctx.arc(obj.geometry.x, obj.geometry.y, r, 0, Math.PI * 2); }
      else {
        for (const p of obj.geometry.points) {
          if (p[2] > 0) { ctx.moveTo(p[0] + r, p[1]); ctx.arc(p[0], p[1], r, 0, Math.PI * 2); }
        }
      }
    }
    ctx.fillStyle = style.color;
    ctx.fill();
    ctx.setLineDash([]);
    ctx.lineWidth = 1 / s;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    this._hiddenKeypoints(ctx, pointed, r);
  }

  _hiddenKeypoints(ctx, list, r) {
    // A hidden (occluded) keypoint is drawn hollow: a white centre inside the label's colour.
    ctx.beginPath();
    let any = false;
    for (const obj of list) {
      if (obj.type !== "keypoints") continue;
      for (const p of obj.geometry.points) if (p[2] === 1) { ctx.moveTo(p[0] + r / 2, p[1]); ctx.arc(p[0], p[1], r / 2, 0, Math.PI * 2); any = true; }
    }
    if (any) { ctx.fillStyle = "#ffffff"; ctx.fill(); }
  }

  _traceRing(ctx, ring, reverse) {
    const n = ring.length;
    if (!n) return;
    if (reverse) {
      ctx.moveTo(ring[n - 1][0], ring[n - 1][1]);
      for (let i = n - 2; i >= 0; i--) ctx.lineTo(ring[i][0], ring[i][1]);
    } else {
      ctx.moveTo(ring[0][0], ring[0][1]);
      for (let i = 1; i < n; i++) ctx.lineTo(ring[i][0], ring[i][1]);
    }
    ctx.closePath();
  }

  _traceClosed(ctx, type, g) {
    switch (type) {
      case "bbox":
        ctx.rect(g.x, g.y, g.w, g.h);
        return true;
      case "rotated_bbox": {
        const rad = ((g.angle || 0) * Math.PI) / 180, cos = Math.cos(rad), sin = Math.sin(rad);
        const hw = g.w / 2, hh = g.h / 2;
        ctx.moveTo(g.cx - hw * cos + hh * sin, g.cy - hw * sin - hh * cos);
        ctx.lineTo(g.cx + hw * cos + hh * sin, g.cy + hw * sin - hh * cos);
        ctx.lineTo(g.cx + hw * cos - hh * sin, g.cy + hw * sin + hh * cos);
        ctx.lineTo(g.cx - hw * cos - hh * sin, g.cy - hw * sin + hh * cos);
        ctx.closePath();
        return true;
      }
      case "ellipse": {
        const rad = ((g.angle || 0) * Math.PI) / 180;
        ctx.moveTo(g.cx + g.rx * Math.cos(rad), g.cy + g.rx * Math.sin(rad));
        ctx.ellipse(g.cx, g.cy, g.rx, g.ry, rad, 0, Math.PI * 2);
        ctx.closePath();
        return true;
      }
      case "polygon": {
        // Holes wind against the exterior, so one nonzero fill of many polygons leaves them open.
        const outer = signOf(g.exterior);
        this._traceRing(ctx, g.exterior, false);
        for (const hole of g.holes || []) this._traceRing(ctx, hole, signOf(hole) === outer);
        return true;
      }
      default:
        return false;
    }
  }

  _traceOpen(ctx, type, g, labelName) {
    if (type === "polyline") {
      const pts = g.points;
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
      return true;
    }
    if (type === "keypoints") {
      const label = this.store.labels[labelName];
      const edges = (label && label.skeleton && label.skeleton.edges) || [];
      let any = false;
      for (const [a, b] of edges) {
        const pa = g.points[a], pb = g.points[b];
        if (pa && pb && pa[2] > 0 && pb[2] > 0) { ctx.moveTo(pa[0], pa[1]); ctx.lineTo(pb[0], pb[1]); any = true; }
      }
      return any;
    }
    return false;
  }

  /** Draws one object-like {type, label, geometry, review_state, _mask} on the overlay, highlighted. */
  drawSingle(ctx, obj, highlight = true) {
    this._drawGroup(ctx, [obj], this.styleOf(obj.label), obj.review_state === "proposed", highlight);
  }

  _drawOverlay() {
    const { ctx } = this.layers.overlay;
    this._clear(ctx);
    this._imageTransform(ctx);
    if (this.overlayPainter) this.overlayPainter(ctx, this);
  }
}

function signOf(ring) {
  let area = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) area += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return area >= 0 ? 1 : -1;
}
