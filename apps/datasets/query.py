"""The item query language (DESIGN.md, Data): JSON filters and sorts compiled to ORM expressions.

A filter is a JSON object; each key is a field or a logical operator:

    {"kind": "image", "size": {"$gte": 1000, "$lt": 5000},
     "$or": [{"metadata.camera": "A"}, {"metadata.tags": {"$contains": "night"}}]}

- `{"field": value}` means `{"field": {"$eq": value}}`; several keys in one object, and several operators
  on one field, are ANDed. `$and` and `$or` take non-empty lists of filters, `$not` one filter (or, under a
  field, one operator object: `{"size": {"$not": {"$gt": 5}}}`).
- Only the fields registered in a FieldRegistry exist. Every name from input is looked up there and nothing
  else ever reaches an ORM lookup: no `__`, no relations, no raw SQL built from input. New families of fields
  (`annotations.label` once annotations exist) are added with `ITEM_FIELDS.register_family(...)`.
- A bad query raises QueryError(path, message); the path names the offending place, e.g.
  `filter.$and[1].metadata.camera.$gt`, and the API answers 400 with it.

Semantics worth knowing (they are what the tests pin):
- `$ne` and `$nin` match every row that `$eq` / `$in` does not, including rows where the field is null
  (columns) or missing (metadata). `$not` is an exact complement too: `{"$not": F}` returns the rows F does not.
- `{"size": null}` matches a null column. For metadata, `{"metadata.a": null}` matches a stored JSON null only;
  use `{"metadata.a": {"$exists": false}}` for a missing key.
- Metadata `$eq` / `$in` compile to JSONB containment (`metadata @> {"a": {"b": value}}`) so the GIN
  (jsonb_path_ops) index can serve them. Types are exact: "100" does not equal 100, true does not equal 1,
  and a scalar does not equal an array that contains it (that is `$contains`).
- Metadata `$gt`/`$gte`/`$lt`/`$lte` compare within one JSON type: a number bound matches only JSON numbers
  (compared as numeric), a string bound only JSON strings (compared as text under the database collation).
  Values of other types, and missing keys, simply do not match; nothing is cast, so nothing can fail to cast.
- Metadata `$contains`: a scalar matches an array holding it (`{"metadata.tags": {"$contains": "night"}}`),
  a list matches an array holding all of its values, an object matches an object holding that sub-object.
  On name, folder and mime, `$contains` is a case-insensitive substring match.
- `$exists` asks whether the key is present in its parent object (`?` on the parent path); on a nullable
  column, whether it is not null. Path segments always name object keys, never array positions.

Sorting (parse_sort) uses the same fields: `["-size", {"field": "name", "direction": "asc"}]`, at most three
keys, nulls last in both directions, `id` appended as the final tiebreaker in the last key's direction.
Metadata keys sort by their JSONB value (within a type: strings by collation, numbers numerically; across
types: strings, then numbers, then booleans, then arrays, then objects), JSON null and missing keys last.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, F, Func, JSONField, Q, TextField, Value
from django.db.models.expressions import Case, ExpressionWrapper, When
from django.db.models.functions import Cast, Coalesce, NullIf
from django.db.models.lookups import Exact

from .models import Item
from .query_values import (  # noqa: F401  (re-exported: the query facts of other apps import them from here)
    MAX_CONDITIONS,
    MAX_IN_VALUES,
    MAX_NESTING,
    MAX_PATH_DEPTH,
    MAX_SORT_KEYS,
    MAX_STRING,
    ChoiceType,
    DateTimeType,
    IntegerType,
    NumberType,
    QueryError,
    TextType,
    ValueType,
    check_bool,
    check_json,
    check_list,
    check_number,
    check_scalar,
    check_string,
    describe,
    short_text,
)

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$contains")
RANGE = ("$gt", "$gte", "$lt", "$lte")
_RANGE_LOOKUP = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_RANGE_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]+")


def _nothing() -> Q:
    """A condition no row meets (Django compiles it to no query at all where it can)."""
    return Q(pk__in=[])


# ---------------------------------------------------------------------------------------------------------
# Fields


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key. `expression` is an ORM expression over the model; `cursor_type` says how its value
    travels in a keyset cursor ("text", "integer", "number", "datetime", or "json": JSONB as its text)."""

    field: str
    descending: bool
    expression: Any
    nullable: bool
    cursor_type: str

    @property
    def direction(self) -> str:
        return "desc" if self.descending else "asc"

    @property
    def token(self) -> str:
        return f"{self.field}:{self.direction}"


class Field(ABC):
    """A queryable field: which operators it takes and the condition each one compiles to."""

    name: str
    operators: frozenset[str]

    @abstractmethod
    def condition(self, op: str, value: Any, path: str) -> Q:
        """The Q for `{name: {op: value}}`; `op` is one of self.operators; raises QueryError on bad values."""

    def sort_key(self, *, descending: bool, path: str) -> SortKey:
        raise QueryError(path, f"field '{self.name}' cannot be sorted")


class ColumnField(Field):
    """A model column; `column` is fixed in code, never taken from input."""

    def __init__(self, name: str, column: str, value_type: ValueType, *, nullable: bool = False,
                 substring: bool = False):
        self.name = name
        self.column = column
        self.type = value_type
        self.nullable = nullable
        ops = {"$eq", "$ne", "$in", "$nin"}
        if value_type.ranged:
            ops |= set(RANGE)
        if substring:
            ops.add("$contains")
        if nullable:
            ops.add("$exists")
        self.operators = frozenset(ops)

    def _q(self, lookup: str, value: Any) -> Q:
        return Q(**{f"{self.column}__{lookup}": value})

    def _value(self, value: Any, path: str) -> Any:
        if value is None and self.nullable:
            return None
        return self.type.parse(value, path)

    def _in(self, values: list, path: str) -> Q:
        parsed = [self._value(v, f"{path}[{i}]") for i, v in enumerate(check_list(values, path))]
        present = [v for v in parsed if v is not None]
        q = self._q("in", present) if present else _nothing()
        if len(present) < len(parsed):
            q |= self._q("isnull", True)
        return q

    def condition(self, op, value, path):
        if op in ("$eq", "$ne"):
            parsed = self._value(value, path)
            q = self._q("isnull", True) if parsed is None else self._q("exact", parsed)
            return q if op == "$eq" else ~q
        if op in ("$in", "$nin"):
            q = self._in(value, path)
            return q if op == "$in" else ~q
        if op in RANGE:
            return self._q(_RANGE_LOOKUP[op], self.type.parse(value, path))
        if op == "$contains":
            return self._q("icontains", TextType().parse(value, path))
        if op == "$exists":
            return self._q("isnull", not check_bool(value, path))
        raise AssertionError(op)

    def sort_key(self, *, descending, path):
        return SortKey(self.name, descending, F(self.column), self.nullable, self.type.cursor_type)


class Infix(Func):
    """`lhs <operator> rhs` for one operator from a fixed set; both sides are expressions."""

    template = "(%(expressions)s)"
    OPERATORS = frozenset({"#>", "?", "=", "<", "<=", ">", ">="})
    POSTGRESQL_ONLY = frozenset({"#>", "?"})

    def __init__(self, lhs, operator: str, rhs, *, output_field):
        if operator not in self.OPERATORS:
            raise ValueError(f"unsupported SQL operator {operator!r}")
        self.operator = operator
        super().__init__(lhs, rhs, output_field=output_field, arg_joiner=f" {operator} ")

    def as_sql(self, compiler, connection, **extra_context):
        if self.operator in self.POSTGRESQL_ONLY and connection.vendor != "postgresql":
            raise NotSupportedError("metadata queries need PostgreSQL")
        return super().as_sql(compiler, connection, **extra_context)


def _jsonb(value: Any) -> Value:
    return Value(value, output_field=JSONField())


def _typeof(expression) -> Func:
    return Func(expression, function="jsonb_typeof", output_field=TextField())


def _never_null(q: Q) -> Coalesce:
    """The condition with NULL read as false, so that NOT of it is its exact complement."""
    return Coalesce(ExpressionWrapper(q, output_field=BooleanField()), Value(False), output_field=BooleanField())


class JsonPathField(Field):
    """A key path inside a JSONB column (`metadata.camera.iso` -> metadata #> '{camera,iso}')."""

    operators = frozenset(COMPARISONS)

    def __init__(self, name: str, column: str, segments: tuple[str, ...]):
        self.name = name
        self.column = column
        self.segments = segments

    def _nested(self, value: Any) -> dict:
        for key in reversed(self.segments):
            value = {key: value}
        return value

    def _contains(self, value: Any) -> Q:
        return Q(**{f"{self.column}__contains": self._nested(value)})

    def value_at(self, segments: tuple[str, ...] | None = None):
        """The JSON value at the path, SQL NULL where it is missing. A key that looks like an array position
        ("0") still names an object key: `#>` would index arrays with it, so its parent must be an object."""
        segments = self.segments if segments is None else segments
        at = Infix(F(self.column), "#>", Value(list(segments)), output_field=JSONField())
        guards = [Q(Exact(_typeof(self.value_at(segments[:i])), "object"))
                  for i in range(1, len(segments)) if _DIGITS.fullmatch(segments[i])]
        if not guards:
            return at
        condition = guards[0]
        for guard in guards[1:]:
            condition &= guard
        return Case(When(condition, then=at), default=None, output_field=JSONField())

    def _compare(self, op: str, value: Any, path: str) -> Coalesce:
        if isinstance(value, str):
            json_type = "string"
            check_string(value, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            json_type = "number"
            check_number(value, path)
        else:
            raise QueryError(path, f"expected a number or a string, got {describe(value)}")
        at = self.value_at()
        return _never_null(
            Q(Exact(_typeof(at), json_type)) & Q(Infix(at, _RANGE_SQL[op], _jsonb(value), output_field=BooleanField()))
        )

    def _exists(self) -> Q:
        *parent, leaf = self.segments
        if not parent:
            return Q(**{f"{self.column}__has_key": leaf})
        at = self.value_at(tuple(parent))
        return Q(_never_null(
            Q(Exact(_typeof(at), "object")) & Q(Infix(at, "?", Value(leaf), output_field=BooleanField()))
        ))

    def condition(self, op, value, path):
        if op in ("$eq", "$ne"):
            q = self._contains(check_scalar(value, path))
            return q if op == "$eq" else ~q
        if op in ("$in", "$nin"):
            values = [check_scalar(v, f"{path}[{i}]") for i, v in enumerate(check_list(value, path))]
            q = _nothing()
            for index, v in enumerate(values):
                q = self._contains(v) if index == 0 else q | self._contains(v)
            return q if op == "$in" else ~q
        if op in RANGE:
            return Q(self._compare(op, value, path))
        if op == "$exists":
            q = self._exists()
            return q if check_bool(value, path) else ~q
        if op == "$contains":
            value = check_json(value, path)
            return self._contains(value if isinstance(value, list | dict) else [value])
        raise AssertionError(op)

    def sort_key(self, *, descending, path):
        expression = NullIf(self.value_at(), Cast(Value("null"), output_field=JSONField()))
        return SortKey(self.name, descending, expression, True, "json")


FamilyResolver = Callable[[str, tuple[str, ...]], Field]


class FieldRegistry:
    """The whitelist: named fields, and families of dotted paths (`metadata.<key>...`) resolved by a function
    that receives already validated key segments."""

    def __init__(self):
        self._fields: dict[str, Field] = {}
        self._families: dict[str, FamilyResolver] = {}

    def register(self, field: Field) -> Field:
        if field.name in self._fields or "." in field.name:
            raise ValueError(f"cannot register field {field.name!r}")
        self._fields[field.name] = field
        return field

    def register_family(self, prefix: str, resolver: FamilyResolver) -> None:
        if prefix in self._families or prefix in self._fields or not _KEY.fullmatch(prefix):
            raise ValueError(f"cannot register field family {prefix!r}")
        self._families[prefix] = resolver

    def resolve(self, name: Any, path: str) -> Field:
        if not isinstance(name, str):
            raise QueryError(path, f"expected a field name, got {describe(name)}")
        if name in self._fields:
            return self._fields[name]
        prefix, dot, rest = name.partition(".")
        if not dot or prefix not in self._families:
            raise QueryError(path, f"unknown field {describe(name)}")
        segments = tuple(rest.split("."))
        if len(segments) > MAX_PATH_DEPTH:
            raise QueryError(path, f"{prefix} paths are at most {MAX_PATH_DEPTH} keys deep")
        for segment in segments:
            if not _KEY.fullmatch(segment) or "__" in segment:
                raise QueryError(path, f"invalid key {describe(segment)} in {prefix} path: keys are 1 to 64 "
                                       "letters, digits, '-' or '_', without '__'")
        try:
            return self._families[prefix](name, segments)
        except QueryError as exc:  # a resolver does not know where in the filter it is
            raise QueryError(path, exc.message) from None


def _item_fields() -> FieldRegistry:
    registry = FieldRegistry()
    for field in (
        ColumnField("name", "name", TextType(), substring=True),
        ColumnField("folder", "folder", TextType(), substring=True),
        ColumnField("mime", "mime", TextType(), substring=True),
        ColumnField("kind", "kind", ChoiceType(Item.Kind.values)),
        ColumnField("status", "status", ChoiceType(Item.Status.values)),
        ColumnField("created_at", "created_at", DateTimeType()),
        ColumnField("size", "size", IntegerType(), nullable=True),
        ColumnField("width", "width", IntegerType(), nullable=True),
        ColumnField("height", "height", IntegerType(), nullable=True),
        ColumnField("duration", "duration", NumberType(), nullable=True),
    ):
        registry.register(field)
    registry.register_family("metadata", lambda name, segments: JsonPathField(name, "metadata", segments))
    return registry


ITEM_FIELDS = _item_fields()


# ---------------------------------------------------------------------------------------------------------
# Filters


class _Compiler:
    def __init__(self, fields: FieldRegistry):
        self.fields = fields
        self.conditions = 0

    def count(self, path: str) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QueryError(path, f"too many conditions: at most {MAX_CONDITIONS}")

    @staticmethod
    def nest(path: str, depth: int) -> int:
        if depth + 1 > MAX_NESTING:
            raise QueryError(path, f"nested too deeply: at most {MAX_NESTING} levels of $and, $or and $not")
        return depth + 1

    @staticmethod
    def object(value: Any, path: str, *, allow_empty: bool = False) -> dict:
        if not isinstance(value, dict):
            raise QueryError(path, f"expected an object, got {describe(value)}")
        if not value and not allow_empty:
            raise QueryError(path, "expected a non-empty object")
        return value

    def filter(self, node: Any, path: str, depth: int, *, allow_empty: bool = False) -> Q:
        q = Q()
        for key, value in self.object(node, path, allow_empty=allow_empty).items():
            q &= self.entry(key, value, path, depth)
        return q

    def entry(self, key: Any, value: Any, path: str, depth: int) -> Q:
        here = f"{path}.{key}" if isinstance(key, str) and len(key) <= 200 else f"{path}.{describe(key)}"
        if isinstance(key, str) and key.startswith("$"):
            if key in ("$and", "$or"):
                inner = self.nest(here, depth)
                items = value if isinstance(value, list) else None
                if not items:
                    raise QueryError(here, f"expected a non-empty list, got {describe(value)}")
                if len(items) > MAX_CONDITIONS:
                    raise QueryError(here, f"too many conditions: at most {MAX_CONDITIONS}")
                parts = [self.filter(item, f"{here}[{i}]", inner) for i, item in enumerate(items)]
                q = parts[0]
                for part in parts[1:]:
                    q = q & part if key == "$and" else q | part
                return q
            if key == "$not":
                return ~self.filter(value, here, self.nest(here, depth))
            if key in COMPARISONS:
                raise QueryError(here, f"operator {key} needs a field: {{\"<field>\": {{\"{key}\": ...}}}}")
            raise QueryError(here, f"operator {short_text(key)} is not supported")
        field = self.fields.resolve(key, here)
        if isinstance(value, dict):
            return self.operators(field, value, here, depth)
        self.count(here)
        return field.condition("$eq", value, here)

    def operators(self, field: Field, ops: dict, path: str, depth: int) -> Q:
        if not ops:
            raise QueryError(path, "expected at least one operator, e.g. {\"$eq\": ...}")
        q = Q()
        for op, value in ops.items():
            here = f"{path}.{op}" if isinstance(op, str) and len(op) <= 200 else f"{path}.{describe(op)}"
            if op == "$not":
                q &= ~self.operators(field, self.object(value, here), here, self.nest(here, depth))
                continue
            if not isinstance(op, str) or not op.startswith("$"):
                raise QueryError(here, f"expected an operator such as $eq, got {describe(op)}; "
                                       "to match part of an object use $contains")
            if op not in COMPARISONS:
                raise QueryError(here, f"operator {short_text(op)} is not supported")
            if op not in field.operators:
                raise QueryError(here, f"operator {op} is not supported for field '{field.name}'")
            self.count(here)
            q &= field.condition(op, value, here)
        return q


def compile_filter(filter: dict | None, *, fields: FieldRegistry = ITEM_FIELDS) -> Q:
    """The Q for a JSON filter (None or {} match everything); raises QueryError naming the bad path."""
    if filter is None:
        return Q()
    return _Compiler(fields).filter(filter, "filter", 0, allow_empty=True)


# ---------------------------------------------------------------------------------------------------------
# Sorts

DEFAULT_SORT = ("-created_at",)


def parse_sort(sort: list | None, *, fields: FieldRegistry = ITEM_FIELDS) -> list[SortKey]:
    """SortKeys for `["-size", {"field": "name", "direction": "asc"}]` (None or [] = newest first), with
    `id` appended in the last key's direction so that the order is total."""
    if sort is None or sort == []:
        sort = list(DEFAULT_SORT)
    if not isinstance(sort, list):
        raise QueryError("sort", f"expected a list, got {describe(sort)}")
    if len(sort) > MAX_SORT_KEYS:
        raise QueryError("sort", f"at most {MAX_SORT_KEYS} sort keys")
    keys: list[SortKey] = []
    for index, entry in enumerate(sort):
        path = f"sort[{index}]"
        if isinstance(entry, str):
            descending = entry.startswith("-")
            name = entry[1:] if descending else entry
            name_path = path
        elif isinstance(entry, dict):
            unknown = set(entry) - {"field", "direction"}
            if unknown:
                raise QueryError(f"{path}.{sorted(map(str, unknown))[0]}", "unknown key; use field and direction")
            name, name_path = entry.get("field"), f"{path}.field"
            direction = entry.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise QueryError(f"{path}.direction", f"expected 'asc' or 'desc', got {describe(direction)}")
            descending = direction == "desc"
        else:
            raise QueryError(path, f"expected a field name or {{\"field\": ..., \"direction\": ...}}, "
                                   f"got {describe(entry)}")
        key = fields.resolve(name, name_path).sort_key(descending=descending, path=name_path)
        if any(existing.field == key.field for existing in keys):
            raise QueryError(name_path, f"field '{key.field}' is sorted on twice")
        keys.append(key)
    keys.append(SortKey("id", keys[-1].descending, F("pk"), False, "integer"))
    return keys
