"""Forms of the dataset pages, and the browser's query state (filter, folder, sort, cursor) as it travels in URLs.

The filter builder is a view over the query language (query.py): each row is one condition
`{field: {operator: value}}`, rows are ANDed. Anything the rows cannot show (an `$or`, a `$not`, two operators
on one field) is still a valid filter; it is shown and edited as JSON only. static/js/datasets/query.js
implements the same mapping for the page without reloads; these functions serve the page without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict

from .models import Dataset, SubjectCategory

# Field select of a builder row: (value, label). "metadata" takes a key in the row's key box.
BUILDER_FIELDS = [
    ("name", "Name"), ("folder", "Folder"), ("kind", "Kind"), ("status", "Status"), ("size", "Size (bytes)"),
    ("created_at", "Created"), ("width", "Width"), ("height", "Height"), ("metadata", "Metadata key…"),
]
# Operator select of a builder row: (value, label, query-language operator).
BUILDER_OPERATORS = [
    ("is", "is", "$eq"), ("is_not", "is not", "$ne"), ("gt", ">", "$gt"), ("gte", "≥", "$gte"), ("lt", "<", "$lt"),
    ("lte", "≤", "$lte"), ("contains", "contains", "$contains"), ("exists", "exists", "$exists"),
]
_OP_TO_QUERY = {value: op for value, _label, op in BUILDER_OPERATORS}
_QUERY_TO_OP = {op: value for value, _label, op in BUILDER_OPERATORS}
_FIELD_NAMES = {value for value, _label in BUILDER_FIELDS}
_INTEGER_FIELDS = {"size", "width", "height"}
MAX_BUILDER_ROWS = 20
MAX_FILTER_TEXT = 20_000

SORT_CHOICES = [
    ("-created_at", "Newest first"), ("created_at", "Oldest first"), ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"), ("-size", "Largest first"), ("size", "Smallest first"), ("folder", "Folder, A to Z"),
]
DEFAULT_SORT = "-created_at"


def _loads(text: str):
    """json.loads that reports depth bombs as a ValueError like any other bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def json_problem(exc: ValueError) -> str:
    """Where and why a text is not JSON, in words: "Expecting ',' delimiter at line 2, column 5"."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return str(exc)


def builder_value(field_name: str, op: str, text: str):
    """The JSON value a row's text box stands for (same rules as the JavaScript builder).

    Sizes and dimensions are whole numbers; metadata values are read as JSON when they are JSON (`100`, `true`,
    `"100"` for the string), as plain text otherwise; `exists` takes yes/no.
    """
    text = text.strip()
    if op == "exists":
        return text.lower() not in ("false", "no", "0")
    if field_name in _INTEGER_FIELDS:
        try:
            return int(text)
        except ValueError:
            return text  # the query language names the path and says it wants an integer
    if field_name == "metadata":
        try:
            return _loads(text)
        except ValueError:
            return text
    return text


def builder_text(field_name: str, value) -> str | None:
    """The text box content for a value, or None when a row cannot show it."""
    if field_name == "metadata":
        if isinstance(value, str):
            try:
                _loads(value)
            except ValueError:
                return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and field_name in _INTEGER_FIELDS:
        return str(value)
    return value if isinstance(value, str) else None


@dataclass
class BuilderRow:
    field: str = "name"
    key: str = ""
    op: str = "contains"
    value: str = ""


def filter_from_rows(rows: list[BuilderRow]) -> dict:
    conditions = []
    for row in rows:
        if row.field not in _FIELD_NAMES or row.op not in _OP_TO_QUERY:
            continue
        if row.op != "exists" and not row.value.strip():
            continue
        name = f"metadata.{row.key.strip()}" if row.field == "metadata" else row.field
        conditions.append({name: {_OP_TO_QUERY[row.op]: builder_value(row.field, row.op, row.value)}})
    if not conditions:
        return {}
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def rows_from_filter(value) -> list[BuilderRow] | None:
    """The builder rows showing a filter, or None when the filter needs the JSON box."""
    if not value:
        return []
    if not isinstance(value, dict):
        return None
    parts = value["$and"] if set(value) == {"$and"} and isinstance(value["$and"], list) else [value]
    rows = []
    for part in parts:
        if not isinstance(part, dict) or len(part) != 1:
            return None
        ((name, condition),) = part.items()
        if not isinstance(name, str) or name.startswith("$"):
            return None
        if isinstance(condition, dict):
            if len(condition) != 1:
                return None
            ((query_op, operand),) = condition.items()
        else:
            query_op, operand = "$eq", condition
        op = _QUERY_TO_OP.get(query_op)
        field_name, key = ("metadata", name.removeprefix("metadata.")) if name.startswith("metadata.") else (name, "")
        if op is None or field_name not in _FIELD_NAMES:
            return None
        if op == "exists":
            if not isinstance(operand, bool):
                return None
            text = "yes" if operand else "no"
        else:
            text = builder_text(field_name, operand)
        if text is None or builder_value(field_name, op, text) != operand:
            return None
        rows.append(BuilderRow(field=field_name, key=key, op=op, value=text))
    return rows


def combine(filter_value: dict, folder: str | None) -> dict:
    """The filter the grid shows: the user's filter, narrowed to one folder from the sidebar."""
    if folder is None:
        return filter_value
    if not filter_value:
        return {"folder": folder}
    return {"$and": [filter_value, {"folder": folder}]}


def sort_param(sort: list) -> str:
    if not sort:
        return DEFAULT_SORT
    if len(sort) == 1 and isinstance(sort[0], str):
        return sort[0]
    return json.dumps(sort, separators=(",", ":"))


def parse_sort_param(text: str | None) -> list:
    text = (text or "").strip()[:2000]
    if not text or text == DEFAULT_SORT:
        return []
    if text.startswith("["):
        try:
            value = _loads(text)
        except ValueError:
            return [text]  # the query language says what is wrong with it
        return value if isinstance(value, list) else [text]
    return [text]


@dataclass
class BrowserQuery:
    """What the browser shows, from its URL: `filter` (JSON), `folder`, `sort`, `cursor`; or the builder's
    rows (`f`, `k`, `o`, `v`) when its form was sent without JavaScript (`apply=rows`)."""

    filter: Any = field(default_factory=dict)  # a dict, or whatever JSON the URL held (the language says why not)
    folder: str | None = None
    sort: list = field(default_factory=list)
    cursor: str | None = None
    filter_text: str = ""
    errors: list[str] = field(default_factory=list)
    rows: list[BuilderRow] | None = field(default_factory=list)

    @classmethod
    def from_params(cls, params: QueryDict, *, saved=None) -> BrowserQuery:
        query = cls()
        folder = params.get("folder")
        query.folder = folder[:1000] if folder else None
        query.sort = parse_sort_param(params.get("sort"))
        query.cursor = (params.get("cursor") or "")[:40_000] or None
        apply = params.get("apply")
        if saved is not None:
            query.filter, query.sort, query.folder = saved.filter or {}, saved.sort or [], None
        elif apply == "rows":
            rows = [
                BuilderRow(field=f, key=k, op=o, value=v)
                for f, k, o, v in zip(params.getlist("f"), params.getlist("k"), params.getlist("o"),
                                      params.getlist("v"), strict=False)
            ][:MAX_BUILDER_ROWS]
            query.filter = filter_from_rows(rows)
        else:
            text = (params.get("filter") or "").strip()
            if len(text) > MAX_FILTER_TEXT:
                query.errors.append(f"The filter is longer than {MAX_FILTER_TEXT:,} characters.")
                query.filter_text = text[:MAX_FILTER_TEXT]
            elif text:
                try:
                    query.filter = _loads(text)
                except ValueError as exc:
                    query.errors.append(f"The filter is not valid JSON: {json_problem(exc)}.")
                    query.filter_text = text
        if apply in ("rows", "json"):
            query.cursor = None
        if not query.filter_text:
            query.filter_text = json.dumps(query.filter, indent=2, ensure_ascii=False) if query.filter else ""
        query.rows = rows_from_filter(query.filter) if not query.errors else []
        return query

    @property
    def effective_filter(self):
        return combine(self.filter, self.folder) if isinstance(self.filter, dict) else self.filter

    @property
    def sort_value(self) -> str:
        return sort_param(self.sort)

    def params(self, **changes) -> dict:
        """The canonical query string parameters of this state, with some changed (None drops one)."""
        values = {
            "filter": json.dumps(self.filter, separators=(",", ":"), ensure_ascii=False) if self.filter else None,
            "folder": self.folder,
            "sort": self.sort_value if self.sort_value != DEFAULT_SORT else None,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value is not None}

    def url(self, path: str, **changes) -> str:
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path


def back_params(text: str) -> str:
    """A browser query string from a form (`filter`, `folder`, `sort` only), for redirecting back."""
    params = QueryDict(text.lstrip("?")[:MAX_FILTER_TEXT + 2000])
    kept = {key: params.get(key) for key in ("filter", "folder", "sort") if params.get(key)}
    return f"?{urlencode(kept)}" if kept else ""


# --- Forms -----------------------------------------------------------------------------------


class DatasetForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    classification = forms.ChoiceField(
        label="Classification", choices=Dataset.Classification.choices, initial=Dataset.Classification.INTERNAL,
        help_text="Personal and health data: every listing and view of its items is recorded in the audit log.",
    )
    retention_days = forms.IntegerField(
        label="Retention in days", required=False, validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text="Items older than this are deleted. Leave empty to keep them until deleted.",
    )
    purpose = forms.CharField(
        label="Purpose", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this data is processed, as the processing register (GDPR article 30) states it.",
    )
    subject_key = forms.RegexField(
        label="Data subject key", regex=r"^[A-Za-z0-9_\-]+$", max_length=100, required=False,
        error_messages={"invalid": "A metadata key: letters, digits, '_' and '-' only (e.g. patient_id)."},
        help_text="The item metadata key that names the person the item is about (e.g. patient_id), so GDPR "
                  "access and erasure requests find their items. Leave empty when items name no person.",
    )
    subject_categories = forms.MultipleChoiceField(
        label="Categories of data subjects", choices=SubjectCategory.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Whom the items are about, as the processing register (GDPR article 30) states it.",
    )


class DatasetRegisterForm(DatasetForm):
    """What the processing register says of the dataset (classification, retention, purpose, data subjects), changed
    on its settings page through dataset_update (audited as dataset.updated)."""

    FIELDS = ("classification", "retention_days", "purpose", "subject_key", "subject_categories")

    def __init__(self, *args, dataset=None, **kwargs):
        if dataset is not None:
            kwargs.setdefault("initial", {field: getattr(dataset, field) for field in self.FIELDS})
        super().__init__(*args, **kwargs)
        self.fields = {name: field for name, field in self.fields.items() if name in self.FIELDS}


class LegalHoldForm(forms.Form):
    """Places a legal hold (with its reason) or lifts it; the service (retention.dataset_legal_hold_set) audits it."""

    legal_hold = forms.BooleanField(
        label="Under legal hold", required=False,
        help_text="While held, nothing of this dataset is purged by retention or erased by a GDPR request.",
    )
    legal_hold_reason = forms.CharField(
        label="Reason for the hold", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when placing a hold: a case or matter reference.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("legal_hold") and not (cleaned.get("legal_hold_reason") or "").strip():
            self.add_error("legal_hold_reason", "Say why the dataset is held (a case or matter reference).")
        return cleaned


class ItemEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=500, help_text="Without '/'.")
    folder = forms.CharField(label="Folder", max_length=1000, help_text="For example /train/cats.")


class MetadataForm(forms.Form):
    metadata = forms.CharField(
        label="Metadata (JSON object)", max_length=64 * 1024, required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code-input"}),
        help_text="The whole object: keys you remove are removed, a key set to null is removed.",
    )

    def clean_metadata(self) -> dict:
        text = self.cleaned_data["metadata"].strip() or "{}"
        try:
            value = _loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {json_problem(exc)}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Metadata must be a JSON object, in braces: {\"key\": \"value\"}.")
        return value

    @staticmethod
    def text_of(metadata: dict) -> str:
        return json.dumps(metadata or {}, indent=2, ensure_ascii=False, sort_keys=True)


def merge_patch_between(current, wanted) -> dict:
    """The JSON Merge Patch (RFC 7386) that turns `current` into `wanted` (both objects)."""
    patch = {}
    for key in current:
        if key not in wanted:
            patch[key] = None
    for key, value in wanted.items():
        old = current.get(key, _MISSING)
        if isinstance(old, dict) and isinstance(value, dict):
            inner = merge_patch_between(old, value)
            if inner:
                patch[key] = inner
        elif old is _MISSING or old != value or type(old) is not type(value):
            patch[key] = value
    return patch


_MISSING = object()


class FilesUploadForm(forms.Form):
    folder = forms.CharField(label="Folder", max_length=1000, initial="/", required=False,
                             help_text="Where the new items go, for example /train/cats.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "upload_%s")  # the import form on the same page has a folder too
        super().__init__(*args, **kwargs)


class ImportForm(forms.Form):
    file = forms.FileField(label="Manifest or archive",
                           help_text="A .csv or .jsonl manifest (one row per item), or a .zip of files.")
    folder = forms.CharField(label="Folder", max_length=1000, initial="/", required=False,
                             help_text="Where the imported items go, unless a manifest row names its own folder.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "import_%s")
        super().__init__(*args, **kwargs)


class SavedFilterForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    filter = forms.CharField(required=False, max_length=MAX_FILTER_TEXT, widget=forms.HiddenInput)
    sort = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def clean_filter(self):
        text = self.cleaned_data["filter"].strip()
        if not text:
            return {}
        try:
            return _loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"The filter is not valid JSON: {json_problem(exc)}.") from None

    def clean_sort(self):
        return parse_sort_param(self.cleaned_data["sort"])


class BulkForm(forms.Form):
    TARGETS = [("selected", "The selected items"), ("matching", "All items matching the filter")]
    ACTIONS = [("move", "Move to folder"), ("set_metadata", "Set a metadata key"), ("delete", "Delete")]
    MAX_SELECTED = 1000

    target = forms.ChoiceField(label="Apply to", choices=TARGETS, initial="selected", widget=forms.RadioSelect)
    action = forms.ChoiceField(label="Action", choices=ACTIONS)
    to_folder = forms.CharField(label="Folder", max_length=1000, required=False)
    meta_key = forms.CharField(label="Metadata key", max_length=200, required=False)
    meta_value = forms.CharField(label="Value", max_length=16_000, required=False,
                                 help_text="JSON (100, true, \"text\") or plain text.")
    filter = forms.CharField(required=False, max_length=MAX_FILTER_TEXT, widget=forms.HiddenInput)
    back = forms.CharField(required=False, max_length=MAX_FILTER_TEXT + 2000, widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, item_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.item_ids = item_ids

    def clean_filter(self):
        text = self.cleaned_data["filter"].strip()
        try:
            return _loads(text) if text else {}
        except ValueError as exc:
            raise forms.ValidationError(f"The filter is not valid JSON: {json_problem(exc)}.") from None

    def clean(self):
        cleaned = super().clean()
        action, target = cleaned.get("action"), cleaned.get("target")
        if target == "selected" and not self.item_ids:
            self.add_error("target", "Select at least one item, or choose all items matching the filter.")
        if target == "selected" and len(self.item_ids) > self.MAX_SELECTED:
            self.add_error("target", f"Select at most {self.MAX_SELECTED:,} items at once, or use the filter.")
        if action == "move" and not (cleaned.get("to_folder") or "").strip():
            self.add_error("to_folder", "Say which folder to move the items to.")
        if action == "set_metadata":
            if not (cleaned.get("meta_key") or "").strip():
                self.add_error("meta_key", "Say which metadata key to set.")
            else:
                cleaned["set_metadata"] = {
                    cleaned["meta_key"].strip(): builder_value("metadata", "is", cleaned.get("meta_value") or "")
                }
        return cleaned
