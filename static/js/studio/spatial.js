// A uniform grid over the image: each object is filed in the cells its bounding box covers, so picking under
// the pointer and redrawing a dirty rectangle look at a few cells instead of every object.

export class SpatialGrid {
  constructor(width, height, cell = 256) {
    this.cell = cell;
    this.cols = Math.max(1, Math.ceil(width / cell));
    this.rows = Math.max(1, Math.ceil(height / cell));
    this.cells = new Map();
    this.ranges = new Map(); // key -> [c0, r0, c1, r1]
  }

  _range(box) {
    const c = this.cell;
    return [
      Math.min(this.cols - 1, Math.max(0, Math.floor(box[0] / c))),
      Math.min(this.rows - 1, Math.max(0, Math.floor(box[1] / c))),
      Math.min(this.cols - 1, Math.max(0, Math.floor(box[2] / c))),
      Math.min(this.rows - 1, Math.max(0, Math.floor(box[3] / c))),
    ];
  }

  insert(key, box) {
    this.remove(key);
    if (!box) return;
    const range = this._range(box);
    this.ranges.set(key, range);
    for (let r = range[1]; r <= range[3]; r++) {
      for (let c = range[0]; c <= range[2]; c++) {
        const id = r * this.cols + c;
        let bucket = this.cells.get(id);
        if (!bucket) this.cells.set(id, (bucket = new Set()));
        bucket.add(key);
      }
    }
  }

  remove(key) {
    const range = this.ranges.get(key);
    if (!range) return;
    this.ranges.delete(key);
    for (let r = range[1]; r <= range[3]; r++) {
      for (let c = range[0]; c <= range[2]; c++) {
        const bucket = this.cells.get(r * this.cols + c);
        if (bucket) bucket.delete(key);
      }
    }
  }

  clear() {
    this.cells.clear();
    this.ranges.clear();
  }

  /** Keys whose cells meet the rectangle [x0, y0, x1, y1] (a superset: callers test the exact boxes). */
  query(box) {
    const range = this._range(box);
    const out = new Set();
    for (let r = range[1]; r <= range[3]; r++) {
      for (let c = range[0]; c <= range[2]; c++) {
        const bucket = this.cells.get(r * this.cols + c);
        if (bucket) for (const key of bucket) out.add(key);
      }
    }
    return out;
  }
}
