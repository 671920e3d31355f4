"""Plane geometry for the decoders with numpy alone (no shapely: the runtime runs on bare GPU boxes).

- `component_rings`: the outline of a set of pixels (a connected component's runs) as rings of pixel corners,
  exterior clockwise on screen (positive shoelace area with y down), holes the other way.
- `simplify_ring`: Douglas-Peucker.
- `min_area_rect`: the minimum-area rotated rectangle around points (convex hull + rotating calipers).
"""

import numpy as np


def ring_area(ring: np.ndarray) -> float:
    """Shoelace area; positive for a ring clockwise on screen (x right, y down)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def component_rings(runs: np.ndarray) -> list[np.ndarray]:
    """Rings (k x 2 arrays of corner coordinates, not closed) outlining the pixels of `runs` (y, x0, x1)."""
    y0, x0 = int(runs[:, 0].min()), int(runs[:, 1].min())
    height, width = int(runs[:, 0].max()) - y0 + 1, int(runs[:, 2].max()) - x0
    mask = np.zeros((height + 2, width + 2), dtype=bool)
    for y, a, b in runs.tolist():
        mask[y - y0 + 1, a - x0 + 1:b - x0 + 1] = True
    inside = mask[1:-1, 1:-1]
    ys, xs = np.nonzero(inside & ~mask[:-2, 1:-1])  # top edges: (x, y) -> (x+1, y)
    edges = [np.column_stack([xs, ys, xs + 1, ys])]
    ys, xs = np.nonzero(inside & ~mask[1:-1, 2:])  # right: (x+1, y) -> (x+1, y+1)
    edges.append(np.column_stack([xs + 1, ys, xs + 1, ys + 1]))
    ys, xs = np.nonzero(inside & ~mask[2:, 1:-1])  # bottom: (x+1, y+1) -> (x, y+1)
    edges.append(np.column_stack([xs + 1, ys + 1, xs, ys + 1]))
    ys, xs = np.nonzero(inside & ~mask[1:-1, :-2])  # left: (x, y+1) -> (x, y)
    edges.append(np.column_stack([xs, ys + 1, xs, ys]))
    segments = np.concatenate(edges).tolist()
    outgoing: dict[tuple, list[tuple]] = {}
    for ax, ay, bx, by in segments:
        outgoing.setdefault((ax, ay), []).append((bx, by))
    rings = []
    while outgoing:
        start = next(iter(outgoing))
        ring, point = [], start
        while True:
            ring.append(point)
            targets = outgoing.get(point)
            if not targets:
                break
            following = targets.pop()
            if not targets:
                del outgoing[point]
            point = following
            if point == start:
                break
        if len(ring) >= 4:
            rings.append(_drop_collinear(np.asarray(ring, dtype=np.float64) + np.array([x0, y0])))
    return [r for r in rings if len(r) >= 3]


def _drop_collinear(ring: np.ndarray) -> np.ndarray:
    before, after = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
    cross = (ring[:, 0] - before[:, 0]) * (after[:, 1] - ring[:, 1]) - (ring[:, 1] - before[:, 1]) * (
        after[:, 0] - ring[:, 0])
    return ring[cross != 0]


def simplify_ring(ring: np.ndarray, tolerance: float) -> np.ndarray:
    if tolerance <= 0 or len(ring) <= 4:
        return ring
    closed = np.vstack([ring, ring[:1]])
    keep = np.zeros(len(closed), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(closed) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        a, b = closed[first], closed[last]
        points = closed[first + 1:last]
        d = b - a
        length = np.hypot(*d)
        if length == 0:
            dist = np.hypot(*(points - a).T)
        else:
            dist = np.abs(d[0] * (points[:, 1] - a[1]) - d[1] * (points[:, 0] - a[0])) / length
        index = int(np.argmax(dist))
        if dist[index] > tolerance:
            keep[first + 1 + index] = True
            stack.extend([(first, first + 1 + index), (first + 1 + index, last)])
    out = closed[keep][:-1]
    return out if len(out) >= 3 else ring


def convex_hull(points: np.ndarray) -> np.ndarray:
    pts = np.unique(points, axis=0)
    if len(pts) < 3:
        return pts

    def half(sequence):
        chain = []
        for p in sequence:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1]) -
                                       (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    listed = pts.tolist()
    lower, upper = half(listed), half(reversed(listed))
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def min_area_rect(points: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    """(center, width, height, unit axis u, unit axis v) of the smallest rotated rectangle around the points."""
    hull = convex_hull(np.asarray(points, dtype=np.float64))
    if len(hull) < 3:
        hull = np.vstack([hull, hull[:1] + 1e-9]) if len(hull) else np.zeros((2, 2))
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    edges, lengths = edges[lengths > 0], lengths[lengths > 0]
    u = edges / lengths[:, None]
    v = np.column_stack([-u[:, 1], u[:, 0]])
    pu, pv = hull @ u.T, hull @ v.T  # (points, candidate axes)
    areas = (pu.max(0) - pu.min(0)) * (pv.max(0) - pv.min(0))
    best = int(np.argmin(areas))
    lo_u, hi_u, lo_v, hi_v = pu[:, best].min(), pu[:, best].max(), pv[:, best].min(), pv[:, best].max()
    center = u[best] * (lo_u + hi_u) / 2 + v[best] * (lo_v + hi_v) / 2
    return center, hi_u - lo_u, hi_v - lo_v, u[best], v[best]


def rect_corners(center, width, height, u, v) -> np.ndarray:
    hu, hv = u * width / 2, v * height / 2
    return np.array([center - hu - hv, center + hu - hv, center + hu + hv, center - hu + hv])
