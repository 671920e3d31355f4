from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.tenancy.context import system_context
from apps.tenancy.roles import Role
from apps.tenancy.selectors import organization_get_by_slug
from apps.tenancy.services import membership_create

from .create_org import validation_message


class Command(BaseCommand):
    help = "Adds a member to an organisation (creating the account if needed)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Required when the person has no account yet.")
        parser.add_argument("--name", default="")

    def handle(self, *args, org, email, role, password, name, **options):
        User = get_user_model()
        organization = organization_get_by_slug(org)
        if organization is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        try:
            with transaction.atomic(), system_context():
                user = User.objects.filter(email__iexact=email).first()
                if user is None:
                    if not password:
                        raise CommandError(f"{email} has no account yet: pass --password.")
                    validate_password(password, User(email=email))
                    user = User.objects.create_user(email, password, full_name=name)
                membership_create(org=organization, user=user, role=role)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        self.stdout.write(f"{user.email} is now {role} in {organization.slug}")
