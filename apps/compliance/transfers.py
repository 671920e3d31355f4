"""Cross-region transfers: the legal basis (GDPR chapter V) that lets copies of an organisation's data be stored in a
region other than its own, and the one check storage makes before it writes or reads there.

Without an active TransferBasis for the region, storage refuses (audited `storage.residency_violation`, as before).
With one, a write there is audited as `residency.transfer` naming the basis, so the compliance officer can answer
"what left the region, when, by whom, on what basis". Recording and revoking a basis are audited too.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from apps.core.errors import ConflictError
from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import TransferBasis
from .services import audit_record

SCOPE = "transfer.manage"
# A basis is reviewed at least this often: one may be recorded for at most this long.
MAX_VALIDITY = timedelta(days=3 * 366)
MIN_REFERENCE_CHARS = 3
MIN_PURPOSE_CHARS = 10


def transfer_basis_list(*, org) -> QuerySet[TransferBasis]:
    return TransferBasis.objects.for_org(org).select_related("recorded_by", "revoked_by").order_by("-valid_from",
                                                                                                   "-pk")


def active_transfer_basis(*, org, region: str, at=None) -> TransferBasis | None:
    """The basis, if any, that currently allows the organisation's data in `region` (the latest-ending one)."""
    at = at or timezone.now()
    return (TransferBasis.objects.for_org(org)
            .filter(destination_region=region, revoked_at__isnull=True, valid_from__lte=at, valid_until__gt=at)
            .order_by("-valid_until").first())


def access_transfer_basis(*, org, actor, basis_id, scope: str = SCOPE) -> TransferBasis:
    pk = parse_id(basis_id)
    found = TransferBasis.objects.for_org(org).filter(pk=pk).first() if pk else None
    if found is None or not has_scope(org=org, actor=actor, scope=scope):
        deny_not_found(org=org, actor=actor, target_type="compliance.transferbasis", target_id=basis_id, scope=scope)
    return found


def _validate(*, org, destination_region: str, reference: str, purpose: str, valid_from, valid_until) -> dict:
    errors = {}
    if destination_region not in settings.REGIONS:
        errors["destination_region"] = (f"Unknown region {destination_region!r}; configured regions are: "
                                        f"{', '.join(settings.REGIONS)}.")
    elif destination_region == org.region:
        errors["destination_region"] = (f"{destination_region!r} is the organisation's own region: data there needs "
                                        "no transfer basis.")
    if len(reference.strip()) < MIN_REFERENCE_CHARS:
        errors["reference"] = "Name the decision, contract or consent record relied on."
    if len(purpose.strip()) < MIN_PURPOSE_CHARS:
        errors["purpose"] = f"Say why the data goes there and what goes (at least {MIN_PURPOSE_CHARS} characters)."
    now = timezone.now()
    if valid_until <= max(valid_from, now):
        errors["valid_until"] = "Must be in the future and after valid_from."
    elif valid_until - valid_from > MAX_VALIDITY:
        errors["valid_until"] = f"A basis is recorded for at most {MAX_VALIDITY.days} days; record it again to renew."
    if valid_from > now + timedelta(days=366):
        errors["valid_from"] = "At most a year ahead."
    return errors


def transfer_basis_record(*, org, actor, destination_region: str, basis: str, reference: str, purpose: str,
                          valid_until, valid_from=None) -> TransferBasis:
    """Records a legal basis for copies in `destination_region`; 400 naming the field on bad input. Audited."""
    valid_from = valid_from or timezone.now()
    if basis not in TransferBasis.Basis.values:
        raise ValidationError({"basis": f"Choose one of {', '.join(TransferBasis.Basis.values)}."})
    errors = _validate(org=org, destination_region=destination_region, reference=reference, purpose=purpose,
                       valid_from=valid_from, valid_until=valid_until)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        recorded = TransferBasis.objects.create(
            organization_id=org.pk, destination_region=destination_region, basis=basis,
            reference=reference.strip(), purpose=purpose.strip(), valid_from=valid_from, valid_until=valid_until,
            recorded_by=actor)
        audit_record(org=org, actor=actor, action="residency.transfer_basis_recorded", target=recorded,
                     after={"destination_region": destination_region, "basis": basis,
                            "reference": recorded.reference, "valid_from": valid_from.isoformat(),
                            "valid_until": valid_until.isoformat()})
    return recorded


def transfer_basis_revoke(*, org, actor, basis: TransferBasis, reason: str) -> TransferBasis:
    """Ends a basis now: from here on storage refuses the region again. 409 when it was already revoked."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the basis no longer holds."})
    with transaction.atomic():
        basis = TransferBasis.objects.for_org(org).select_for_update().get(pk=basis.pk)
        if basis.revoked_at is not None:
            raise ConflictError(f"This basis was already revoked on {basis.revoked_at:%Y-%m-%d %H:%M} UTC.")
        basis.revoked_at, basis.revoked_by, basis.revoke_reason = timezone.now(), actor, reason[:2000]
        basis.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit_record(org=org, actor=actor, action="residency.transfer_basis_revoked", target=basis,
                     metadata={"reason": basis.revoke_reason, "destination_region": basis.destination_region})
    return basis


def transfer_authorised(*, org, actor, region: str, operation: str, target_label: str = "") -> TransferBasis | None:
    """Storage's question before it writes (or reads) the organisation's data in a region not its own: the active
    basis that allows it, with the write audited as `residency.transfer` in the caller's transaction; None when no
    basis allows it (the caller refuses, audited as a residency violation)."""
    basis = active_transfer_basis(org=org, region=region)
    if basis is not None and operation == "write":
        audit_record(org=org, actor=actor, action="residency.transfer", target=basis,
                     metadata={"operation": operation, "destination_region": region, "org_region": org.region,
                               "basis": basis.basis, "reference": basis.reference, "object": target_label})
    return basis
