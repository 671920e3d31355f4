"""Optimal label-aware matching and the scores that follow from it."""

import math

import numpy as np
import pytest

from apps.quality.metrics.matching import match


def _finite(result) -> bool:
    return all(math.isfinite(v) for v in (result.precision, result.recall, result.f1, result.mean_similarity))


def test_both_sides_empty_is_perfect_agreement():
    result = match(np.zeros((0, 0)), [], [])
    assert (result.precision, result.recall, result.f1, result.mean_similarity) == (1.0, 1.0, 1.0, 1.0)


def test_one_side_empty_scores_zero_without_nan():
    only_a = match(np.zeros((2, 0)), ["car", "car"], [])
    only_b = match(np.zeros((0, 3)), [], ["car"] * 3)

    assert (only_a.precision, only_a.recall, only_a.f1) == (0.0, 0.0, 0.0)
    assert (only_b.precision, only_b.recall, only_b.f1) == (0.0, 0.0, 0.0)
    assert only_a.unmatched_a == [0, 1] and only_b.unmatched_b == [0, 1, 2]
    assert _finite(only_a) and _finite(only_b)


def test_optimal_matching_beats_greedy_best_pair_first():
    # greedy takes (0, 0) at 0.9 and leaves 1 unmatched; the optimum matches both
    sim = np.array([[0.9, 0.6], [0.7, 0.0]])
    result = match(sim, ["car", "car"], ["car", "car"], threshold=0.5)

    assert result.pairs == [(0, 1, 0.6), (1, 0, 0.7)]
    assert result.f1 == 1.0 and result.mean_similarity == pytest.approx(0.65)


def test_more_matches_win_over_a_larger_total_similarity():
    sim = np.array([[1.0, 0.5], [0.5, 0.0]])  # one pair at 1.0, or two pairs at 0.5 each
    assert match(sim, ["a", "a"], ["a", "a"], threshold=0.5).matched == 2


def test_label_mismatch_never_matches_and_is_reported_as_a_confusion():
    result = match(np.array([[0.95]]), ["car"], ["truck"], threshold=0.5)

    assert result.matched == 0 and result.f1 == 0.0
    assert result.confusions == [(0, 0, 0.95)]


def test_exactly_at_the_threshold_matches_and_just_below_does_not():
    at = match(np.array([[0.5]]), ["car"], ["car"], threshold=0.5)
    below = match(np.array([[np.nextafter(0.5, 0)]]), ["car"], ["car"], threshold=0.5)
    assert at.matched == 1 and below.matched == 0


def test_ties_are_resolved_the_same_way_every_time():
    sim = np.full((2, 2), 0.8)
    first = match(sim, ["a", "a"], ["a", "a"]).pairs
    assert first == match(sim, ["a", "a"], ["a", "a"]).pairs and len(first) == 2


def test_precision_and_recall_keep_their_direction():
    sim = np.array([[0.9, 0.0, 0.0]])
    result = match(sim, ["a"], ["a", "a", "a"])
    assert (result.precision, result.recall, result.f1) == (1.0, pytest.approx(1 / 3), 0.5)


def test_nan_similarity_is_treated_as_no_match():
    result = match(np.array([[np.nan]]), ["a"], ["a"])
    assert result.matched == 0 and _finite(result)


def test_as_dict_is_plain_json():
    result = match(np.array([[0.75]]), ["a"], ["a"]).as_dict()
    assert result["pairs"] == [[0, 0, 0.75]] and result["f1"] == 1.0
