"""Automation facts in the item query language (apps/datasets/query.py), registered by AutomationConfig:

    {"pipeline.run": 12}            items that went through pipeline run 12 (any node, whatever their outcome)
    {"pipeline.run": {"$in": [12, 13]}}, {"pipeline.run": {"$ne": 12}}, {"$nin": [...]}: as usual

A pipeline's dataset_version node with scope "run" versions exactly the run's items through it. The condition is an
EXISTS over the item's own node runs, scoped to the outer item's organisation (and by row-level security).
"""

from django.db.models import Exists, OuterRef, Q

from apps.datasets.query import Field, IntegerType, QueryError, check_list, describe

from .models import NodeRun


def _run_id(value, path) -> int:
    number = IntegerType().parse(value, path)
    if number <= 0:
        raise QueryError(path, f"expected a pipeline run id, got {describe(value)}")
    return number


class PipelineRunFact(Field):
    name = "pipeline.run"
    operators = frozenset({"$eq", "$ne", "$in", "$nin"})

    def condition(self, op, value, path):
        if op in ("$eq", "$ne"):
            runs = [_run_id(value, path)]
        else:
            runs = [_run_id(v, f"{path}[{i}]") for i, v in enumerate(check_list(value, path))]
            if not runs:
                return Q(pk__in=[]) if op == "$in" else Q()
        q = Q(Exists(NodeRun.objects.filter(organization_id=OuterRef("organization_id"), item_id=OuterRef("pk"),
                                            run_id__in=runs)))
        return q if op in ("$eq", "$in") else ~q


def _resolve(name: str, segments: tuple[str, ...]) -> Field:
    if segments != ("run",):
        raise QueryError("", f"unknown field {name!r}: the pipeline fact is pipeline.run")
    return PipelineRunFact()


def register() -> None:
    from apps.datasets.query import ITEM_FIELDS

    ITEM_FIELDS.register_family("pipeline", _resolve)
