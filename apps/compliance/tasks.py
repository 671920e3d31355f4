import dramatiq

from apps.core.outbox import idempotent

from . import services


@dramatiq.actor(queue_name="default", max_retries=3)
@idempotent
def verify_audit_chain(org_id: int) -> None:
    """Checks one organisation's chain and records the result in that chain."""
    services.audit_chain_check(org_id=org_id)
