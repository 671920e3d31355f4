"""Optimal one-to-one matching of two sets of shapes, and the detection scores that follow from it.

Given a similarity matrix S (n x m: IoU, OKS or a distance turned into a similarity) and the labels of both
sides (any hashable: a label, or a (frame, label) pair), a pair (i, j) may match when labels agree and
S[i, j] >= threshold (exactly at the threshold matches). Among the possible pairs the matching is chosen by
scipy.optimize.linear_sum_assignment on the weight W[i, j] = K + S[i, j] for allowed pairs (0 otherwise), S clipped
to [-1, 1] and K = 2 min(n, m) + 2 (larger than any difference of total similarity), which makes it lexicographic:
the most matches first, then the largest total similarity. Ties between equal matchings are broken the way
linear_sum_assignment breaks them: deterministically for the same input order. "confusions" pairs the left-over
shapes that would have matched but for their labels (a page can say "same object, other label").

With a = the candidate (or annotator A) and b = the reference (annotator B or the truth), M matched pairs:
    precision = M / |a|,   recall = M / |b|,   F1 = 2M / (|a| + |b|),   mean_similarity = mean of S over matches
Both sides empty: precision = recall = F1 = mean_similarity = 1 (nothing to disagree on). One side empty: 0 for
the scores that side makes undefined as well (precision of an empty a against a non-empty b is 0, not 0/0).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class Match:
    n_a: int
    n_b: int
    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (i, j, similarity), sorted by i
    unmatched_a: list[int] = field(default_factory=list)
    unmatched_b: list[int] = field(default_factory=list)
    confusions: list[tuple[int, int, float]] = field(default_factory=list)  # unmatched pairs that overlap, other label

    @property
    def matched(self) -> int:
        return len(self.pairs)

    @property
    def precision(self) -> float:
        if self.n_a == 0:
            return 1.0 if self.n_b == 0 else 0.0
        return self.matched / self.n_a

    @property
    def recall(self) -> float:
        if self.n_b == 0:
            return 1.0 if self.n_a == 0 else 0.0
        return self.matched / self.n_b

    @property
    def f1(self) -> float:
        total = self.n_a + self.n_b
        return 1.0 if total == 0 else 2 * self.matched / total

    @property
    def mean_similarity(self) -> float:
        if not self.pairs:
            return 1.0 if self.n_a == self.n_b == 0 else 0.0
        return float(np.mean([s for _i, _j, s in self.pairs]))

    def as_dict(self) -> dict:
        return {
            "a": self.n_a, "b": self.n_b, "matched": self.matched,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "mean_similarity": self.mean_similarity,
            "pairs": [[i, j, round(s, 6)] for i, j, s in self.pairs],
            "unmatched_a": self.unmatched_a, "unmatched_b": self.unmatched_b,
            "confusions": [[i, j, round(s, 6)] for i, j, s in self.confusions],
        }


def match(similarity: np.ndarray, labels_a=None, labels_b=None, *, threshold: float = 0.5) -> Match:
    """The optimal label-aware one-to-one matching of a similarity matrix (see the module's docstring)."""
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ValueError("The similarity is an (n, m) matrix.")
    sim = np.clip(np.nan_to_num(sim, nan=-np.inf), -1.0, 1.0)
    n, m = sim.shape
    if labels_a is None:
        same = np.ones((n, m), dtype=bool)
    else:
        codes: dict = {}  # any hashable label (a string, a (frame, label) tuple) as an integer code
        code_a = np.array([codes.setdefault(label, len(codes)) for label in labels_a], dtype=np.int64)
        code_b = np.array([codes.setdefault(label, len(codes)) for label in labels_b], dtype=np.int64)
        same = code_a[:, None] == code_b[None, :]
    close = sim >= threshold
    allowed = same & close
    pairs: list[tuple[int, int, float]] = []
    if allowed.any():
        weight = np.where(allowed, 2 * min(n, m) + 2 + sim, 0.0)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        pairs = [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols, strict=True) if allowed[i, j]]
    used_a, used_b = {i for i, _j, _s in pairs}, {j for _i, j, _s in pairs}
    unmatched_a = [i for i in range(n) if i not in used_a]
    unmatched_b = [j for j in range(m) if j not in used_b]
    confusions = []
    if labels_a is not None and unmatched_a and unmatched_b:
        left = np.where(close & ~same, sim, -np.inf)[np.ix_(unmatched_a, unmatched_b)]
        taken = set()
        for r, i in enumerate(unmatched_a):
            order = [c for c in np.argsort(-left[r], kind="stable") if np.isfinite(left[r, c]) and c not in taken]
            if order:
                taken.add(order[0])
                confusions.append((i, unmatched_b[order[0]], float(left[r, order[0]])))
    return Match(n_a=n, n_b=m, pairs=sorted(pairs), unmatched_a=unmatched_a, unmatched_b=unmatched_b,
                 confusions=confusions)
