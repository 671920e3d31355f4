from django.core.management.base import BaseCommand, CommandError

from apps.storage.errors import StorageError
from apps.storage.services import org_key_rotate
from apps.tenancy.context import tenant_context
from apps.tenancy.selectors import organization_get_by_slug


class Command(BaseCommand):
    help = (
        "Rotates an organisation's storage key: adds a key version (wrapped by the current master key), "
        "re-wraps every blob's data key with it and retires the older versions. No object is rewritten. "
        "Run it for every organisation after putting a new master key first in DLSAAS_MASTER_KEYS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug.")

    def handle(self, *args, org, **options):
        organization = organization_get_by_slug(org)
        if organization is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        try:
            with tenant_context(organization):
                rotation = org_key_rotate(org=organization, actor=None)
        except StorageError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{organization.slug}: key v{rotation.version} is current "
            f"(was v{rotation.previous_version or '-'}); {rotation.blobs_rewrapped} blob(s) re-wrapped."
        )
