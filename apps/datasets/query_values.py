"""Values in the item query language (apps/datasets/query.py): the limits, the error every refusal raises, and the
checks and types every value from input goes through before it reaches an expression. query.py re-exports these
names (the query facts of other apps import them from there)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError

MAX_CONDITIONS = 50
MAX_NESTING = 8
MAX_IN_VALUES = 1000
MAX_STRING = 1000
MAX_PATH_DEPTH = 8
MAX_SORT_KEYS = 3


class QueryError(ValidationError):
    """A query the language does not accept: `path` names where (`filter.size.$gt`), `message` says what.

    A ValidationError keyed by the path, so one that no caller converts still answers 400 with
    `errors: {"filter.size.$gt": ["expected an integer, got 'abc'"]}` rather than 500."""

    def __init__(self, path: str, message: str):
        super().__init__({path: [message]})
        self.path = path
        self.message = message
        self.code = "invalid_query"
        self.params = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# ---------------------------------------------------------------------------------------------------------
# Values from input


def describe(value: Any) -> str:
    """A short rendering of an input value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "..."
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def short_text(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


def check_string(value: str, path: str) -> str:
    if len(value) > MAX_STRING:
        raise QueryError(path, f"strings are at most {MAX_STRING} characters")
    if "\x00" in value:
        raise QueryError(path, "strings may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(path, "strings must be valid Unicode") from None
    return value


def check_number(value: Any, path: str, *, expected: str = "a number") -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryError(path, f"expected {expected}, got {describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(path, f"expected a finite number, got {describe(value)}")
    return value


def check_scalar(value: Any, path: str) -> Any:
    """A JSON scalar: string, finite number, boolean or null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_string(value, path)
    if isinstance(value, int | float):
        return check_number(value, path)
    raise QueryError(path, f"expected a JSON scalar (string, number, true, false or null), got {describe(value)}")


def check_json(value: Any, path: str, *, depth: int = 0, budget: list[int] | None = None) -> Any:
    """Any JSON value, bounded: at most MAX_PATH_DEPTH levels, MAX_IN_VALUES values, strings as check_string."""
    budget = budget if budget is not None else [MAX_IN_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise QueryError(path, f"values are at most {MAX_IN_VALUES} elements in all")
    if depth > MAX_PATH_DEPTH:
        raise QueryError(path, f"values are nested at most {MAX_PATH_DEPTH} levels deep")
    if isinstance(value, list):
        return [check_json(v, f"{path}[{i}]", depth=depth + 1, budget=budget) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise QueryError(path, f"object keys must be strings, got {describe(key)}")
            check_string(key, path)
            out[key] = check_json(item, f"{path}.{key}", depth=depth + 1, budget=budget)
        return out
    return check_scalar(value, path)


def check_list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise QueryError(path, f"expected a list, got {describe(value)}")
    if len(value) > MAX_IN_VALUES:
        raise QueryError(path, f"lists are at most {MAX_IN_VALUES} values")
    return value


def check_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise QueryError(path, f"expected true or false, got {describe(value)}")
    return value


class ValueType(ABC):
    """How one column's values arrive in a query and how its sort values travel in a cursor."""

    cursor_type: str  # "text", "integer", "number" or "datetime"
    ranged = True

    @abstractmethod
    def parse(self, value: Any, path: str) -> Any: ...


class TextType(ValueType):
    cursor_type = "text"

    def parse(self, value, path):
        if not isinstance(value, str):
            raise QueryError(path, f"expected a string, got {describe(value)}")
        return check_string(value, path)


class ChoiceType(ValueType):
    cursor_type = "text"
    ranged = False

    def __init__(self, choices: Iterable[str]):
        self.choices = tuple(choices)

    def parse(self, value, path):
        if not isinstance(value, str) or value not in self.choices:
            raise QueryError(path, f"expected one of {', '.join(self.choices)}, got {describe(value)}")
        return value


class IntegerType(ValueType):
    cursor_type = "integer"

    def parse(self, value, path):
        check_number(value, path, expected="an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise QueryError(path, f"expected an integer, got {describe(value)}")
            value = int(value)
        return value


class NumberType(ValueType):
    cursor_type = "number"

    def parse(self, value, path):
        return check_number(value, path)


class DateTimeType(ValueType):
    cursor_type = "datetime"

    def parse(self, value, path):
        expected = "a date and time in ISO 8601 (2024-05-01T12:00:00Z)"
        if not isinstance(value, str) or len(value) > 64:
            raise QueryError(path, f"expected {expected}, got {describe(value)}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise QueryError(path, f"expected {expected}, got {describe(value)}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
