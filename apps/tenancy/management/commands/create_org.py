from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.tenancy.context import system_context
from apps.tenancy.services import organization_create


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Creates an organisation and its first owner (creating the owner's account if needed)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--region", default=settings.DEFAULT_REGION, choices=settings.REGIONS)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="Required when the owner has no account yet.")

    def handle(self, *args, slug, name, region, owner_email, owner_password, **options):
        User = get_user_model()
        try:
            with transaction.atomic(), system_context():
                owner = User.objects.filter(email__iexact=owner_email).first()
                if owner is None:
                    if not owner_password:
                        raise CommandError(f"{owner_email} has no account yet: pass --owner-password.")
                    validate_password(owner_password, User(email=owner_email))
                    owner = User.objects.create_user(owner_email, owner_password)
                org = organization_create(name=name, slug=slug, region=region, owner=owner)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        self.stdout.write(f"Created organisation {org.slug} ({org.region}) owned by {owner.email}")
