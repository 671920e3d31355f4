// Masks: COCO's uncompressed RLE (column-major run lengths, zeros first) to and from bitmaps, and the
// brush/eraser editor that paints into an offscreen canvas at the image's resolution.

/** The set pixels of an RLE as a cropped bitmap {x, y, w, h, data: Uint8Array}, or null when empty. */
export function decodeRle(rle) {
  const height = rle.size[0];
  const counts = rle.counts;
  let pos = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i];
    if (i % 2 === 1 && run > 0) {
      const first = pos, last = pos + run - 1;
      const c0 = Math.floor(first / height), c1 = Math.floor(last / height);
      if (c0 < x0) x0 = c0;
      if (c1 > x1) x1 = c1;
      if (c1 > c0) { y0 = 0; y1 = Math.max(y1, height - 1); } else {
        y0 = Math.min(y0, first % height);
        y1 = Math.max(y1, last % height);
      }
    }
    pos += run;
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const data = new Uint8Array(w * h);
  pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i];
    if (i % 2 === 1) {
      let col = Math.floor(pos / height), row = pos % height;
      for (let k = 0; k < run; k++) {
        data[(row - y0) * w + (col - x0)] = 1;
        if (++row === height) { row = 0; col++; }
      }
    }
    pos += run;
  }
  return { x: x0, y: y0, w, h, data };
}

/** The bitmap painted in `color` (opaque) on a canvas of its own size, for drawing with a transform. */
export function bitmapCanvas(bitmap, color) {
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.w;
  canvas.height = bitmap.h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(bitmap.w, bitmap.h);
  const r = parseInt(color.slice(1, 3), 16), g = parseInt(color.slice(3, 5), 16), b = parseInt(color.slice(5, 7), 16);
  const px = image.data;
  for (let i = 0; i < bitmap.data.length; i++) {
    if (bitmap.data[i]) {
      const o = i * 4;
      px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** Column-major RLE counts of the image-sized mask whose set pixels all lie in `region` of `alpha` (RGBA). */
export function encodeRegion(alpha, region, width, height) {
  const { x: rx, y: ry, w: rw, h: rh } = region;
  const counts = [];
  let current = 0, run = 0;
  const push = (value, n) => {
    if (n <= 0) return;
    if (value === current) run += n;
    else { counts.push(run); current = value; run = n; }
  };
  push(0, rx * height);
  for (let x = 0; x < rw; x++) {
    push(0, ry);
    for (let y = 0; y < rh; y++) {
      const value = alpha[(y * rw + x) * 4 + 3] >= 128 ? 1 : 0;
      if (value === current) run++;
      else { counts.push(run); current = value; run = 1; }
    }
    push(0, height - ry - rh);
  }
  push(0, (width - rx - rw) * height);
  counts.push(run);
  return counts;
}

/** Paints one mask at a time into an image-sized offscreen canvas. */
export class MaskEditor {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.canvas = null;
    this.region = null; // [x0, y0, x1, y1] that may hold set pixels
  }

  begin(bitmapInfo, color, erase, size) {
    if (!this.canvas) {
      this.canvas = document.createElement("canvas");
      this.canvas.width = this.width;
      this.canvas.height = this.height;
      this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    }
    const ctx = this.ctx;
    ctx.globalCompositeOperation = "source-over";
    if (this.region) {
      const [x0, y0, x1, y1] = this.region;
      ctx.clearRect(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4);
    }
    this.region = null;
    if (bitmapInfo) {
      ctx.drawImage(bitmapInfo.canvas, bitmapInfo.x, bitmapInfo.y);
      this.region = [bitmapInfo.x, bitmapInfo.y, bitmapInfo.x + bitmapInfo.w, bitmapInfo.y + bitmapInfo.h];
    }
    ctx.globalCompositeOperation = erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = color;
    ctx.lineWidth = size;
    ctx.lineCap = ctx.lineJoin = "round";
    this.size = size;
    this.erase = erase;
    this.last = null;
  }

  paintTo(x, y) {
    const ctx = this.ctx;
    const r = this.size / 2;
    ctx.beginPath();
    if (this.last) {
      ctx.moveTo(this.last[0], this.last[1]);
      ctx.lineTo(x, y);
      ctx.stroke();
    } else {
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
    }
    const box = [Math.min(x, this.last ? this.last[0] : x) - r, Math.min(y, this.last ? this.last[1] : y) - r,
      Math.max(x, this.last ? this.last[0] : x) + r, Math.max(y, this.last ? this.last[1] : y) + r];
    this.last = [x, y];
    if (!this.erase) {
      this.region = this.region ? [Math.min(this.region[0], box[0]), Math.min(this.region[1], box[1]),
        Math.max(this.region[2], box[2]), Math.max(this.region[3], box[3])] : box;
    }
    return box;
  }

  /** The integer region of the image that may hold set pixels, clamped, or null. */
  pixelRegion() {
    if (!this.region) return null;
    const x0 = Math.max(0, Math.floor(this.region[0]) - 1), y0 = Math.max(0, Math.floor(this.region[1]) - 1);
    const x1 = Math.min(this.width, Math.ceil(this.region[2]) + 1), y1 = Math.min(this.height, Math.ceil(this.region[3]) + 1);
    if (x1 <= x0 || y1 <= y0) return null;
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  /** The mask as RLE geometry, or null when nothing is left painted. */
  finish() {
    const region = this.pixelRegion();
    if (!region) return null;
    const alpha = this.ctx.getImageData(region.x, region.y, region.w, region.h).data;
    let any = false;
    for (let i = 3; i < alpha.length; i += 4) if (alpha[i] >= 128) { any = true; break; }
    if (!any) return null;
    return { rle: { size: [this.height, this.width], counts: encodeRegion(alpha, region, this.width, this.height) } };
  }
}

/** The RLE of a cropped bitmap placed at (bitmap.x, bitmap.y) in a width x height image (e.g. after a move). */
export function encodeBitmap(bitmap, width, height) {
  const { x: bx, y: by, w: bw, h: bh, data } = bitmap;
  const counts = [];
  let current = 0, run = 0;
  const push = (value, n) => {
    if (n <= 0) return;
    if (value === current) run += n;
    else { counts.push(run); current = value; run = n; }
  };
  push(0, bx * height);
  for (let x = 0; x < bw; x++) {
    push(0, by);
    for (let y = 0; y < bh; y++) push(data[y * bw + x] ? 1 : 0, 1);
    push(0, height - by - bh);
  }
  push(0, (width - bx - bw) * height);
  counts.push(run);
  return { rle: { size: [height, width], counts } };
}
