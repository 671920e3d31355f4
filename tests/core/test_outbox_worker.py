"""The outbox and a real Dramatiq worker process on Redis."""

import dramatiq
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from dramatiq.brokers.redis import RedisBroker

from apps.compliance.models import AuditEvent
from apps.compliance.services import audit_chain_verification_request
from apps.core.models import OutboxMessage, ProcessedMessage
from apps.core.outbox import _to_message, enqueue
from tests.processes import manage, process_env, running, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def clean_queues():
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def worker(transactional_db, clean_queues, tmp_path):
    args = manage("rundramatiq", "--processes", "1", "--threads", "1", "--queues", "default")
    with running(args, process_env(), tmp_path / "worker.log") as proc:
        yield proc
    print((tmp_path / "worker.log").read_text()[-3000:])


def verified_events(org):
    return AuditEvent.objects.filter(organization=org, action="audit.chain_verified")


def test_an_outbox_message_reaches_a_worker_process_after_commit(worker, org_a, owner_a):
    audit_chain_verification_request(org=org_a, actor=owner_a.user)

    event = wait_for(lambda: verified_events(org_a).first(), timeout=60, what="the worker's event")
    assert event.actor_type == AuditEvent.ActorType.SYSTEM
    assert event.metadata["broken"] is None and event.metadata["events_checked"] >= 1
    assert OutboxMessage.objects.get().sent_at is not None


def test_a_broker_outage_loses_nothing(worker, org_a, owner_a, monkeypatch):
    down = RedisBroker(url="redis://127.0.0.1:1/0")  # nothing listens there: every send fails
    monkeypatch.setattr(dramatiq, "get_broker", lambda: down)

    audit_chain_verification_request(org=org_a, actor=owner_a.user)

    pending = OutboxMessage.objects.get()
    assert pending.sent_at is None and pending.attempts == 1 and "ConnectionError" in pending.last_error
    monkeypatch.undo()

    call_command("outbox_relay", "--once")

    wait_for(lambda: verified_events(org_a).exists(), timeout=60, what="the delayed message to be processed")


def test_a_redelivered_message_changes_nothing_twice(worker, org_a, owner_a):
    with transaction.atomic():
        row = audit_chain_verification_request(org=org_a, actor=owner_a.user)
    wait_for(lambda: verified_events(org_a).count() == 1, timeout=60, what="the first delivery")
    broker = dramatiq.get_broker()

    broker.enqueue(_to_message(row))  # the same message id again, as a broker redelivery would
    later = audit_chain_verification_request(org=org_a, actor=owner_a.user)  # a new message, queued behind it

    wait_for(lambda: ProcessedMessage.objects.filter(message_id=str(later.id)).exists(), timeout=60,
             what="the later message (one worker thread: the redelivery was handled before it)")
    assert verified_events(org_a).count() == 2
    assert ProcessedMessage.objects.filter(message_id=str(row.id)).count() == 1


def test_a_rolled_back_transaction_sends_nothing(transactional_db, clean_queues, org_a, owner_a):
    from apps.compliance.tasks import verify_audit_chain

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(verify_audit_chain, org_a.pk)
        raise RuntimeError("the change failed")

    assert not OutboxMessage.objects.exists()
    assert redis.Redis.from_url(settings.REDIS_URL).keys("dramatiq:*") == []
