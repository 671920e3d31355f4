"""The console's audit search by dataset and by IP network over a large trail, under row-level security.

    createdb -h 127.0.0.1 -U dlsaas dlsaas_audit_bench
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas_audit_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas_audit_bench .venv/bin/python bench/audit_search.py

Seeds (once) 200,000 events in one organisation (and 50,000 in another): 500 datasets named in metadata.dataset_id,
dataset 7 only in the oldest 60 events (the worst case for a newest-first walk), IPs across 10.0.0.0/16. Prints
EXPLAIN (ANALYZE, BUFFERS) and the median time of the first page (50 events) of each search, as the app role with
RLS forced and in the organisation's tenant context, as requests run it: "before" is the former filter on the
expression metadata ->> 'dataset_id' (inet <<= for the network), "after" console.audit_event_search, which reads
the generated column metadata_dataset_id (and an inet range), both indexed.
"""

import ipaddress
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlsaas.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import BooleanField, F, Func, GenericIPAddressField, Q, Value  # noqa: E402
from django.db.models.fields.json import KeyTextTransform  # noqa: E402
from django.db.models.functions import Cast  # noqa: E402

from apps.compliance import selectors  # noqa: E402
from apps.compliance.console import DATASET_TARGET, audit_event_search  # noqa: E402
from apps.tenancy.context import system_context, tenant_context  # noqa: E402
from apps.tenancy.models import Organization  # noqa: E402

PAGE = 50
SEED_SQL = """
INSERT INTO compliance_auditevent (organization_id, occurred_at, actor_type, actor_label, action, target_type,
                                   target_id, target_label, metadata, ip, user_agent, request_id)
SELECT %(org)s, timestamptz '2025-01-01' + g * interval '90 seconds', 'user', 'someone@acme.test',
       (ARRAY['item.viewed','items.listed','item.downloaded','export.created'])[1 + g %% 4],
       'datasets.item', (g %% 100000)::text, 'item',
       jsonb_build_object('dataset_id', CASE WHEN g <= 60 THEN 7 ELSE 8 + (g %% 492) END, 'n', g),
       ('10.0.' || (g %% 256) || '.' || (g %% 250 + 1))::inet, 'bench', ''
FROM generate_series(1, %(rows)s) AS g
"""


def seed(rows: int) -> Organization:
    with system_context():
        org = Organization.objects.filter(slug="audit-bench-a").first()
        if org is not None:
            return org
        org = Organization.objects.create(name="Audit bench A", slug="audit-bench-a", region="eu")
        other = Organization.objects.create(name="Audit bench B", slug="audit-bench-b", region="eu")
    started = time.perf_counter()
    for target, count in ((org, rows), (other, rows // 4)):
        with tenant_context(target), connection.cursor() as cursor:
            cursor.execute(SEED_SQL, {"org": target.pk, "rows": count})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE compliance_auditevent")
    print(f"seeded {rows} + {rows // 4} events in {time.perf_counter() - started:.1f}s")
    return org


class _ContainedBy(Func):  # the former network filter: inet <<= (not leakproof)
    arg_joiner = " <<= "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def before_dataset(org, dataset_id):
    qs = selectors.audit_event_list(org=org).alias(dataset_key=KeyTextTransform("dataset_id", "metadata"))
    return qs.filter(Q(dataset_key=str(dataset_id)) | Q(target_type=DATASET_TARGET, target_id=str(dataset_id)))


def before_network(org, network):
    return selectors.audit_event_list(org=org).filter(
        _ContainedBy(F("ip"), Cast(Value(str(network)), GenericIPAddressField())))


def run(title, qs):
    sql, params = qs[:PAGE].query.sql_with_params()
    times = []
    for _ in range(7):
        started = time.perf_counter()
        rows = len(list(qs[:PAGE]))
        times.append((time.perf_counter() - started) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall())
    print(f"\n=== {title}: {rows} rows, median {statistics.median(times):.1f} ms\n{plan}")


def main():
    org = seed(200_000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        print("role, superuser, bypassrls:", cursor.fetchone())
    network = ipaddress.ip_network("10.0.42.0/24")
    with tenant_context(org):
        for dataset_id in (7, 100):
            run(f"dataset {dataset_id}, before (metadata ->> 'dataset_id')", before_dataset(org, dataset_id))
            run(f"dataset {dataset_id}, after (metadata_dataset_id)",
                audit_event_search(org=org, dataset_id=dataset_id))
        run(f"network {network}, before (ip <<= network)", before_network(org, network))
        run(f"network {network}, after (ip range)", audit_event_search(org=org, ip=network))


if __name__ == "__main__":
    main()
