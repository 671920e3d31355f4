"""Reads of the compliance officer's console: the audit log searched by actor, action, object, dataset, IP and time;
the history of one object and of one person; the access report of a dataset; the processing register (GDPR art. 30).

Every read starts from the organisation's own events (selectors.audit_event_list, AuditEvent.objects.for_org) and
none of them touches item content: the console says who read what, never what it was.
"""

import ipaddress
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate

from apps.datasets.models import Dataset
from apps.tenancy.models import Membership

from . import selectors
from .models import AuditEvent

DATASET_TARGET = "datasets.dataset"
ITEM_TARGET = "datasets.item"
# Reads of a dataset's data that the access report counts (each carries metadata.dataset_id, or targets the dataset).
READ_ACTIONS = (
    "item.viewed", "item.downloaded", "items.listed", "annotations.viewed", "export.created", "export.downloaded",
    "dataset_version.downloaded", "task.worklog_exported",
)
# Without PostgreSQL's inet operators (the embedded SQLite mode), a network is searched by listing its addresses.
MAX_LISTED_ADDRESSES = 1024

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip_filter(value: str) -> IpNetwork:
    """An address or a CIDR network typed by a person; ValidationError naming the `ip` field otherwise."""
    try:
        return ipaddress.ip_network((value or "").strip(), strict=False)
    except ValueError:
        raise ValidationError(
            {"ip": f"{value[:60]!r} is neither an IP address nor a network in CIDR form (e.g. 10.0.0.0/8)."}
        ) from None


def _in_network(qs: QuerySet[AuditEvent], network: IpNetwork) -> QuerySet[AuditEvent]:
    if network.num_addresses == 1:
        return qs.filter(ip=str(network.network_address))
    if connection.vendor == "postgresql":
        # A range between the network's first and last address rather than inet's `<<=`: the comparison operators
        # are leakproof, so the audit_org_ip_time index serves it under row-level security (`<<=` is not).
        return qs.filter(ip__gte=str(network.network_address), ip__lte=str(network.broadcast_address))
    if network.num_addresses > MAX_LISTED_ADDRESSES:
        raise ValidationError({"ip": f"Networks larger than {MAX_LISTED_ADDRESSES} addresses need PostgreSQL."})
    return qs.filter(ip__in=[str(address) for address in network])


def dataset_events_q(dataset_id: int) -> Q:
    """Events about a dataset: those naming it in metadata.dataset_id (its items, exports, versions...), and those
    whose target is the dataset itself.

    The metadata half reads AuditEvent.metadata_dataset_id, a stored generated column with a plain btree index
    (audit_org_dataset_time): under row-level security PostgreSQL refuses to use an index on a non-leakproof
    expression such as `metadata ->> 'dataset_id'`, but bigint equality is leakproof."""
    return Q(metadata_dataset_id=dataset_id) | Q(target_type=DATASET_TARGET, target_id=str(dataset_id))


def object_events_q(target_type: str, target_id: str) -> Q:
    """Events about one object. An item is also seen in the listings that showed it (items.listed names the ids);
    a dataset in every event that names it."""
    if target_type == DATASET_TARGET and target_id.isdigit():
        return dataset_events_q(int(target_id))
    q = Q(target_type=target_type, target_id=target_id)
    if target_type == ITEM_TARGET and target_id.isdigit():
        q |= Q(action="items.listed", metadata__item_ids__contains=[int(target_id)])
    return q


def audit_event_search(
    *, org, actor=None, actor_email: str = "", actor_id: int | None = None, action: str = "", since=None,
    until=None, target_type: str = "", target_id: str = "", dataset_id: int | None = None, ip: IpNetwork | None = None,
) -> QuerySet[AuditEvent]:
    """The organisation's events matching every filter given (newest first). `action` is exact, or a prefix when it
    ends in a dot; `ip` an address or a network; `until` exclusive."""
    qs = selectors.audit_event_list(
        org=org, actor=actor, actor_email=actor_email, action=action, since=since, until=until)
    if target_type and target_id:
        qs = qs.filter(object_events_q(target_type, str(target_id)))
    elif target_type:
        qs = qs.filter(target_type=target_type)
    elif target_id:
        qs = qs.filter(target_id=str(target_id))
    if actor_id is not None:
        qs = qs.filter(actor_user_id=actor_id)
    if dataset_id is not None:
        qs = qs.filter(dataset_events_q(dataset_id))
    if ip is not None:
        qs = _in_network(qs, ip)
    return qs


def person_label(*, org, user_id: int) -> str:
    """How the console names a person: their email while they are a member, else the label their last event in
    this organisation carried (never a lookup in the global user table: no oracle for strangers' accounts)."""
    email = Membership.objects.for_org(org).filter(user_id=user_id).values_list("user__email", flat=True).first()
    if email:
        return email
    label = (AuditEvent.objects.for_org(org).filter(actor_user_id=user_id).order_by("-id")
             .values_list("actor_label", flat=True).first())
    return label or f"user {user_id}"


def object_label(*, org, target_type: str, target_id: str) -> str:
    """The label the newest event about the object gave it (the object itself may be gone)."""
    label = (AuditEvent.objects.for_org(org).filter(target_type=target_type, target_id=target_id)
             .exclude(target_label="").order_by("-id").values_list("target_label", flat=True).first())
    return label or f"{target_type} {target_id}"


def console_dataset_list(*, org) -> QuerySet[Dataset]:
    """The datasets a report can be asked about (names only: no item is read)."""
    return Dataset.objects.for_org(org).order_by("name", "id")


@dataclass(frozen=True)
class AccessRow:
    day: date
    user_id: int | None
    person: str
    action: str
    events: int
    objects: int
    last_at: datetime


def dataset_access_report(*, org, dataset_id: int, since: datetime, until: datetime) -> list[AccessRow]:
    """Who read a dataset's data in [since, until): per day, person and kind of read, how many reads of how many
    distinct objects (items, exports, versions)."""
    rows = (
        AuditEvent.objects.for_org(org)
        .filter(dataset_events_q(dataset_id), action__in=READ_ACTIONS, occurred_at__gte=since, occurred_at__lt=until)
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "actor_user_id", "actor_label", "action")
        .annotate(events=Count("id"), objects=Count("target_id", distinct=True), last_at=Max("occurred_at"))
        .order_by("day", "actor_label", "actor_user_id", "action")
    )
    return [AccessRow(day=r["day"], user_id=r["actor_user_id"], person=r["actor_label"], action=r["action"],
                      events=r["events"], objects=r["objects"], last_at=r["last_at"]) for r in rows]


@dataclass(frozen=True)
class RegisterEntry:
    id: int
    name: str
    classification: str
    classification_label: str
    purpose: str
    region: str
    retention_days: int | None
    processors: list[str] = field(default_factory=list)
    subject_categories: list[str] = field(default_factory=list)

    @property
    def subject_category_labels(self) -> list[str]:
        return [Dataset.SubjectCategory(c).label for c in self.subject_categories]


@dataclass(frozen=True)
class ProcessingRegister:
    controller: str
    region: str
    processors: list[dict]
    datasets: list[RegisterEntry]


def processors_for_region(region: str) -> list[dict]:
    """The processors configured in settings.PROCESSORS that serve this region (an entry without a region serves
    every region)."""
    return [dict(p) for p in settings.PROCESSORS if not p.get("region") or p.get("region") == region]


def processing_register(*, org) -> ProcessingRegister:
    """The record of processing activities (GDPR art. 30), generated from configuration: one entry per dataset."""
    processors = processors_for_region(org.region)
    names = [p["name"] for p in processors]
    entries = [
        RegisterEntry(id=d.pk, name=d.name, classification=d.classification,
                      classification_label=d.get_classification_display(), purpose=d.purpose, region=org.region,
                      retention_days=d.retention_days, processors=names,
                      subject_categories=list(d.subject_categories or []))
        for d in Dataset.objects.for_org(org).order_by("name", "id")
    ]
    return ProcessingRegister(controller=org.name, region=org.region, processors=processors, datasets=entries)
