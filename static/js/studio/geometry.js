// Geometry of annotations in image pixels (apps/annotations/geometry.py documents the JSON per type).
// Geometries are treated as immutable: every edit returns a new object, so undo entries and the saved
// state can share them without copying.

export const TYPE_NAMES = {
  classification: "Classification", point: "Point", keypoints: "Skeleton", bbox: "Box",
  rotated_bbox: "Rotated box", ellipse: "Ellipse", polyline: "Polyline", polygon: "Polygon", mask: "Mask",
};

const RAD = Math.PI / 180;

export function clamp(value, low, high) {
  return value < low ? low : value > high ? high : value;
}

export function round2(value) {
  return Math.round(value * 100) / 100;
}

export function rotatedCorners(cx, cy, hw, hh, angle) {
  const cos = Math.cos(angle * RAD), sin = Math.sin(angle * RAD);
  return [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(([dx, dy]) => [cx + dx * cos - dy * sin, cy + dx * sin + dy * cos]);
}

function ellipseHalfExtents(g) {
  const cos = Math.cos(g.angle * RAD), sin = Math.sin(g.angle * RAD);
  return [Math.hypot(g.rx * cos, g.ry * sin), Math.hypot(g.rx * sin, g.ry * cos)];
}

function ringBox(points, box) {
  for (const p of points) {
    if (p[0] < box[0]) box[0] = p[0];
    if (p[1] < box[1]) box[1] = p[1];
    if (p[0] > box[2]) box[2] = p[0];
    if (p[1] > box[3]) box[3] = p[1];
  }
  return box;
}

/** [x0, y0, x1, y1] around a geometry; null for classifications (and empty masks). */
export function bboxOf(type, g) {
  if (!g) return null;
  switch (type) {
    case "bbox": return [g.x, g.y, g.x + g.w, g.y + g.h];
    case "point": return [g.x, g.y, g.x, g.y];
    case "rotated_bbox": return ringBox(rotatedCorners(g.cx, g.cy, g.w / 2, g.h / 2, g.angle || 0), [Infinity, Infinity, -Infinity, -Infinity]);
    case "ellipse": {
      const [hx, hy] = ellipseHalfExtents({ angle: 0, ...g });
      return [g.cx - hx, g.cy - hy, g.cx + hx, g.cy + hy];
    }
    case "polyline": return ringBox(g.points, [Infinity, Infinity, -Infinity, -Infinity]);
    case "polygon": return ringBox(g.exterior, [Infinity, Infinity, -Infinity, -Infinity]);
    case "keypoints": {
      const placed = g.points.filter((p) => p[2] > 0);
      return placed.length ? ringBox(placed, [Infinity, Infinity, -Infinity, -Infinity]) : null;
    }
    case "mask": return null; // the mask module computes it from the runs
    default: return null;
  }
}

/** bboxOf for a content object (what the editor moves, pastes and resizes); a mask's pixels say where it is. */
export function boundsOf(content) {
  return content.geometry && content.type !== "mask" ? bboxOf(content.type, content.geometry) : null;
}

export function boxUnion(a, b) {
  if (!a) return b ? b.slice() : null;
  if (!b) return a.slice();
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

export function boxInside(box, width, height) {
  const eps = 1e-6;
  return box[0] >= -eps && box[1] >= -eps && box[2] <= width + eps && box[3] <= height + eps;
}

const mapPoints = (points, fn) => points.map((p) => (p.length === 3 ? [...fn(p[0], p[1]), p[2]] : fn(p[0], p[1])));

/** The geometry moved by (dx, dy). Absent keypoints (v 0) stay at 0, 0. */
export function translate(type, g, dx, dy) {
  const move = (x, y) => [round2(x + dx), round2(y + dy)];
  switch (type) {
    case "bbox": case "point": return { ...g, x: round2(g.x + dx), y: round2(g.y + dy) };
    case "rotated_bbox": case "ellipse": return { ...g, cx: round2(g.cx + dx), cy: round2(g.cy + dy) };
    case "polyline": return { points: mapPoints(g.points, move) };
    case "polygon": return { exterior: mapPoints(g.exterior, move), holes: (g.holes || []).map((h) => mapPoints(h, move)) };
    case "keypoints": return { points: g.points.map((p) => (p[2] > 0 ? [round2(p[0] + dx), round2(p[1] + dy), p[2]] : p)) };
    default: return g;
  }
}

/** The largest part of (dx, dy) that keeps `box` inside the image. */
export function clampDelta(box, dx, dy, width, height) {
  return [clamp(dx, -box[0], width - box[2]), clamp(dy, -box[1], height - box[3])];
}

// --- Hit testing ---------------------------------------------------------------------------------

export function distToSegment(px, py, ax, ay, bx, by) {
  const vx = bx - ax, vy = by - ay;
  const len = vx * vx + vy * vy;
  let t = len ? ((px - ax) * vx + (py - ay) * vy) / len : 0;
  t = clamp(t, 0, 1);
  return Math.hypot(px - (ax + t * vx), py - (ay + t * vy));
}

export function pointInRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function nearPath(points, x, y, tol, closed) {
  const n = points.length;
  for (let i = 0; i < n - (closed ? 0 : 1); i++) {
    const a = points[i], b = points[(i + 1) % n];
    if (distToSegment(x, y, a[0], a[1], b[0], b[1]) <= tol) return true;
  }
  return false;
}

function toLocal(cx, cy, angle, x, y) {
  const cos = Math.cos(angle * RAD), sin = Math.sin(angle * RAD);
  const dx = x - cx, dy = y - cy;
  return [dx * cos + dy * sin, -dx * sin + dy * cos];
}

function fromLocal(cx, cy, angle, lx, ly) {
  const cos = Math.cos(angle * RAD), sin = Math.sin(angle * RAD);
  return [cx + lx * cos - ly * sin, cy + lx * sin + ly * cos];
}

/** Whether (x, y) hits the shape; `tol` is the pick distance in image pixels. Masks are tested by the caller. */
export function hitShape(type, g, x, y, tol, skeleton) {
  switch (type) {
    case "bbox": return x >= g.x - tol && x <= g.x + g.w + tol && y >= g.y - tol && y <= g.y + g.h + tol;
    case "point": return Math.hypot(x - g.x, y - g.y) <= tol * 1.5;
    case "rotated_bbox": {
      const [lx, ly] = toLocal(g.cx, g.cy, g.angle || 0, x, y);
      return Math.abs(lx) <= g.w / 2 + tol && Math.abs(ly) <= g.h / 2 + tol;
    }
    case "ellipse": {
      const [lx, ly] = toLocal(g.cx, g.cy, g.angle || 0, x, y);
      const rx = g.rx + tol, ry = g.ry + tol;
      return (lx * lx) / (rx * rx) + (ly * ly) / (ry * ry) <= 1;
    }
    case "polyline": return nearPath(g.points, x, y, tol, false);
    case "polygon": {
      if (nearPath(g.exterior, x, y, tol, true)) return true;
      if (!pointInRing(g.exterior, x, y)) return false;
      return !(g.holes || []).some((h) => pointInRing(h, x, y) && !nearPath(h, x, y, tol, true));
    }
    case "keypoints": {
      const pts = g.points;
      if (pts.some((p) => p[2] > 0 && Math.hypot(x - p[0], y - p[1]) <= tol * 1.5)) return true;
      for (const [a, b] of (skeleton && skeleton.edges) || []) {
        const pa = pts[a], pb = pts[b];
        if (pa && pb && pa[2] > 0 && pb[2] > 0 && distToSegment(x, y, pa[0], pa[1], pb[0], pb[1]) <= tol) return true;
      }
      return false;
    }
    default: return false;
  }
}

// --- Handles (select tool) ---------------------------------------------------------------------

/** Half the size of a handle on screen, in CSS pixels: the editor paints them this size and grabs them near it. */
export const HANDLE_PX = 5;

const SIDES = { nw: [-1, -1], n: [0, -1], ne: [1, -1], e: [1, 0], se: [1, 1], s: [0, 1], sw: [-1, 1], w: [-1, 0] };

/** Handles of a shape in image coordinates: {key, x, y, kind: "resize" | "rotate" | "vertex"}. */
export function handlesOf(type, g, scale) {
  const out = [];
  if (type === "bbox") {
    const cx = g.x + g.w / 2, cy = g.y + g.h / 2;
    for (const [key, [sx, sy]] of Object.entries(SIDES)) out.push({ key, kind: "resize", x: cx + (sx * g.w) / 2, y: cy + (sy * g.h) / 2 });
  } else if (type === "rotated_bbox" || type === "ellipse") {
    const hw = type === "ellipse" ? g.rx : g.w / 2, hh = type === "ellipse" ? g.ry : g.h / 2;
    const angle = g.angle || 0;
    for (const [key, [sx, sy]] of Object.entries(SIDES)) {
      const [x, y] = fromLocal(g.cx, g.cy, angle, sx * hw, sy * hh);
      out.push({ key, kind: "resize", x, y });
    }
    const [rx, ry] = fromLocal(g.cx, g.cy, angle, 0, -hh - 28 / scale);
    out.push({ key: "rot", kind: "rotate", x: rx, y: ry });
  } else if (type === "polygon") {
    g.exterior.forEach((p, i) => out.push({ key: `e:${i}`, kind: "vertex", x: p[0], y: p[1] }));
    (g.holes || []).forEach((ring, j) => ring.forEach((p, i) => out.push({ key: `h:${j}:${i}`, kind: "vertex", x: p[0], y: p[1] })));
  } else if (type === "polyline" || type === "keypoints") {
    g.points.forEach((p, i) => { if (p.length < 3 || p[2] > 0) out.push({ key: `p:${i}`, kind: "vertex", x: p[0], y: p[1] }); });
  }
  return out;
}

function replaceAt(list, index, value) {
  const copy = list.slice();
  copy[index] = value;
  return copy;
}

/** The geometry with handle `key` dragged to (x, y); `g` is the geometry when the drag began. */
export function dragHandle(type, g, key, x, y, width, height, snap) {
  x = round2(clamp(x, 0, width));
  y = round2(clamp(y, 0, height));
  if (type === "bbox") {
    const [sx, sy] = SIDES[key];
    let x0 = g.x, y0 = g.y, x1 = g.x + g.w, y1 = g.y + g.h;
    if (sx < 0) x0 = x; else if (sx > 0) x1 = x;
    if (sy < 0) y0 = y; else if (sy > 0) y1 = y;
    const nx = Math.min(x0, x1), ny = Math.min(y0, y1);
    return { x: nx, y: ny, w: Math.max(round2(Math.abs(x1 - x0)), 1), h: Math.max(round2(Math.abs(y1 - y0)), 1) };
  }
  if (type === "rotated_bbox" || type === "ellipse") {
    const angle = g.angle || 0;
    if (key === "rot") {
      let deg = Math.atan2(y - g.cy, x - g.cx) / RAD + 90;
      if (snap) deg = Math.round(deg / 15) * 15;
      while (deg > 180) deg -= 360;
      while (deg <= -180) deg += 360;
      return { ...g, angle: round2(deg) };
    }
    const hw = type === "ellipse" ? g.rx : g.w / 2, hh = type === "ellipse" ? g.ry : g.h / 2;
    const [sx, sy] = SIDES[key];
    const [lx, ly] = toLocal(g.cx, g.cy, angle, x, y);
    let cxl = 0, cyl = 0, nhw = hw, nhh = hh;
    if (sx) { const fixed = -sx * hw; nhw = Math.max(Math.abs(lx - fixed) / 2, 0.5); cxl = (lx + fixed) / 2; }
    if (sy) { const fixed = -sy * hh; nhh = Math.max(Math.abs(ly - fixed) / 2, 0.5); cyl = (ly + fixed) / 2; }
    const [cx, cy] = fromLocal(g.cx, g.cy, angle, cxl, cyl);
    if (type === "ellipse") return { cx: round2(cx), cy: round2(cy), rx: round2(nhw), ry: round2(nhh), angle };
    return { cx: round2(cx), cy: round2(cy), w: round2(nhw * 2), h: round2(nhh * 2), angle };
  }
  const parts = key.split(":");
  if (type === "polygon") {
    if (parts[0] === "e") return { exterior: replaceAt(g.exterior, +parts[1], [x, y]), holes: g.holes || [] };
    const j = +parts[1];
    return { exterior: g.exterior, holes: replaceAt(g.holes, j, replaceAt(g.holes[j], +parts[2], [x, y])) };
  }
  if (type === "polyline") return { points: replaceAt(g.points, +parts[1], [x, y]) };
  if (type === "keypoints") {
    const i = +parts[1];
    return { points: replaceAt(g.points, i, [x, y, g.points[i][2] || 2]) };
  }
  return g;
}

/** The geometry without vertex `key`, or null when the ring would get too short. */
export function removeVertex(type, g, key) {
  const parts = key.split(":");
  const without = (ring, i) => ring.filter((_, k) => k !== i);
  if (type === "polygon" && parts[0] === "e") {
    return g.exterior.length > 3 ? { exterior: without(g.exterior, +parts[1]), holes: g.holes || [] } : null;
  }
  if (type === "polygon" && parts[0] === "h") {
    const j = +parts[1];
    const ring = without(g.holes[j], +parts[2]);
    return { exterior: g.exterior, holes: ring.length >= 3 ? replaceAt(g.holes, j, ring) : g.holes.filter((_, k) => k !== j) };
  }
  if (type === "polyline") return g.points.length > 2 ? { points: without(g.points, +parts[1]) } : null;
  return null;
}

/** The geometry with a vertex inserted on the edge nearest (x, y) within tol, or null. */
export function insertVertex(type, g, x, y, tol) {
  const rings = type === "polygon" ? [["e", g.exterior, true], ...(g.holes || []).map((h, j) => [`h${j}`, h, true])]
    : type === "polyline" ? [["p", g.points, false]] : [];
  for (const [name, ring, closed] of rings) {
    const n = ring.length;
    for (let i = 0; i < n - (closed ? 0 : 1); i++) {
      const a = ring[i], b = ring[(i + 1) % n];
      if (distToSegment(x, y, a[0], a[1], b[0], b[1]) <= tol) {
        const next = ring.slice(0, i + 1).concat([[round2(x), round2(y)]], ring.slice(i + 1));
        if (name === "e") return { exterior: next, holes: g.holes || [] };
        if (name === "p") return { points: next };
        const j = +name.slice(1);
        return { exterior: g.exterior, holes: replaceAt(g.holes, j, next) };
      }
    }
  }
  return null;
}

export function signedArea(ring) {
  let area = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) area += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return area / 2;
}

/** Whether two segments properly cross (shared endpoints do not count). */
function segmentsCross(a, b, c, d) {
  const orient = (p, q, r) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  const o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
  return o1 * o2 < 0 && o3 * o4 < 0;
}

/** Whether a closed ring crosses itself (checked before saving, so the user hears it at once). */
export function ringSelfIntersects(ring) {
  const n = ring.length;
  if (n > 2000) return false; // the server checks big rings
  for (let i = 0; i < n; i++) {
    const a = ring[i], b = ring[(i + 1) % n];
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue;
      if (segmentsCross(a, b, ring[j], ring[(j + 1) % n])) return true;
    }
  }
  return false;
}
