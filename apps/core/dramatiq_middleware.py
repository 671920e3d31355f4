"""Dramatiq middleware. Loaded while Django's app registry is still being set up, so it imports no models."""

import logging

from dramatiq.middleware import Middleware

from apps.tenancy.context import NO_TENANT, TenantState, set_state

logger = logging.getLogger(__name__)


class TenantContextMiddleware(Middleware):
    """Scopes the database connection to the message's organisation while an actor runs."""

    def before_process_message(self, broker, message):
        org_id = message.options.get("org_id")
        set_state(TenantState(org_id=org_id) if org_id else NO_TENANT)

    def _reset(self, broker, message, **kwargs):
        try:
            set_state(NO_TENANT)
        except Exception:  # the connection may already be gone; the next message sets its own state
            logger.debug("Could not reset tenant state", exc_info=True)

    after_process_message = _reset
    after_skip_message = _reset
