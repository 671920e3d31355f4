"""What fires a pipeline besides a person: the trigger node's kinds, their config check, and the records they make.

- manual: fired by hand only (item ids or a query; pipeline_engine.pipeline_run_start).
- item_added: items made ready in the pipeline's dataset, or only under `folder`.
- query: items that match `query` (the dataset query language, apps/datasets/query.py) and lie under `folder`,
  looked at when they are added and whenever their metadata or folder changes (apps/datasets/item_hooks.py).
- schedule: every `every` ("30m", "2h", "1d") or at the minutes `cron` names ("*/15 8-18 * * 1-5", five fields,
  UTC), the dataset's ready items matching `query` and `folder` (both optional) that this pipeline has not taken
  yet. The periodic sweep (tasks.sweep_scheduled_pipelines) finds the pipelines whose `next_fire_at` has come.

Any of them may also be fired by hand (a dry run). Every kind but manual records each item once per pipeline
(TriggeredItem, (pipeline, item) unique), so however often an item is announced, changed or matched by a schedule
it starts at most one run of the pipeline; pipeline_engine.pipeline_run_start_triggered starts the runs over the
waiting rows.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.core.outbox import enqueue

from .models import Pipeline, TriggeredItem

TRIGGER_KINDS = ("manual", "item_added", "query", "schedule")
WATCHING_KINDS = ("item_added", "query", "schedule")  # those that record TriggeredItems
MAX_RECORD = 100_000  # items recorded by one scan (a schedule firing, a bulk change); the rest at the next one
MIN_EVERY, MAX_EVERY = timedelta(minutes=1), timedelta(days=31)
_EVERY = re.compile(r"([1-9][0-9]{0,5})\s*([mhd])")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}


# --- schedules --------------------------------------------------------------------------------------------------


def parse_every(value) -> timedelta:
    """'30m', '2h', '1d' -> the interval; ValueError saying why not."""
    match = _EVERY.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("An interval such as 15m, 2h or 1d (minutes, hours or days).")
    every = timedelta(**{_UNIT[match[2]]: int(match[1])})
    if not MIN_EVERY <= every <= MAX_EVERY:
        raise ValueError("From 1m to 31d.")
    return every


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 7))


@dataclass(frozen=True)
class Cron:
    """Five cron fields (minute hour day-of-month month day-of-week; `*`, `a`, `a-b`, `*/n`, `a-b/n`, lists with
    commas; Sunday is 0 or 7), in UTC. As in cron, when both day fields are restricted (neither starts with *)
    either one matching will do."""

    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset  # 0 = Monday .. 6 = Sunday (Python's weekday())
    any_day: bool
    any_weekday: bool

    def day_matches(self, day) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after `moment` (within 5 years; None if it never comes)."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def _cron_field(text: str, name: str, low: int, high: int) -> frozenset:
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:/(\d{1,2}))?", part)
        if match is None:
            raise ValueError(f"The {name} field {text!r} is not *, a number, a range a-b, a step /n or a list.")
        first, last = (low, high) if match[1] == "*" else (int(match[2]), int(match[3] or match[2]))
        step = int(match[4] or 1)
        if match[4] and match[1] != "*" and match[3] is None:
            last = high  # "5/15": from 5 to the end, every 15
        if not (low <= first <= last <= high) or step < 1:
            raise ValueError(f"The {name} field {text!r} is outside {low}-{high}.")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(spec) -> Cron:
    """A Cron from "m h dom mon dow"; ValueError naming the bad field."""
    fields = spec.split() if isinstance(spec, str) else []
    if len(fields) != 5:
        raise ValueError("Five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5'.")
    parsed = [_cron_field(text, name, low, high) for text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True)]
    weekdays = frozenset((d - 1) % 7 for d in parsed[4])  # cron 0/7 = Sunday -> 6, 1 = Monday -> 0
    cron = Cron(*parsed[:4], weekdays=weekdays, any_day=fields[2].startswith("*"),
                any_weekday=fields[4].startswith("*"))
    if cron.next_after(datetime(2026, 1, 1, tzinfo=UTC)) is None:
        raise ValueError("These fields name no day that exists (e.g. 30 February).")
    return cron


def next_fire(trigger: dict, after: datetime) -> datetime | None:
    """When a schedule trigger fires next after `after` (None for another kind)."""
    if trigger.get("kind") != "schedule":
        return None
    if trigger.get("every"):
        return after + parse_every(trigger["every"])
    return parse_cron(trigger["cron"]).next_after(after)


# --- the config check -------------------------------------------------------------------------------------------


def _check_folder(config, path, errors) -> str:
    from apps.datasets.metadata import normalise_folder

    folder = config.get("folder", "/")
    if folder in (None, ""):
        return "/"
    if not isinstance(folder, str):
        errors[f"{path}.folder"] = "A folder path such as /incoming."
        return "/"
    try:
        return normalise_folder(folder)
    except ValidationError as exc:
        errors[f"{path}.folder"] = " ".join(exc.messages)
        return "/"


def _check_query(config, *, dataset, path, errors, required: bool) -> dict | None:
    from apps.datasets.selectors import item_filter

    query = config.get("query")
    if query in (None, {}) and not required:
        return None
    if not isinstance(query, dict) or not query:
        errors[f"{path}.query"] = "Required: a filter of the query language, e.g. {\"metadata.camera\": \"A\"}."
        return None
    if dataset is not None:
        try:
            item_filter(dataset=dataset, filter=query)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():  # "filter.metadata.a.$gt" -> "<path>.query.metadata.a.$gt"
                where = key.removeprefix("filter").lstrip(".")
                errors[f"{path}.query" + (f".{where}" if where else "")] = " ".join(messages)
    return query


def check_trigger(config, *, org, actor, dataset, path, errors) -> dict:
    kind = config.get("kind", "manual")
    if kind not in TRIGGER_KINDS:
        errors[f"{path}.kind"] = f"Unknown trigger {kind!r}: one of {', '.join(TRIGGER_KINDS)}."
        return {"kind": "manual"}
    allowed = {"manual": {"kind"}, "item_added": {"kind", "folder"}, "query": {"kind", "folder", "query"},
               "schedule": {"kind", "folder", "query", "every", "cron"}}[kind]
    for key in sorted(set(config) - allowed):
        if key == "folder" and config[key] in (None, ""):
            continue
        errors[f"{path}.{key}"] = ("Only an item_added, query or schedule trigger watches a folder." if key == "folder"
                                   else f"Not a setting of this kind of trigger ({kind}).")
    if kind == "manual":
        return {"kind": "manual"}
    clean = {"kind": kind, "folder": _check_folder(config, path, errors)}
    query = _check_query(config, dataset=dataset, path=path, errors=errors, required=kind == "query") \
        if kind in ("query", "schedule") else None
    if query is not None:
        clean["query"] = query
    if kind == "schedule":
        every, cron = config.get("every"), config.get("cron")
        if (every in (None, "")) == (cron in (None, "")):
            errors[f"{path}.every"] = "Give either every (15m, 2h, 1d) or cron ('0 6 * * 1-5'), not both."
        elif every not in (None, ""):
            try:
                parse_every(every)
                clean["every"] = "".join(every.split()).lower()
            except ValueError as exc:
                errors[f"{path}.every"] = str(exc)
        else:
            try:
                parse_cron(cron)
                clean["cron"] = " ".join(cron.split())
            except ValueError as exc:
                errors[f"{path}.cron"] = str(exc)
    return clean


# --- recording the items a trigger takes ------------------------------------------------------------------------


def watched_trigger(graph) -> dict | None:
    """The config of the graph's trigger when it records items itself (item_added, query, schedule), or None."""
    for node in (graph or {}).get("nodes", []):
        if isinstance(node, dict) and node.get("type") == "trigger":
            config = node.get("config") or {}
            return config if config.get("kind") in WATCHING_KINDS else None
    return None


def _matching(pipeline: Pipeline, trigger: dict, item_ids=None):
    """The pipeline's dataset's ready items its trigger takes (among `item_ids`, or all) and it has not taken yet."""
    from apps.datasets.selectors import item_filter

    folder = trigger.get("folder", "/")
    items = item_filter(dataset=pipeline.dataset, filter=trigger.get("query")).filter(status="ready")
    if folder not in ("", "/"):
        items = items.filter(Q(folder=folder) | Q(folder__startswith=f"{folder}/"))
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    taken = TriggeredItem.objects.for_org(pipeline.organization_id).filter(pipeline_id=pipeline.pk,
                                                                          item_id=OuterRef("pk"))
    return items.exclude(Exists(taken)).order_by("id")


def triggered_items_record(*, pipeline: Pipeline, trigger: dict, item_ids=None) -> int:
    """Records the items the trigger takes (at most MAX_RECORD, set-based) and queues one start message when any
    were new. Returns how many were recorded; a repeat records and queues nothing."""
    from .tasks import START_TRIGGERED

    items = _matching(pipeline, trigger, item_ids).values("id")[:MAX_RECORD]
    org_id = pipeline.organization_id
    if connection.vendor == "postgresql":
        sql, params = items.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {TriggeredItem._meta.db_table} (organization_id, pipeline_id, item_id, created_at)
                    SELECT %s, %s, i.id, now() FROM ({sql}) AS i ON CONFLICT DO NOTHING""",
                [org_id, pipeline.pk, *params])
            recorded = cursor.rowcount
    else:  # the embedded demo (SQLite)
        recorded = len(TriggeredItem.objects.bulk_create(
            [TriggeredItem(organization_id=org_id, pipeline=pipeline, item_id=row["id"]) for row in items],
            ignore_conflicts=True))
    if recorded:
        enqueue(START_TRIGGERED[pipeline.organization.region], org_id, pipeline.pk)
    return recorded


def _watching(org_id: int, dataset_id: int, kinds: tuple[str, ...]) -> list[tuple[Pipeline, dict]]:
    pipelines = Pipeline.objects.for_org(org_id).filter(dataset_id=dataset_id, enabled=True).select_related(
        "organization", "dataset").order_by("id")
    return [(p, t) for p in pipelines if (t := watched_trigger(p.graph)) is not None and t["kind"] in kinds]


def items_added_record(*, org_id: int, dataset_id: int, item_ids: list[int]) -> int:
    """The datasets app's items-added listener (inside the transaction that made the items ready): records the new
    items for each enabled item_added or query pipeline of the dataset that takes them. Returns how many
    (pipeline, item) pairs were recorded."""
    return sum(triggered_items_record(pipeline=p, trigger=t, item_ids=item_ids)
               for p, t in _watching(org_id, dataset_id, ("item_added", "query")))


def items_changed_record(*, org_id: int, dataset_id: int, item_ids: list[int] | None) -> int:
    """The items-changed listener (metadata or folder changed): records the items that now match a query trigger.
    item_ids None (a bulk change of any number of items) queues a scan of the dataset per query pipeline instead of
    doing it inside the change's transaction."""
    watching = _watching(org_id, dataset_id, ("query",))
    if item_ids is None:
        from .tasks import SCAN_TRIGGER

        for pipeline, _trigger in watching:
            enqueue(SCAN_TRIGGER[pipeline.organization.region], org_id, pipeline.pk)
        return 0
    return sum(triggered_items_record(pipeline=p, trigger=t, item_ids=item_ids) for p, t in watching)


def pipeline_trigger_scan(*, org, pipeline_id: int) -> int:
    """Records every item of the dataset a query pipeline now takes (the worker side of a bulk change)."""
    pipeline = Pipeline.objects.for_org(org).select_related("organization", "dataset").filter(
        pk=pipeline_id, enabled=True).first()
    trigger = watched_trigger(pipeline.graph) if pipeline is not None else None
    if trigger is None or trigger["kind"] != "query":
        return 0
    with transaction.atomic():
        return triggered_items_record(pipeline=pipeline, trigger=trigger)


def schedule_refresh(pipeline: Pipeline, *, now: datetime | None = None) -> None:
    """Sets next_fire_at from the graph (unsaved): the next firing of an enabled schedule pipeline, else None."""
    trigger = watched_trigger(pipeline.graph) or {}
    pipeline.next_fire_at = next_fire(trigger, now or timezone.now()) if pipeline.enabled else None


def pipelines_due(*, now: datetime | None = None, limit: int = 1_000) -> list[tuple[int, str, int]]:
    """Across organisations (the periodic sweep only): (org id, its region, pipeline id) of the schedules whose
    time has come."""
    from apps.tenancy.context import system_context

    with system_context():
        return list(Pipeline.objects.filter(enabled=True, next_fire_at__lte=now or timezone.now())
                    .order_by("next_fire_at").values_list("organization_id", "organization__region", "id")[:limit])


def pipeline_schedule_fire(*, org, pipeline_id: int, now: datetime | None = None) -> int | None:
    """Fires a due schedule: moves next_fire_at on (under lock, so a second message for the same firing finds it
    not due and does nothing) and records the matching items not taken yet. None when it was not due."""
    now = now or timezone.now()
    with transaction.atomic():
        pipeline = (Pipeline.objects.for_org(org).select_for_update(skip_locked=True, of=("self",))
                    .select_related("organization", "dataset")
                    .filter(pk=pipeline_id, enabled=True, next_fire_at__lte=now).first())
        if pipeline is None:
            return None
        trigger = watched_trigger(pipeline.graph)
        schedule_refresh(pipeline, now=now)
        pipeline.save(update_fields=["next_fire_at"])
        if trigger is None or trigger["kind"] != "schedule":
            return None
        return triggered_items_record(pipeline=pipeline, trigger=trigger)
