"""Fixtures of the performance tests: the people of the hand-computed work log (factories.py)."""

import pytest

from apps.tenancy.roles import Role

from .factories import build_worked_task


@pytest.fixture
def people(org_a, make_member):
    return {
        "A": make_member(org_a, Role.ANNOTATOR, full_name="Ann Able"),
        "B": make_member(org_a, Role.ANNOTATOR, full_name="Ben Bell"),
        "C": make_member(org_a, Role.ANNOTATOR, full_name="Cy Cole"),
        "R": make_member(org_a, Role.REVIEWER, full_name="Rae Reed"),
    }


@pytest.fixture
def worked_task(org_a, owner_a, people):
    return build_worked_task(org_a, owner_a, people)
