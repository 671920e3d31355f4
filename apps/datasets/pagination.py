"""Keyset (cursor) pagination over any parse_sort() order, and counts that stay fast on millions of rows.

A page is "the first page_size rows after the cursor's row" in the sort order, never an OFFSET, so page 10,000
costs what page 1 does when an index matches the order. The cursor is opaque and signed; it carries a
fingerprint of the sort and of the queryset's SQL (filter, dataset, organisation) and the last row's sort
values, so it cannot be replayed against another filter or sort, or edited, without a QueryError("cursor").

NULLs sort last in both directions. A btree index yields `DESC NULLS FIRST`, so a page is fetched in segments:
the rows where the leading key is not null (ordered as the index is: `(dataset, size, id)` scanned backwards
for `-size`), then, only when that runs out, the rows where it is null (ordered by the remaining keys). Within
a segment, when every key is non-null and runs in one direction, "after the cursor" is one row comparison
`(size, id) < (x, y)` that the index seeks to; otherwise it is the expansion
`(a > x) OR (a = x AND b > y) OR ...` with NULL-aware terms, led by `a >= x` so the index still bounds the scan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    BigIntegerField,
    BooleanField,
    DateTimeField,
    FloatField,
    Func,
    JSONField,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.expressions import OrderBy
from django.db.models.functions import Cast
from django.db.models.lookups import IsNull

from .query import Infix, QueryError, SortKey

CURSOR_SALT = "items.cursor"
MAX_PAGE_SIZE = 500
# A cursor carries the last row's sort values; a metadata sort value may be a long string (metadata is up to
# 16 KB), so this bounds only absurd input. Callers that cap the cursor's length must allow as much.
MAX_CURSOR_LENGTH = 32_768
_VERSION = 1
_BAD_CURSOR = "this cursor is not valid; start again from the first page"
_OTHER_QUERY = "this cursor belongs to another filter or sort; start again from the first page"
_CURSOR_FIELDS = {"datetime": DateTimeField, "integer": BigIntegerField, "number": FloatField}


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    has_more: bool


def _alias(index: int) -> str:
    return f"keyset_value_{index}"


def _rhs(key: SortKey, value: Any):
    if key.cursor_type == "json":
        return Cast(Value(value, output_field=TextField()), output_field=JSONField())
    return Value(value, output_field=_CURSOR_FIELDS.get(key.cursor_type, TextField)())


def _compare(key: SortKey, operator: str, value: Any) -> Q:
    return Q(Infix(key.expression, operator, _rhs(key, value), output_field=BooleanField()))


def _same(key: SortKey, value: Any) -> Q:
    return Q(IsNull(key.expression, True)) if value is None else _compare(key, "=", value)


def _later(key: SortKey, value: Any) -> Q | None:
    """Rows strictly after `value` on this one key, or None when nothing can be (a null, with nulls last)."""
    if value is None:
        return None
    later = _compare(key, "<" if key.descending else ">", value)
    if key.nullable:
        later |= Q(IsNull(key.expression, True))
    return later


def _after(keys: list[SortKey], values: list) -> Q:
    """Rows after the cursor row in the order of `keys` (nulls last)."""
    if not any(key.nullable for key in keys) and len({key.descending for key in keys}) == 1:
        # One row comparison `(a, id) > (x, y)`, which a btree on the same columns turns into where its scan
        # starts. A row has no Django type of its own; it is only ever compared, so any output_field will do.
        row = Func(*(key.expression for key in keys), template="(%(expressions)s)", output_field=BooleanField())
        last = Func(*(_rhs(key, value) for key, value in zip(keys, values, strict=True)),
                    template="(%(expressions)s)", output_field=BooleanField())
        return Q(Infix(row, "<" if keys[0].descending else ">", last, output_field=BooleanField()))
    disjuncts = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        later = _later(key, value)
        if later is not None:
            disjuncts.append(equal & later)
        equal &= _same(key, value)
    condition = disjuncts[0]
    for disjunct in disjuncts[1:]:
        condition |= disjunct
    lead, first = keys[0], values[0]
    if not lead.nullable:
        condition = _compare(lead, "<=" if lead.descending else ">=", first) & condition
    return condition


def _ordering(keys: list[SortKey]) -> list[OrderBy]:
    return [OrderBy(key.expression, descending=key.descending, nulls_last=True if key.nullable else None)
            for key in keys]


def _fetch(qs: QuerySet, keys: list[SortKey], values: list | None, limit: int, settled: tuple = ()) -> list:
    """Up to `limit` rows after `values` in `keys` order. `settled` orders by keys that are null throughout
    this segment: a no-op for the result, but it keeps ORDER BY the shape of the (dataset, key, id) index,
    so `WHERE size IS NULL AND id < y ORDER BY size DESC, id DESC` is an index range, not a filtered scan."""
    lead = keys[0]
    if not lead.nullable:
        if values is not None:
            qs = qs.filter(_after(keys, values))
        return list(qs.order_by(*settled, *_ordering(keys))[:limit])
    rows: list = []
    if values is None or values[0] is not None:
        present = qs.filter(IsNull(lead.expression, False))
        rows = _fetch(present, [dataclasses.replace(lead, nullable=False), *keys[1:]], values, limit, settled)
        if len(rows) >= limit:
            return rows
        rest = None  # every row where the leading key is null comes after the cursor
    else:
        rest = values[1:]
    absent = qs.filter(IsNull(lead.expression, True))
    settled = (*settled, OrderBy(lead.expression, descending=lead.descending))
    return rows + _fetch(absent, keys[1:], rest, limit - len(rows), settled)


def _canonical(value: Any) -> Any:
    if hasattr(value, "obj"):  # psycopg's Jsonb wrapper
        return {"jsonb": value.obj}
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def query_fingerprint(qs: QuerySet, sort: list[SortKey]) -> str:
    """What a cursor is bound to: the sort and the queryset's SQL with its parameters."""
    try:
        sql, params = qs.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        sql, params = "<empty>", ()
    text = json.dumps({"v": _VERSION, "sort": [key.token for key in sort], "sql": sql, "params": list(params)},
                      default=_canonical, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _encode_value(key: SortKey, value: Any) -> Any:
    if value is None or key.cursor_type != "datetime":
        return value
    return value.isoformat()


def _decode_value(key: SortKey, value: Any) -> Any:
    if value is None:
        if key.nullable:
            return None
        raise QueryError("cursor", _BAD_CURSOR)
    kind = key.cursor_type
    if kind in ("text", "json") and isinstance(value, str):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    if kind == "datetime" and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise QueryError("cursor", _BAD_CURSOR)


def encode_cursor(row, sort: list[SortKey], fingerprint: str) -> str:
    values = [_encode_value(key, getattr(row, _alias(i))) for i, key in enumerate(sort)]
    return signing.dumps({"f": fingerprint, "k": values}, salt=CURSOR_SALT, compress=True)


def decode_cursor(cursor: Any, sort: list[SortKey], fingerprint: str) -> list:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise QueryError("cursor", _BAD_CURSOR)
    try:
        payload = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise QueryError("cursor", _BAD_CURSOR) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
        raise QueryError("cursor", _BAD_CURSOR)
    if payload.get("f") != fingerprint or len(payload["k"]) != len(sort):
        raise QueryError("cursor", _OTHER_QUERY)
    return [_decode_value(key, value) for key, value in zip(sort, payload["k"], strict=True)]


def keyset_page(qs: QuerySet, *, sort: list[SortKey], cursor: str | None, page_size: int) -> Page:
    """The page of `qs` in `sort` order (from parse_sort) after `cursor` (None: the first page)."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueryError("page_size", f"expected an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    if not sort or sort[-1].field != "id":
        raise ValueError("sort must come from parse_sort(), which ends with the id tiebreaker")
    fingerprint = query_fingerprint(qs, sort)
    values = decode_cursor(cursor, sort, fingerprint) if cursor is not None else None
    annotated = qs.annotate(**{
        _alias(i): Cast(key.expression, output_field=TextField()) if key.cursor_type == "json" else key.expression
        for i, key in enumerate(sort)
    })
    rows = _fetch(annotated, sort, values, page_size + 1)
    items = rows[:page_size]
    has_more = len(rows) > page_size
    return Page(items=items, next_cursor=encode_cursor(items[-1], sort, fingerprint) if has_more else None,
                has_more=has_more)


# The exact pass reads up to exact_up_to + 1 matching rows, which for a filter served by a bitmap scan means
# building the whole bitmap and visiting thousands of heap pages (20-30 ms at a million items). When the planner
# already expects several times the limit, that pass would only confirm "more than exact_up_to"; skip it.
SKIP_EXACT_PASS_FACTOR = 1.5
# Every row the exact pass counts costs a heap visit, index or not: the tenant policy reads organization_id, which
# no index holds. About 1 us a row with the table cached (a second tenant's 9,500 rows, spread over as many pages
# of a shared table: 9-13 ms), so the default stops at 5,000, a tenth of a first page's 50 ms budget at worst.
EXACT_COUNT_LIMIT = 5_000

_CURRENT_ORG = "NULLIF(current_setting('app.current_org', true), '')::bigint"
_IN_TENANT_CONTEXT = (f"SELECT {_CURRENT_ORG} IS NOT NULL"
                      " AND current_setting('app.rls_bypass', true) IS DISTINCT FROM 'on'")


def _plan_rows(cursor, sql: str, params=()) -> float:
    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
    plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _estimate(qs: QuerySet) -> int:
    """The planner's estimate of qs's rows, corrected for row-level security.

    The tenant policy's `organization_id = current_setting('app.current_org')` is estimated as a filter
    independent of the queryset's own `organization_id = X`, so the organisation's share of the table is
    multiplied in twice. The planner's estimate for the whole table under the policy, over its estimate for
    the organisation's rows, is that share's inverse. Outside a tenant context there is nothing to correct."""
    sql, params = qs.values("pk").query.sql_with_params()
    connection = connections[qs.db]
    table = connection.ops.quote_name(qs.model._meta.db_table)
    with connection.cursor() as cursor:
        estimate = _plan_rows(cursor, sql, params)
        cursor.execute(_IN_TENANT_CONTEXT)
        if cursor.fetchone()[0]:
            everyone = _plan_rows(cursor, f"SELECT 1 FROM {table}")
            own = _plan_rows(cursor, f"SELECT 1 FROM {table} WHERE organization_id = {_CURRENT_ORG}")
            if everyone > own > 0:
                estimate *= everyone / own
    return round(estimate)


def fast_count(qs: QuerySet, *, exact_up_to: int = EXACT_COUNT_LIMIT) -> tuple[int, bool]:
    """(count, exact). Counts exactly up to `exact_up_to` rows (a LIMITed subquery, so at most that many rows
    are read); past that, returns the planner's estimate of the queryset's rows (corrected for row-level
    security), never below exact_up_to + 1. When the estimate is already past SKIP_EXACT_PASS_FACTOR times the
    limit, the exact pass is skipped and the estimate returned."""
    if isinstance(exact_up_to, bool) or not isinstance(exact_up_to, int) or exact_up_to < 0:
        raise ValueError("exact_up_to must be a non-negative integer")
    qs = qs.order_by()
    if connections[qs.db].vendor != "postgresql":  # the embedded demo: small data, no planner estimates
        return qs.count(), True
    try:
        estimate = _estimate(qs)
    except EmptyResultSet:
        return 0, True
    if estimate <= SKIP_EXACT_PASS_FACTOR * exact_up_to:
        counted = qs[: exact_up_to + 1].count()
        if counted <= exact_up_to:
            return counted, True
    return max(estimate, exact_up_to + 1), False
