import itertools
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.compliance.models import GENESIS_HASH, AuditChainLink, AuditEvent, AuditPendingSeal
from apps.compliance.sealing import seal_pending
from apps.compliance.selectors import audit_chain_verify
from apps.compliance.services import audit_chain_seal_and_verify, audit_record, audit_record_committed
from apps.tenancy.context import system_context
from apps.tenancy.models import Organization
from apps.tenancy.roles import Role


def record_some(org, actor, n=3):
    return [audit_record(org=org, actor=actor, action=f"test.event_{i}", metadata={"i": i}) for i in range(n)]


def _links(org):
    return list(AuditChainLink.objects.filter(organization=org).order_by("sequence"))


def test_events_form_a_chain_per_organisation_once_sealed(org_a, owner_a, org_b, owner_b):
    a = record_some(org_a, owner_a.user)
    b = record_some(org_b, owner_b.user, n=2)
    waiting = audit_chain_verify(org_id=org_a.pk)
    assert waiting.ok and waiting.awaiting_seal >= 3  # written, not yet chained: the test's transaction is open

    assert seal_pending(org_a.pk) >= 3 and seal_pending(org_b.pk) >= 2

    links_a, links_b = _links(org_a), _links(org_b)
    assert [link.event_id for link in links_a[-3:]] == [e.pk for e in a]
    assert [link.sequence for link in links_a] == list(range(1, len(links_a) + 1))
    assert links_a[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(links_a))
    assert [link.event_id for link in links_b[-2:]] == [e.pk for e in b]
    report = audit_chain_verify(org_id=org_a.pk)
    assert report.ok and report.awaiting_seal == 0 and report.head_hash == links_a[-1].hash
    assert audit_chain_seal_and_verify(all_orgs=True).ok


def test_an_event_is_sealed_right_after_its_commit(transactional_db, org_a, owner_a, settings):
    settings.AUDIT_SEAL_DEBOUNCE_SECONDS = 0
    with transaction.atomic():
        event = audit_record(org=org_a, actor=owner_a.user, action="test.committed")
        assert AuditPendingSeal.objects.filter(event_id=event.pk).exists()

    assert AuditChainLink.objects.get(event=event).sequence >= 1
    assert not AuditPendingSeal.objects.filter(event_id=event.pk).exists()


def test_one_process_an_interval_seals_a_chain_whoever_writes(transactional_db, org_a, owner_a, settings):
    from django.core.cache import cache

    from apps.compliance import sealing

    settings.AUDIT_SEAL_DEBOUNCE_SECONDS = 60
    cache.delete(f"dlsaas:audit-seal:{org_a.pk}")
    sealing._last_seal_started.clear()
    first = audit_record(org=org_a, actor=owner_a.user, action="test.first")  # commits alone: sealed at once
    sealing._last_seal_started.clear()  # as another process, which never sealed, sees it
    second = audit_record(org=org_a, actor=owner_a.user, action="test.second")

    assert AuditChainLink.objects.filter(event=first).exists()
    assert AuditPendingSeal.objects.filter(event_id=second.pk).exists()  # left to the next interval or the sweep
    cache.delete(f"dlsaas:audit-seal:{org_a.pk}")  # the interval is over
    sealing._last_seal_started.clear()
    third = audit_record(org=org_a, actor=owner_a.user, action="test.third")
    assert AuditChainLink.objects.filter(event__in=[second, third]).count() == 2
    cache.delete(f"dlsaas:audit-seal:{org_a.pk}")


HOSTILE_TEXT = 'Zoë "quoted" \\ back\\slash\ttab\nnew line\r\x01\x1f\x7f \u2028 \U0001F600 </script> 名前'


def test_the_database_writes_the_same_payload_python_would_hash(org_a, owner_a):
    from apps.compliance.chain import event_select, link_hash, link_hash_of_array, pg_event_array

    event = audit_record(org=org_a, actor=owner_a.user, action="test.hostile", target_type="datasets.item",
                         target_id="7", target_label=HOSTILE_TEXT,
                         metadata={"name": HOSTILE_TEXT, "nested": {"list": [1, 2.5, None, True]}, "ünï": "ç"},
                         before={"label": HOSTILE_TEXT}, after=None)
    with system_context(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {pg_event_array()}, {event_select('postgresql')} FROM compliance_auditevent e"
                       " WHERE e.id = %s", [event.pk])
        array, *row = cursor.fetchone()

    assert link_hash_of_array(GENESIS_HASH, 42, array) == link_hash(GENESIS_HASH, 42, row)
    assert seal_pending(org_a.pk) >= 1
    assert audit_chain_verify(org_id=org_a.pk).ok  # the SQL check recomputes every hash the sealer wrote


class _Refused(Exception):
    pass


def test_an_event_committed_apart_outlives_the_transaction_that_rolls_back(transactional_db, org_a, owner_a):
    with pytest.raises(_Refused), transaction.atomic():
        audit_record_committed(org=org_a, actor=owner_a.user, action="test.refused_kept")
        raise _Refused

    with system_context():
        assert AuditEvent.objects.filter(organization_id=org_a.pk, action="test.refused_kept").count() == 1


def test_an_event_about_an_organisation_that_rolls_back_goes_with_it(transactional_db, owner_a):
    # The audit tables hold the organisation as a plain id: nothing but this check keeps an orphan event out.
    with pytest.raises(_Refused), transaction.atomic():
        with system_context():
            fresh = Organization.objects.create(name="Never committed", slug="never-committed", region="eu")
        audit_record_committed(org=fresh, actor=owner_a.user, action="test.about_uncommitted_org")
        raise _Refused

    with system_context():
        assert not AuditEvent.objects.filter(action="test.about_uncommitted_org").exists()
        assert not Organization.objects.filter(slug="never-committed").exists()


def test_what_no_writer_sealed_the_relay_sweep_seals(transactional_db, org_a, owner_a, settings):
    from apps.compliance.tasks import seal_waiting_events

    settings.AUDIT_SEAL_DEBOUNCE_SECONDS = 3600  # writers leave everything to the sweep
    events = record_some(org_a, owner_a.user, n=5)
    assert AuditPendingSeal.objects.filter(event_id__in=[e.pk for e in events]).count() >= 4

    seal_waiting_events()

    assert AuditChainLink.objects.filter(event__in=events).count() == 5
    assert audit_chain_verify(org_id=org_a.pk).awaiting_seal == 0


def test_an_event_says_who_what_when_and_from_where(org_a, owner_a, api_for, make_member):
    member = make_member(org_a, Role.ANNOTATOR)

    api_for(owner_a).patch(
        f"/api/v1/members/{member.pk}/", {"role": Role.REVIEWER}, format="json",
        REMOTE_ADDR="127.0.0.9", HTTP_USER_AGENT="pytest-agent", HTTP_X_REQUEST_ID="req-123",
    )

    event = AuditEvent.objects.get(organization=org_a, action="member.role_changed")
    assert event.actor_type == AuditEvent.ActorType.TOKEN and event.actor_user_id == owner_a.user_id
    assert event.actor_token_id is not None
    assert (event.target_type, event.target_id, event.target_label) == (
        "tenancy.membership", str(member.pk), member.user.email
    )
    assert (event.before, event.after) == ({"role": "annotator"}, {"role": "reviewer"})
    assert (event.ip, event.user_agent, event.request_id) == ("127.0.0.9", "pytest-agent", "req-123")


@pytest.mark.parametrize("statement", [
    "UPDATE compliance_auditevent SET action = 'nothing.happened'",
    "DELETE FROM compliance_auditevent",
    "UPDATE compliance_auditchainlink SET hash = repeat('a', 64)",
    "DELETE FROM compliance_auditchainlink",
])
def test_the_database_refuses_to_change_or_delete_events(statement, org_a, owner_a):
    record_some(org_a, owner_a.user)
    seal_pending(org_a.pk)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute(statement)

    assert AuditEvent.objects.filter(organization=org_a).count() == 3


def test_orm_delete_is_refused_too(org_a, owner_a):
    event = record_some(org_a, owner_a.user, n=1)[0]

    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()


def test_concurrent_writers_never_fork_the_chain(transactional_db, org_a, owner_a):
    from apps.tenancy.context import TenantState, set_state

    errors = []

    def writer(n):
        try:
            set_state(TenantState(bypass=True))
            for i in range(10):
                audit_record(org=org_a, actor=None, action=f"test.concurrent_{n}_{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    report = audit_chain_seal_and_verify(org_id=org_a.pk)
    assert report.ok and report.events_checked == AuditEvent.objects.filter(organization=org_a).count()
    assert report.events_checked >= 40 and report.awaiting_seal == 0


def _superuser_sql(sql, params=()):
    """Tampering as an attacker with the database superuser would (the trigger switched off)."""
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user="postgres",
                         dbname=settings["NAME"], autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql, params)


@pytest.mark.parametrize("tamper,reason,offset", [
    ("UPDATE compliance_auditevent SET metadata = '{\"i\": 99}' WHERE id = %s", "contents do not match", 0),
    ("UPDATE compliance_auditchainlink SET hash = repeat('a', 64) WHERE event_id = %s", "contents do not match", 0),
    ("UPDATE compliance_auditchainlink SET prev_hash = repeat('b', 64) WHERE event_id = %s", "previous-hash", 0),
    ("DELETE FROM compliance_auditevent WHERE id = %s", "the event it seals is gone", 0),
    ("DELETE FROM compliance_auditchainlink WHERE event_id = %s", "missing or inserted", 1),
    ("INSERT INTO compliance_auditevent (organization_id, occurred_at, actor_type, actor_label, action, target_type,"
     " target_id, target_label, metadata, user_agent, request_id)"
     " SELECT organization_id, occurred_at, actor_type, actor_label, 'forged.event', target_type, target_id,"
     " target_label, metadata, user_agent, request_id FROM compliance_auditevent WHERE id = %s",
     "neither sealed nor waiting", None),
])
def test_verify_audit_chain_names_the_first_broken_link(tamper, reason, offset, transactional_db, org_a, owner_a,
                                                        capsys):
    events = record_some(org_a, owner_a.user, n=4)
    seal_pending(org_a.pk)
    sequence = AuditChainLink.objects.get(event=events[1]).sequence
    _superuser_sql(tamper, [events[1].pk])

    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_chain", "--org", org_a.slug)

    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert reason in err
    assert (f"at sequence {sequence + offset} " if offset is not None else "outside the chain") in err


def test_verify_audit_chain_says_ok_for_an_intact_chain(org_a, owner_a, capsys):
    record_some(org_a, owner_a.user)
    before = AuditEvent.objects.filter(organization=org_a).count()

    call_command("verify_audit_chain", "--org", org_a.slug)

    head = AuditChainLink.objects.filter(organization=org_a).order_by("-sequence").first()
    out = capsys.readouterr().out
    assert f"OK: {before} events" in out and head.hash in out


def test_membership_invitation_and_token_changes_are_audited(org_a, owner_a, api_for, make_member):
    client = api_for(owner_a)
    member = make_member(org_a, Role.ANNOTATOR)
    invite = client.post("/api/v1/invitations/", {"email": "n@acme.test", "role": "reviewer"}, format="json").json()
    client.delete(f"/api/v1/invitations/{invite['id']}/")
    token = client.post("/api/v1/tokens/", {"name": "ci"}, format="json").json()
    client.delete(f"/api/v1/tokens/{token['id']}/")
    client.patch(f"/api/v1/members/{member.pk}/", {"role": "reviewer"}, format="json")
    client.delete(f"/api/v1/members/{member.pk}/")

    actions = list(AuditEvent.objects.filter(organization=org_a).order_by("id").values_list("action", flat=True))
    assert actions == [
        "invitation.created", "invitation.revoked", "token.created", "token.revoked", "member.role_changed",
        "member.removed",
    ]


@pytest.mark.parametrize("tampered", [None, 1, 3, 4, 8])
def test_a_long_chain_is_checked_in_chunks_on_several_connections(tampered, transactional_db, org_a, owner_a,
                                                                  monkeypatch):
    from apps.compliance import selectors

    monkeypatch.setattr(selectors, "VERIFY_CHUNK", 3)
    monkeypatch.setattr(selectors.os, "cpu_count", lambda: 4)
    record_some(org_a, owner_a.user, n=9)
    seal_pending(org_a.pk)
    links = list(AuditChainLink.objects.filter(organization=org_a).order_by("sequence"))
    assert len(links) >= 9
    if tampered is not None:  # sequences 3/4 sit on a chunk's edge
        _superuser_sql("UPDATE compliance_auditevent SET action = 'forged' WHERE id = %s",
                       [links[tampered - 1].event_id])

    report = audit_chain_verify(org_id=org_a.pk)

    assert report.events_checked == len(links)
    if tampered is None:
        assert report.ok and report.head_hash == links[-1].hash
    else:
        assert not report.ok and report.broken.sequence == tampered
        assert "contents do not match" in report.broken.reason


def test_a_broken_chain_alerts_the_audit_topic_at_once(transactional_db, org_a, owner_a, monkeypatch):
    from apps.compliance.services import audit_chain_check

    sent = []
    monkeypatch.setattr("apps.core.events.send_now", lambda group, event, data: sent.append((group, event, data)))
    events = record_some(org_a, owner_a.user, n=3)
    assert audit_chain_check(org_id=org_a.pk).ok and not [e for _, e, _ in sent if e == "audit.chain_broken"]
    _superuser_sql("UPDATE compliance_auditevent SET action = 'forged' WHERE id = %s", [events[1].pk])

    report = audit_chain_check(org_id=org_a.pk)

    alerts = [(group, data) for group, event, data in sent if event == "audit.chain_broken"]
    assert not report.ok and alerts == [(f"org.{org_a.pk}.audit", {
        "sequence": report.broken.sequence, "reason": report.broken.reason, "message": str(report.broken)})]
    assert AuditEvent.objects.filter(organization=org_a, action="audit.chain_broken").count() == 1
