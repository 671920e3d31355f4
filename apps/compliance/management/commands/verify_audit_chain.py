from django.core.management.base import BaseCommand, CommandError

from apps.compliance.services import audit_chain_seal_and_verify
from apps.tenancy.selectors import organization_get_by_slug


class Command(BaseCommand):
    help = ("Seals the events waiting for their seal, then verifies the audit hash chain; names the first broken "
            "link and exits 1 if there is one.")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Organisation slug (default: every chain, platform included).")

    def handle(self, *args, org=None, **options):
        if org:
            organization = organization_get_by_slug(org)
            if organization is None:
                raise CommandError(f"No organisation with slug {org!r}.")
            report = audit_chain_seal_and_verify(org_id=organization.pk)
        else:
            report = audit_chain_seal_and_verify(all_orgs=True)
        if not report.ok:
            self.stderr.write(str(report.broken))
            raise SystemExit(1)
        self.stdout.write(f"OK: {report.events_checked} events in {report.chains_checked} chain(s), no broken link.")
        if report.head_hash and org:
            self.stdout.write(f"Head hash: {report.head_hash}")
