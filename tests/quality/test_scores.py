"""Annotator quality scores against hand-computed cases (the formulas are in apps/quality/scores.py)."""

import pytest

from apps.quality import scores
from apps.quality.models import QualityPolicy

from .samples import Samples

pytestmark = pytest.mark.django_db


def _score(task, user):
    return scores.scores(org_id=task.organization_id, task=task, user_ids=[user.pk])[user.pk]


def test_no_sample_means_no_score_rather_than_zero(make_task, team):
    task = make_task(n_items=1)

    score = _score(task, team["annotators"][0].user)

    assert (score.score, score.samples, score.low, score.high) == (None, 0, None, None)


def test_one_gold_sample_is_the_score_with_a_wide_interval(make_task, team):
    task = make_task(n_items=1)
    user = team["annotators"][0].user
    Samples(task).gold(user, 0.5)

    score = _score(task, user)

    assert (score.score, score.samples) == (0.5, 1)
    assert (score.low, score.high) == (pytest.approx(0.0546, abs=1e-4), pytest.approx(0.9454, abs=1e-4))
    assert score.gold == {"mean": 0.5, "samples": 1}


def test_gold_reviews_and_consensus_pool_into_one_mean(make_task, team):
    task = make_task(n_items=6)
    a, b, c = (m.user for m in team["annotators"])
    s = Samples(task)
    s.gold(a, 0.6, hours_ago=5)
    s.review(a, True, hours_ago=4)
    s.review(a, False, hours_ago=3)
    s.consensus([a, b, c], {(0, 1): 0.9, (0, 2): 0.6, (1, 2): 0.3}, hours_ago=2)

    found = scores.scores(org_id=task.organization_id, task=task, user_ids=[a.pk, b.pk, c.pk])

    # a: gold 0.6, approved 1, rejected 0, agreement (0.9 + 0.6) / 2 = 0.75 -> (0.6 + 1 + 0 + 0.75) / 4
    assert found[a.pk].score == pytest.approx(2.35 / 4)
    assert found[a.pk].samples == 4
    assert found[a.pk].review == {"approval_rate": 0.5, "approved": 1, "rejected": 1}
    assert found[a.pk].consensus == {"mean": pytest.approx(0.75), "samples": 1}
    assert found[b.pk].score == pytest.approx(0.6)  # (0.9 + 0.3) / 2
    assert found[c.pk].score == pytest.approx(0.45)  # (0.6 + 0.3) / 2


def test_the_window_keeps_the_latest_units(make_task, team):
    task = make_task(n_items=3)
    QualityPolicy.objects.create(organization_id=task.organization_id, task=task, window_units=2)
    user = team["annotators"][0].user
    s = Samples(task)
    s.gold(user, 0.0, hours_ago=3)  # the third most recent: outside a window of 2
    s.review(user, True, hours_ago=2)
    s.gold(user, 0.5, hours_ago=1)

    score = _score(task, user)

    assert (score.score, score.samples) == (0.75, 2)
    assert (score.low, score.high) == (pytest.approx(0.1979, abs=1e-4), pytest.approx(0.9733, abs=1e-4))


def test_the_window_in_days_drops_older_samples(make_task, team):
    task = make_task(n_items=2)
    QualityPolicy.objects.create(organization_id=task.organization_id, task=task, window_days=1)
    user = team["annotators"][0].user
    s = Samples(task)
    s.gold(user, 0.0, hours_ago=25)
    s.gold(user, 1.0, hours_ago=23)

    assert (_score(task, user).score, _score(task, user).samples) == (1.0, 1)


def test_overall_counts_every_task_and_per_task_only_its_own(make_task, team):
    first, second = make_task(n_items=1), make_task(n_items=1)
    user = team["annotators"][0].user
    Samples(first).gold(user, 1.0)
    Samples(second).review(user, False)

    overall = scores.scores(org_id=first.organization_id, user_ids=[user.pk])[user.pk]

    assert (overall.score, overall.samples) == (0.5, 2)
    assert _score(first, user).score == 1.0 and _score(second, user).score == 0.0


def test_the_performance_report_shows_this_score(make_task, team, org_a):
    from apps.performance.reports import ReportQuery, _external_quality

    task = make_task(n_items=2)
    user = team["annotators"][0].user
    s = Samples(task)
    s.gold(user, 1.0)
    s.review(user, False)

    assert _external_quality(org_a.pk, ReportQuery(task_id=task.pk), [user.pk]) == {user.pk: 0.5}
