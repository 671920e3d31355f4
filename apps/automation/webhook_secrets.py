"""A pipeline's webhook signing secret: sealed with the organisation's key (apps/storage/secrets.py), shown once
(in the create answer, or the rotate answer), never again; rotatable, with a grace period.

Rotation: the new secret signs from now on; the old one keeps signing beside it until `previous_until`
(DLSAAS_WEBHOOK_SECRET_GRACE_SECONDS, default 24 h, or the `grace_seconds` the rotation asks for; 0 drops it at
once, for a leaked secret). While both sign, X-Dlsaas-Signature carries two values, "sha256=<new>, sha256=<old>",
so a receiver may switch to the new secret whenever it likes within the grace period without refusing a delivery.
Every issue and rotation is audited (never with the secret in it).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.storage.secrets import org_secret_open, org_secret_seal
from apps.tenancy.permissions import require_scope

from .models import Pipeline

MAX_GRACE_SECONDS = 7 * 24 * 3600
MIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 32, 128


def _purpose(pipeline: Pipeline) -> str:
    return f"pipeline:{pipeline.pk}:webhook"


def _seal(pipeline: Pipeline, secret: str) -> bytes:
    return org_secret_seal(org_id=pipeline.organization_id, purpose=_purpose(pipeline), secret=secret.encode())


def _open(pipeline: Pipeline, sealed) -> str:
    return org_secret_open(org_id=pipeline.organization_id, purpose=_purpose(pipeline), sealed=sealed).decode()


def webhook_secret_issue(pipeline: Pipeline) -> str:
    """Seals a new secret onto a just-saved pipeline (inside its creation's transaction); returns it, to be shown
    once. The creation's own audit event says a secret was issued."""
    secret = secrets.token_hex(32)
    pipeline.webhook_secret_sealed = _seal(pipeline, secret)
    pipeline.save(update_fields=["webhook_secret_sealed"])
    return secret


def webhook_signing_secrets(pipeline: Pipeline, *, now=None) -> list[str]:
    """The secrets deliveries are signed with now: the current one, then the previous one while in its grace."""
    now = now or timezone.now()
    if not pipeline.webhook_secret_sealed:
        return []
    found = [_open(pipeline, pipeline.webhook_secret_sealed)]
    if pipeline.webhook_secret_previous_sealed and pipeline.webhook_secret_previous_until \
            and pipeline.webhook_secret_previous_until > now:
        found.append(_open(pipeline, pipeline.webhook_secret_previous_sealed))
    return found


def _check_secret(secret) -> str:
    if not isinstance(secret, str) or not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH \
            or not secret.isascii() or not secret.isprintable() or secret.strip() != secret:
        raise ValidationError({"secret": f"A secret is {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} printable ASCII "
                                         "characters, without surrounding spaces (or leave it out for a random one)."})
    return secret


def pipeline_webhook_secret_rotate(*, org, actor, pipeline: Pipeline, secret=None, grace_seconds=None) \
        -> tuple[str, object]:
    """Replaces the pipeline's webhook secret with `secret` (or a random one); the old one keeps signing beside it
    for `grace_seconds` (default settings.WEBHOOK_SECRET_GRACE_SECONDS; 0: not at all). Returns (the new secret,
    shown once, and until when the old one signs, or None)."""
    require_scope(org=org, actor=actor, scope="model.manage")
    new = secrets.token_hex(32) if secret is None else _check_secret(secret)
    grace = settings.WEBHOOK_SECRET_GRACE_SECONDS if grace_seconds is None else grace_seconds
    if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= MAX_GRACE_SECONDS:
        raise ValidationError({"grace_seconds": f"Seconds from 0 to {MAX_GRACE_SECONDS} (7 days)."})
    now = timezone.now()
    with transaction.atomic():
        locked = Pipeline.objects.for_org(org).select_for_update().get(pk=pipeline.pk)
        had = bool(locked.webhook_secret_sealed)
        locked.webhook_secret_previous_sealed = locked.webhook_secret_sealed if had and grace else b""
        locked.webhook_secret_previous_until = now + timedelta(seconds=grace) if had and grace else None
        locked.webhook_secret_sealed = _seal(locked, new)
        locked.webhook_secret_rotated_at = locked.updated_at = now
        locked.save(update_fields=["webhook_secret_sealed", "webhook_secret_previous_sealed",
                                   "webhook_secret_previous_until", "webhook_secret_rotated_at", "updated_at"])
        audit_record(org=org, actor=actor, action="pipeline.webhook_secret_rotated", target=locked,
                     metadata={"chosen_by": "caller" if secret is not None else "random", "grace_seconds": grace,
                               "previous_valid_until": locked.webhook_secret_previous_until.isoformat()
                               if locked.webhook_secret_previous_until else None, "had_secret": had})
    for field in ("webhook_secret_sealed", "webhook_secret_previous_sealed", "webhook_secret_previous_until",
                  "webhook_secret_rotated_at", "updated_at"):
        setattr(pipeline, field, getattr(locked, field))
    return new, locked.webhook_secret_previous_until
