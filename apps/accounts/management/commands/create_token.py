from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import token_create
from apps.tenancy.context import tenant_context
from apps.tenancy.management.commands.create_org import validation_message
from apps.tenancy.selectors import organization_get_by_slug


class Command(BaseCommand):
    help = "Creates an API token for a member and prints the token alone on stdout (for scripts)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="cli")
        parser.add_argument("--days", type=int, default=90)

    def handle(self, *args, org, email, name, days, **options):
        organization = organization_get_by_slug(org)
        if organization is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account for {email}.")
        try:
            with tenant_context(organization, user):
                _token, raw = token_create(org=organization, actor=user, name=name, days=days)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
