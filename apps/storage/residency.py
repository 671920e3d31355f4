"""The residency wall: an organisation's bytes stay in its region, and every attempt otherwise is audited.

The audit event must outlive the caller's transaction: the refusal is raised into it, and a caller that
rolls back on the exception would roll the event back too, hence compliance's audit_record_committed().
"""

import logging

from django.contrib.auth import get_user_model

from apps.compliance.services import audit_record_committed
from apps.tenancy.context import get_state

from .errors import ResidencyError

logger = logging.getLogger(__name__)
ACTION = "storage.residency_violation"


def residency_refused(*, org, operation: str, region: str, reason: str, blob=None) -> ResidencyError:
    """Records `storage.residency_violation` in org's chain, committed whatever the caller does next,
    and returns the ResidencyError for the caller to raise."""
    message = (
        f"Refused to {operation} data of organisation {org.slug!r} in region {region!r}: "
        f"its data stays in region {org.region!r} ({reason})."
    )
    audit_kwargs = {
        "org": org,
        "actor": acting_user(),
        "action": ACTION,
        "metadata": {"operation": operation, "attempted_region": region, "org_region": org.region, "reason": reason},
    }
    if blob is not None:
        audit_kwargs.update(target_type="storage.blob", target_id=blob.pk, target_label=f"{blob.region}:{blob.key}")
    audit_record_committed(**audit_kwargs)
    return ResidencyError(message)


def acting_user():
    user_id = get_state().user_id
    if user_id is None:
        return None
    return get_user_model().objects.filter(pk=user_id).first()
