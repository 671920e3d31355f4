"""Accuracy and kappa/alpha against textbook examples and reference libraries."""

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from apps.quality.metrics.classification import (
    accuracy,
    cohen_kappa,
    fleiss_kappa,
    fleiss_table,
    krippendorff_alpha_nominal,
)

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa = 0.210
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units; nominal alpha = 0.743
N = None
KRIPPENDORFF_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def test_accuracy_counts_only_items_both_rated():
    assert accuracy(["a", "b", None, "c"], ["a", "c", "x", "c"]) == pytest.approx(2 / 3)
    assert accuracy([], []) == 1.0


def test_cohen_kappa_textbook_example():
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_matches_scikit_learn_on_random_ratings():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.choice(["car", "bus", "bike", "van"], size=200)
        b = np.where(rng.random(200) < 0.6, a, rng.choice(["car", "bus", "bike", "van"], size=200))
        assert cohen_kappa(a.tolist(), b.tolist()) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_kappa_degenerate_single_category_is_one_not_nan():
    assert cohen_kappa(["a"] * 5, ["a"] * 5) == 1.0
    assert cohen_kappa([None], ["a"]) == 1.0


def test_cohen_kappa_of_opposite_raters_is_negative():
    assert cohen_kappa(["a", "b"] * 5, ["b", "a"] * 5) == pytest.approx(-1.0)


def test_true_and_one_are_different_answers():
    assert accuracy([True, 1], [1, True]) == 0.0


def test_fleiss_kappa_textbook_example():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=1e-4)
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(statsmodels_fleiss(np.array(FLEISS_TABLE)), abs=1e-12)


def test_fleiss_kappa_matches_statsmodels_on_random_ratings():
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 3, size=100)
    ratings = [[int(t) if rng.random() < 0.7 else int(rng.integers(0, 3)) for _ in range(5)] for t in truth]

    table = fleiss_table(ratings)

    assert table.sum(axis=1).tolist() == [5.0] * 100
    assert fleiss_kappa(table) == pytest.approx(statsmodels_fleiss(table), abs=1e-12)


def test_fleiss_kappa_perfect_and_degenerate():
    assert fleiss_kappa(fleiss_table([["a", "a", "a"], ["b", "b", "b"]])) == pytest.approx(1.0)
    assert fleiss_kappa(fleiss_table([["a", "a"], ["a", "a"]])) == 1.0
    assert fleiss_kappa(np.zeros((0, 0))) == 1.0


def test_krippendorff_alpha_textbook_example():
    assert krippendorff_alpha_nominal(KRIPPENDORFF_DATA) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_matches_the_krippendorff_package_with_missing_values():
    rng = np.random.default_rng(5)
    for _ in range(10):
        truth = rng.integers(0, 4, size=60)
        data = np.where(rng.random((4, 60)) < 0.75, truth, rng.integers(0, 4, size=(4, 60))).astype(float)
        data[rng.random((4, 60)) < 0.2] = np.nan
        ours = krippendorff_alpha_nominal([[None if np.isnan(v) else int(v) for v in row] for row in data])
        assert ours == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"),
                                     abs=1e-12)


def test_krippendorff_alpha_degenerate_cases_are_finite():
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) == 1.0  # one category: no expected disagreement
    assert krippendorff_alpha_nominal([["a", None], [None, "b"]]) == 1.0  # nothing pairable
    assert krippendorff_alpha_nominal([]) == 1.0
