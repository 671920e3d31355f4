"""Agreement on categories (classification labels, attribute values) across many items, with numpy.

Values are any hashable category (strings, numbers, booleans); None (or NaN) is a missing rating. Every function
returns a finite float; the degenerate cases are documented per function rather than returned as NaN.

accuracy(a, b)         share of items both rated on which they gave the same value; 1 when none were both rated.
cohen_kappa(a, b)      (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e = sum_k p_a(k) p_b(k) from each
                       rater's marginals, over items both rated. When p_e = 1 (both raters used one same category
                       throughout) kappa is 1; no item rated by both: 1.
fleiss_kappa(table)    table: items x categories counts n_ij (raters per item may vary, at least 2 counted):
                       P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P = mean_i P_i,
                       p_j = sum_i n_ij / sum_i n_i, P_e = sum_j p_j^2,  kappa = (P - P_e) / (1 - P_e);
                       P_e = 1 gives 1; no item with two ratings gives 1.
krippendorff_alpha_nominal(data)   data: raters x items (None = missing). Coincidences o_ck = sum over items u
                       with m_u >= 2 ratings of (n_uc n_uk - [c = k] n_uc) / (m_u - 1); n_c = sum_k o_ck, n = sum n_c;
                       alpha = 1 - (n - 1) (n - sum_c o_cc) / (n^2 - sum_c n_c^2). Expected disagreement 0 (one
                       category only) gives 1; no pairable item gives 1.
"""

import math

import numpy as np


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _codes(*columns) -> tuple[list[np.ndarray], int]:
    """Integer codes per column (-1 for missing) over one shared category index."""
    index: dict = {}
    coded = []
    for column in columns:
        coded.append(np.array([-1 if _missing(v) else index.setdefault(_key(v), len(index)) for v in column],
                              dtype=np.int64))
    return coded, len(index)


def _key(value):
    return (type(value).__name__ if isinstance(value, bool) else "v", value)  # True and 1 are different answers


def accuracy(a, b) -> float:
    (ca, cb), _k = _codes(list(a), list(b))
    both = (ca >= 0) & (cb >= 0)
    return float((ca[both] == cb[both]).mean()) if both.any() else 1.0


def cohen_kappa(a, b) -> float:
    (ca, cb), k = _codes(list(a), list(b))
    both = (ca >= 0) & (cb >= 0)
    if not both.any():
        return 1.0
    ca, cb = ca[both], cb[both]
    p_o = float((ca == cb).mean())
    p_a = np.bincount(ca, minlength=k) / len(ca)
    p_b = np.bincount(cb, minlength=k) / len(cb)
    p_e = float(p_a @ p_b)
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_table(ratings) -> np.ndarray:
    """items x categories counts from per-item lists of values (None = missing)."""
    coded, k = _codes(*[list(item) for item in ratings])
    table = np.zeros((len(coded), k), dtype=np.float64)
    for i, codes in enumerate(coded):
        codes = codes[codes >= 0]
        table[i] = np.bincount(codes, minlength=k)
    return table


def fleiss_kappa(table) -> float:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or not table.size:
        return 1.0
    n_i = table.sum(axis=1)
    table, n_i = table[n_i >= 2], n_i[n_i >= 2]
    if not len(n_i):
        return 1.0
    p_i = ((table ** 2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = float(p_i.mean())
    p_j = table.sum(axis=0) / n_i.sum()
    p_e = float((p_j ** 2).sum())
    if p_e >= 1.0:
        return 1.0
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha_nominal(data) -> float:
    rows = [list(r) for r in data]
    if not rows or not rows[0]:
        return 1.0
    coded, k = _codes(*rows)
    matrix = np.stack(coded)                                            # raters x items
    counts = np.stack([np.bincount(col[col >= 0], minlength=k) for col in matrix.T]).astype(np.float64) \
        if k else np.zeros((matrix.shape[1], 0))                        # items x categories: n_uc
    m_u = counts.sum(axis=1)
    counts, m_u = counts[m_u >= 2], m_u[m_u >= 2]
    if not len(m_u):
        return 1.0
    weighted = counts / (m_u - 1)[:, None]
    coincidence = counts.T @ weighted - np.diag(weighted.sum(axis=0))   # o_ck
    n_c = coincidence.sum(axis=1)
    n = float(n_c.sum())
    expected = n * n - float((n_c ** 2).sum())
    if expected <= 0:
        return 1.0
    observed = n - float(np.trace(coincidence))
    return 1.0 - (n - 1) * observed / expected
