"""GDPR data-subject requests: access and portability (art. 15, 20) and erasure (art. 17), first slice.

- A dataset names the item metadata key that identifies a person (Dataset.subject_key, e.g. "patient_id"); a
  subject's items are the items of every such dataset whose metadata holds the subject's value under that key.
- A request goes received -> verified -> in_progress -> done, or rejected before it runs; any other move is a 409.
  Every transition is an audit event ("gdpr.received", "gdpr.verified", "gdpr.rejected", "gdpr.started",
  "gdpr.completed", "gdpr.downloaded") that names the subject only by its pseudonym: sha256 over the
  organisation's secret salt, the organisation id and the value (subject_pseudonym), never the value itself.
- Running a verified request (gdpr_request_run) queues `tasks.run_gdpr_request` through the outbox; the worker
  (gdpr_request_execute) does the work in one transaction and is idempotent: a request that is no longer
  in_progress is left alone.
- Access builds a JSON bundle (items with metadata, their annotations, the audit events about them), stored as
  an encrypted blob in the organisation's region and downloaded through the app (audited). It holds no item
  content bytes: compliance officers run these requests and never see content.
- Erasure (erasure.py) checks the legal hold again when it runs (a held dataset makes the request `failed`, with
  the reason, audited as "gdpr.failed"; a request refused when run is audited as "gdpr.refused"), deletes the
  subject's items with their content and thumbnail blobs, annotations and revisions and what cascades from an item,
  withdraws the dataset versions and exports whose files held them (files deleted, downloads answer 410), destroys
  the subject's keys (crypto-shredding: the ciphertext of their content, wherever a copy lies, stays unreadable;
  subject_keys.py decides which blobs a subject's key wraps), deletes earlier access bundles about them, and signs
  a certificate (apps/compliance/signing.py). Once done, requests about the subject keep only the pseudonym.

What is not erased (stated in each certificate under "not_erased"): audit events written before the erasure keep
what they recorded (the trail is append-only and hash-chained); database backups keep the erased rows until they
expire.
"""

import hashlib
import io
import json
import re
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.core.ids import parse_id
from apps.core.outbox import enqueue
from apps.tenancy.access import deny_not_found
from apps.tenancy.base import org_id_of
from apps.tenancy.permissions import has_scope, require_scope

from . import erasure
from .erasure import CERTIFICATE_FORMAT, NOT_ERASED  # noqa: F401  (part of this module's interface)
from .models import AuditEvent, DataSubjectRequest, SubjectPseudonymSalt
from .services import audit_record

SCOPE = "gdpr.manage"
DUE_AFTER = timedelta(days=30)
BUNDLE_FORMAT = "dlsaas.gdpr.access/1"
ITEM_TARGET = "datasets.item"
# The listings that showed an item are searched one item id at a time; past this many items only the events
# targeting the items themselves are included.
MAX_LISTING_LOOKUPS = 1_000
NO_CONTENT_NOTE = (
    "This bundle holds the metadata of the items about you, their annotations and the audit events about them. "
    "It does not hold the items' content (images, audio, documents): ask the organisation for a copy of the "
    "content itself."
)
Status = DataSubjectRequest.Status
Kind = DataSubjectRequest.Kind


# --- Pseudonyms ---------------------------------------------------------------------------------------


def _org_salt(org_id: int) -> bytes:
    row = SubjectPseudonymSalt.objects.for_org(org_id).first()
    if row is None:
        try:
            with transaction.atomic():
                row = SubjectPseudonymSalt.objects.create(organization_id=org_id, salt=secrets.token_bytes(32))
        except IntegrityError:  # another request created it first
            row = SubjectPseudonymSalt.objects.for_org(org_id).get()
    return bytes(row.salt)


def subject_pseudonym(*, org, value: str) -> str:
    """What the audit trail and the erasure certificate call the subject: sha256(salt, org id, value) in hex."""
    org_id = org_id_of(org)
    return hashlib.sha256(_org_salt(org_id) + f"\0{org_id}\0{value}".encode()).hexdigest()


# --- Reads --------------------------------------------------------------------------------------------


def gdpr_request_list(*, org, status: str = "") -> QuerySet[DataSubjectRequest]:
    qs = DataSubjectRequest.objects.for_org(org).order_by("-created_at", "-id")
    return qs.filter(status=status) if status else qs


def gdpr_request_get(*, org_id: int, request_id: int) -> DataSubjectRequest | None:
    return DataSubjectRequest.objects.for_org(org_id).filter(pk=request_id).first()


def access_gdpr_request(*, org, actor, request_id, scope: str = SCOPE) -> DataSubjectRequest:
    pk = parse_id(request_id)
    found = (DataSubjectRequest.objects.for_org(org).select_related("requested_by", "verified_by", "result_blob")
             .filter(pk=pk).first() if pk else None)
    if found is None or not has_scope(org=org, actor=actor, scope=scope):
        deny_not_found(org=org, actor=actor, target_type="compliance.datasubjectrequest", target_id=request_id,
                       scope=scope)
    return found


def _value_candidates(value: str) -> list:
    """A subject value as metadata may hold it: the string, and the number when it is one (patient_id: 1234)."""
    candidates: list = [value]
    if re.fullmatch(r"-?[0-9]{1,18}", value):
        candidates.append(int(value))
    return candidates


def subject_items(*, org, value: str):
    """The items of the organisation's datasets whose subject_key holds `value` in their metadata."""
    from apps.datasets.models import Dataset, Item

    keys = list(Dataset.objects.for_org(org).exclude(subject_key="").values_list("pk", "subject_key"))
    if not keys or not value:
        return Item.objects.for_org(org).none()
    q = Q()
    for dataset_id, key in keys:
        for candidate in _value_candidates(value):
            q |= Q(dataset_id=dataset_id, metadata__contains={key: candidate})
    return Item.objects.for_org(org).filter(q).order_by("id")


def _events_about_items(*, org, item_ids: list[int]) -> QuerySet[AuditEvent]:
    q = Q(target_type=ITEM_TARGET, target_id__in=[str(i) for i in item_ids])
    for item_id in item_ids[:MAX_LISTING_LOOKUPS]:
        q |= Q(action="items.listed", metadata__item_ids__contains=[item_id])
    return AuditEvent.objects.for_org(org).filter(q).order_by("occurred_at", "id")


# --- Lifecycle ----------------------------------------------------------------------------------------


def _audit(request: DataSubjectRequest, *, actor, action: str, before: str | None = None, **metadata):
    audit_record(
        org=request.organization_id, actor=actor, action=action, target=request,
        before={"status": before} if before else None, after={"status": request.status},
        metadata={"kind": request.kind, "subject": request.subject_pseudonym, **metadata},
    )


def gdpr_request_create(*, org, actor, kind: str, subject_value: str, notes: str = "",
                        received_at=None) -> DataSubjectRequest:
    require_scope(org=org, actor=actor, scope=SCOPE)
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Choose one of {', '.join(Kind.values)}."})
    value = (subject_value or "").strip()
    if not value:
        raise ValidationError({"subject_value": "Give the subject's identifier (the value of the datasets' "
                                                "subject key, e.g. a patient id)."})
    if len(value) > 200:
        raise ValidationError({"subject_value": "At most 200 characters."})
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + timedelta(minutes=5):
        raise ValidationError({"received_at": "A request cannot be received in the future."})
    with transaction.atomic():
        request = DataSubjectRequest.objects.create(
            organization_id=org_id_of(org), kind=kind, subject_value=value,
            subject_pseudonym=subject_pseudonym(org=org, value=value), received_at=received_at,
            due_at=received_at + DUE_AFTER, requested_by=actor, notes=(notes or "").strip(),
        )
        _audit(request, actor=actor, action="gdpr.received", due_at=request.due_at.isoformat())
    return request


def _locked(request: DataSubjectRequest) -> DataSubjectRequest:
    return DataSubjectRequest.objects.for_org(request.organization_id).select_for_update().get(pk=request.pk)


def _require_status(request: DataSubjectRequest, allowed: tuple[str, ...], doing: str) -> None:
    if request.status not in allowed:
        raise ConflictError(
            f"This request is {request.get_status_display().lower()}: it cannot be {doing} "
            f"(only a request that is {' or '.join(Status(s).label.lower() for s in allowed)} can).",
            [{"id": request.pk, "status": request.status}],
        )


def gdpr_request_verify(*, org, actor, request: DataSubjectRequest, notes: str = "") -> DataSubjectRequest:
    """The requester's identity was checked (how, in `notes`)."""
    require_scope(org=org, actor=actor, scope=SCOPE)
    with transaction.atomic():
        request = _locked(request)
        _require_status(request, (Status.RECEIVED,), "verified")
        request.status, request.verified_by, request.verified_at = Status.VERIFIED, actor, timezone.now()
        fields = ["status", "verified_by", "verified_at", "updated_at"]
        if notes and notes.strip():
            request.notes = f"{request.notes}\n{notes.strip()}".strip()
            fields.append("notes")
        request.save(update_fields=fields)
        _audit(request, actor=actor, action="gdpr.verified", before=Status.RECEIVED)
    return request


def gdpr_request_reject(*, org, actor, request: DataSubjectRequest, reason: str) -> DataSubjectRequest:
    require_scope(org=org, actor=actor, scope=SCOPE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is rejected (the subject is told)."})
    with transaction.atomic():
        request = _locked(request)
        _require_status(request, (Status.RECEIVED, Status.VERIFIED), "rejected")
        before = request.status
        request.status, request.finished_at = Status.REJECTED, timezone.now()
        request.result = {"rejected_because": reason[:2000]}
        request.save(update_fields=["status", "finished_at", "result", "updated_at"])
        _audit(request, actor=actor, action="gdpr.rejected", before=before)
    return request


def gdpr_request_run(*, org, actor, request: DataSubjectRequest) -> DataSubjectRequest:
    """Starts a verified request (or one that failed, once its cause is gone): the worker builds the bundle or
    erases (tasks.run_gdpr_request). An erasure refused by a legal hold is a 409, audited as "gdpr.refused"."""
    require_scope(org=org, actor=actor, scope=SCOPE)
    from .tasks import run_gdpr_request

    try:
        with transaction.atomic():
            request = _locked(request)
            _require_status(request, (Status.VERIFIED, Status.FAILED), "run")
            if request.kind == Kind.ERASURE:  # a legal hold on any of the subject's datasets refuses it: 409
                refusal = erasure.hold_refusal(request)
                if refusal:
                    raise _Refused(refusal)
            before = request.status
            request.status, request.run_by, request.error = Status.IN_PROGRESS, actor, ""
            request.save(update_fields=["status", "run_by", "error", "updated_at"])
            _audit(request, actor=actor, action="gdpr.started", before=before)
            enqueue(run_gdpr_request, request.organization_id, request.pk)
    except _Refused as exc:  # audited after the rollback, in a transaction of its own
        with transaction.atomic():
            _audit(request, actor=actor, action="gdpr.refused", reason=exc.message)
        raise ConflictError(exc.message, [{"id": request.pk, "status": request.status}]) from None
    return request


class _Refused(ConflictError):
    pass


def gdpr_request_execute(*, request: DataSubjectRequest) -> DataSubjectRequest:
    """The worker's part, in one transaction; a request no longer in progress is left as it is (redelivery).
    An erasure that a legal hold placed since it was started refuses becomes `failed`, with the reason (audited)."""
    with transaction.atomic():
        request = _locked(request)
        if request.status != Status.IN_PROGRESS:
            return request
        refusal = erasure.hold_refusal(request) if request.kind == Kind.ERASURE else ""
        if refusal:
            request.status, request.finished_at, request.error = Status.FAILED, timezone.now(), refusal[:2000]
            request.save(update_fields=["status", "finished_at", "error", "updated_at"])
            _audit(request, actor=None, action="gdpr.failed", before=Status.IN_PROGRESS, run_by=request.run_by_id,
                   reason=request.error)
            return request
        if request.kind == Kind.ACCESS:
            _build_access_bundle(request)
        else:
            erasure.erase(request)
        request.status, request.finished_at, request.error = Status.DONE, timezone.now(), ""
        request.save(update_fields=["status", "finished_at", "error", "result", "result_blob", "subject_value",
                                    "updated_at"])
        _audit(request, actor=None, action="gdpr.completed", before=Status.IN_PROGRESS,
               run_by=request.run_by_id, counts=request.result.get("counts", {}))
    return request


def gdpr_request_download(http_request, *, org, actor, request: DataSubjectRequest):
    """The access bundle (a JSON attachment) or the signed erasure certificate; 409 until the request is done."""
    from django.http import HttpResponse

    from apps.core.errors import GoneError
    from apps.storage.http import content_disposition, serve_blob

    if request.status != Status.DONE:
        raise ConflictError(f"This request is {request.get_status_display().lower()}: there is nothing to "
                            "download yet.", [{"id": request.pk, "status": request.status}])
    if http_request.method != "HEAD":
        audit_record(org=org, actor=actor, action="gdpr.downloaded", target=request,
                     metadata={"kind": request.kind, "subject": request.subject_pseudonym})
    if request.kind == Kind.ACCESS:
        if request.result_blob_id is None:
            raise GoneError("This access bundle was deleted when the subject's data was erased.")
        return serve_blob(http_request, request.result_blob, filename=f"gdpr-access-{request.pk}.json",
                          inline=False)
    response = HttpResponse(json.dumps(request.result["certificate"], indent=2), content_type="application/json")
    response["Content-Disposition"] = content_disposition(f"gdpr-erasure-certificate-{request.pk}.json",
                                                          inline=False)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Access -------------------------------------------------------------------------------------------


def _item_rows(items: list, annotations_by_item: dict) -> list[dict]:
    return [{
        "id": item.pk, "dataset": {"id": item.dataset_id, "name": item.dataset.name}, "name": item.name,
        "folder": item.folder, "kind": item.kind, "mime": item.mime, "size": item.size, "sha256": item.sha256,
        "width": item.width, "height": item.height, "duration": item.duration, "created_at": item.created_at,
        "metadata": item.metadata, "annotations": annotations_by_item.get(item.pk, []),
    } for item in items]


def _build_access_bundle(request: DataSubjectRequest) -> None:
    from apps.annotations.models import Annotation
    from apps.storage.services import blob_put, subject_key_get_or_create

    org_id = request.organization_id
    items = list(subject_items(org=org_id, value=request.subject_value).select_related("dataset"))
    item_ids = [item.pk for item in items]
    annotations_by_item: dict[int, list] = {}
    annotation_count = 0
    for a in Annotation.objects.for_org(org_id).filter(item_id__in=item_ids).order_by("item_id", "frame", "id"):
        annotation_count += 1
        annotations_by_item.setdefault(a.item_id, []).append({
            "id": a.pk, "type": a.type, "label": a.label, "attributes": a.attributes, "geometry": a.geometry,
            "frame": a.frame, "source": a.source, "confidence": a.confidence, "created_at": a.created_at,
            "updated_at": a.updated_at,
        })
    wanted = set(item_ids)
    events = [{
        "id": e.pk, "occurred_at": e.occurred_at, "action": e.action, "actor_type": e.actor_type,
        "actor": e.actor_label, "target_type": e.target_type, "target_id": e.target_id,
        "item_ids": [i for i in (e.metadata or {}).get("item_ids", []) if i in wanted]
        if e.action == "items.listed" else None,
    } for e in _events_about_items(org=org_id, item_ids=item_ids)] if item_ids else []
    counts = {"items": len(items), "annotations": annotation_count, "audit_events": len(events)}
    bundle = {
        "format": BUNDLE_FORMAT,
        "content_included": False,
        "note": NO_CONTENT_NOTE,
        "request": {"id": request.pk, "kind": request.kind, "received_at": request.received_at,
                    "due_at": request.due_at, "generated_at": timezone.now()},
        "organization": {"id": org_id, "name": request.organization.name},
        "subject": {"identifier": request.subject_value},
        "counts": counts,
        "items": _item_rows(items, annotations_by_item),
        "audit_events": events,
    }
    data = json.dumps(bundle, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1).encode()
    # Under the subject's key: erasing them later destroys it, and with it every copy of this bundle.
    subject_key = subject_key_get_or_create(org=org_id, pseudonym=request.subject_pseudonym)
    request.result_blob = blob_put(org=org_id, stream=io.BytesIO(data), mime="application/json",
                                   subject_key=subject_key)
    request.result = {"counts": counts, "bundle_bytes": len(data)}


# --- Erasure ------------------------------------------------------------------------------------------
# In erasure.py: the legal hold checked again, the deletion, withdrawals, crypto-shredding and the certificate.
