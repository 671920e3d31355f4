"""Annotation facts in the item query language (apps/datasets/query.py), registered when the app loads.

    {"annotations.label": "car"}                      items with at least one annotation labelled car
    {"annotations.label": {"$in": ["car", "bus"]}}    ... labelled car or bus
    {"annotations.label": {"$ne": "car"}}             items with no annotation labelled car (the exact complement)
    {"annotations.type": "polygon"}, {"annotations.source": "model"}   likewise
    {"annotations.count": {"$gte": 3}}                items with 3 or more annotations; {"annotations.count": 0}
                                                      is the unannotated ones
    {"annotations.label": {"$exists": true}}          items with any annotation

Each condition is an EXISTS (or a COUNT) over the item's own annotations; the values are checked like any other
field's, and nothing from input reaches a lookup name.
"""

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value, lookups
from django.db.models.functions import Coalesce

from apps.datasets.query import (
    RANGE,
    ChoiceType,
    Field,
    IntegerType,
    QueryError,
    TextType,
    check_bool,
    check_list,
)

from .models import Annotation, AnnotationType, Source


def _annotations_of_item():
    # Scoped to the outer item's organisation (the subquery's for_org), and by row-level security.
    return Annotation.objects.filter(organization_id=OuterRef("organization_id"), item_id=OuterRef("pk"))


class AnnotationColumnFact(Field):
    operators = frozenset({"$eq", "$ne", "$in", "$nin", "$exists"})

    def __init__(self, name: str, column: str, value_type):
        self.name, self.column, self.type = name, column, value_type

    def condition(self, op, value, path):
        if op == "$exists":
            q = Q(Exists(_annotations_of_item()))
            return q if check_bool(value, path) else ~q
        if op in ("$eq", "$ne"):
            match = {self.column: self.type.parse(value, path)}
        else:
            values = [self.type.parse(v, f"{path}[{i}]") for i, v in enumerate(check_list(value, path))]
            match = {f"{self.column}__in": values}
        q = Q(Exists(_annotations_of_item().filter(**match)))
        return q if op in ("$eq", "$in") else ~q


class AnnotationCountFact(Field):
    """How many annotations the item has, compared inline (a correlated COUNT)."""

    name = "annotations.count"
    operators = frozenset({"$eq", "$ne", "$in", "$nin", *RANGE})

    @staticmethod
    def _count():
        counted = (_annotations_of_item().order_by().values("item_id")
                   .annotate(n=Count("id")).values("n"))
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    def condition(self, op, value, path):
        integer = IntegerType()
        count = self._count()
        if op in ("$in", "$nin"):
            values = [integer.parse(v, f"{path}[{i}]") for i, v in enumerate(check_list(value, path))]
            q = Q(lookups.In(count, values)) if values else Q(pk__in=[])
        else:
            q = Q(_COMPARE[op](count, integer.parse(value, path)))
        return ~q if op in ("$ne", "$nin") else q


_COMPARE = {"$eq": lookups.Exact, "$ne": lookups.Exact, "$gt": lookups.GreaterThan,
            "$gte": lookups.GreaterThanOrEqual, "$lt": lookups.LessThan, "$lte": lookups.LessThanOrEqual}


FACTS = {
    "label": lambda name: AnnotationColumnFact(name, "label", TextType()),
    "type": lambda name: AnnotationColumnFact(name, "type", ChoiceType(AnnotationType.values)),
    "source": lambda name: AnnotationColumnFact(name, "source", ChoiceType(Source.values)),
    "count": lambda name: AnnotationCountFact(),
}


def resolve(name: str, segments: tuple[str, ...]) -> Field:
    if len(segments) != 1 or segments[0] not in FACTS:
        raise QueryError("", f"unknown field {name!r}: annotation facts are "
                             f"{', '.join('annotations.' + k for k in FACTS)}")
    return FACTS[segments[0]](name)


def register() -> None:
    from apps.datasets.query import ITEM_FIELDS

    ITEM_FIELDS.register_family("annotations", resolve)
