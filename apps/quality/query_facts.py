"""Workforce and quality facts in the item query language (apps/datasets/query.py), registered by QualityConfig:

    {"work.annotated_by": "ann@example.com"}      items with a unit submitted by this person (email, any case,
    {"work.annotated_by": 42}                      or user id); $ne / $nin are the exact complement, $in a list
    {"work.review_status": "rejected"}            items whose annotate work is approved | rejected | in_review now;
                                                  "none": no unit of the item is in one of those states
    {"work.rejected_within_days": 7}              items whose work was rejected in a review of the last 7 days
    {"quality.agreement": {"$lt": 0.6}}           items with a consensus result scoring below 0.6 ($eq, $ne, $gt,
                                                  $gte, $lt, $lte; $exists: has a consensus result at all)

Each condition is an EXISTS over the item's own rows, scoped to the outer item's organisation (and by row-level
security); the values are parsed like any field's, and nothing from input reaches a lookup name.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.datasets.query import (
    RANGE,
    ChoiceType,
    Field,
    IntegerType,
    NumberType,
    QueryError,
    check_bool,
    check_list,
    check_string,
    describe,
)
from apps.workforce.models import ConsensusResult, ReviewRound, WorkItem

REVIEW_STATES = {"approved": WorkItem.State.APPROVED, "rejected": WorkItem.State.REJECTED,
                 "in_review": WorkItem.State.IN_REVIEW}
MAX_DAYS = 3650


def _units_of_item():
    return WorkItem.objects.filter(organization_id=OuterRef("organization_id"), item_id=OuterRef("pk"),
                                   stage=WorkItem.Stage.ANNOTATE)


def _person(value, path) -> Q:
    """A user id (integer) or an email (string, compared case-insensitively)."""
    if isinstance(value, str):
        return Q(assignee__email__iexact=check_string(value, path))
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return Q(assignee_id=value)
    raise QueryError(path, f"expected an email or a user id, got {describe(value)}")


class AnnotatedByFact(Field):
    name = "work.annotated_by"
    operators = frozenset({"$eq", "$ne", "$in", "$nin"})

    def condition(self, op, value, path):
        if op in ("$eq", "$ne"):
            who = _person(value, path)
        else:
            values = check_list(value, path)
            if not values:
                return Q(pk__in=[]) if op == "$in" else Q()
            who = Q()
            for i, v in enumerate(values):
                who = _person(v, f"{path}[{i}]") if i == 0 else who | _person(v, f"{path}[{i}]")
        q = Q(Exists(_units_of_item().filter(who, submitted_at__isnull=False)))
        return q if op in ("$eq", "$in") else ~q


class ReviewStatusFact(Field):
    name = "work.review_status"
    operators = frozenset({"$eq", "$ne", "$in", "$nin"})
    type = ChoiceType([*REVIEW_STATES, "none"])

    def _one(self, status: str) -> Q:
        if status == "none":
            return ~Q(Exists(_units_of_item().filter(state__in=list(REVIEW_STATES.values()))))
        return Q(Exists(_units_of_item().filter(state=REVIEW_STATES[status])))

    def condition(self, op, value, path):
        if op in ("$eq", "$ne"):
            q = self._one(self.type.parse(value, path))
        else:
            statuses = [self.type.parse(v, f"{path}[{i}]") for i, v in enumerate(check_list(value, path))]
            q = Q(pk__in=[])
            for i, status in enumerate(statuses):
                q = self._one(status) if i == 0 else q | self._one(status)
        return q if op in ("$eq", "$in") else ~q


class RejectedWithinDaysFact(Field):
    name = "work.rejected_within_days"
    operators = frozenset({"$eq"})

    def condition(self, op, value, path):
        days = IntegerType().parse(value, path)
        if not 0 <= days <= MAX_DAYS:
            raise QueryError(path, f"expected a number of days from 0 to {MAX_DAYS}, got {describe(value)}")
        since = timezone.now() - timedelta(days=days)
        rounds = ReviewRound.objects.filter(organization_id=OuterRef("organization_id"),
                                            work_item__item_id=OuterRef("pk"),
                                            decision=ReviewRound.Decision.REJECTED, decided_at__gte=since)
        return Q(Exists(rounds))


class AgreementFact(Field):
    name = "quality.agreement"
    operators = frozenset({"$eq", "$ne", *RANGE, "$exists"})
    _LOOKUPS = {"$eq": "exact", "$ne": "exact", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}

    def condition(self, op, value, path):
        results = ConsensusResult.objects.filter(organization_id=OuterRef("organization_id"), item_id=OuterRef("pk"))
        if op == "$exists":
            q = Q(Exists(results))
            return q if check_bool(value, path) else ~q
        number = NumberType().parse(value, path)
        q = Q(Exists(results.filter(**{f"score__{self._LOOKUPS[op]}": float(number)})))
        return ~q if op == "$ne" else q


FACTS = {
    "work": {"annotated_by": AnnotatedByFact, "review_status": ReviewStatusFact,
             "rejected_within_days": RejectedWithinDaysFact},
    "quality": {"agreement": AgreementFact},
}


def _resolver(family: str):
    def resolve(name: str, segments: tuple[str, ...]) -> Field:
        facts = FACTS[family]
        if len(segments) != 1 or segments[0] not in facts:
            raise QueryError("", f"unknown field {name!r}: {family} facts are "
                                 f"{', '.join(f'{family}.{k}' for k in facts)}")
        return facts[segments[0]]()

    return resolve


def register() -> None:
    from apps.datasets.query import ITEM_FIELDS

    for family in FACTS:
        ITEM_FIELDS.register_family(family, _resolver(family))
