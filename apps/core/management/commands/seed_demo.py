"""Seeds the demo organisations and one login per role (what `make demo` shows a newcomer).

Idempotent: running it again creates nothing twice and prints the same table of logins. Works on the
embedded SQLite database and on PostgreSQL; refuses a production deployment (the password is public).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.automation.demo import demo_model_seed
from apps.datasets.demo import demo_dataset_seed
from apps.recipes.demo import demo_recipe_seed
from apps.tenancy.context import system_context, tenant_context
from apps.tenancy.management.commands.create_org import validation_message
from apps.tenancy.roles import Role
from apps.tenancy.selectors import membership_get, organization_get_by_slug
from apps.tenancy.services import membership_create, organization_create
from apps.workforce.demo import demo_task_seed

# The one password of every demo login (documented in README.md). Passes the password validators.
DEMO_PASSWORD = "label-every-pixel-42"
DEMO_EMAIL_DOMAIN = "demo.dlsaas.test"

DEMO_ORGS = [
    # (slug, name, region)
    ("demo", "Demo Vision", "eu"),
    ("demo-health", "Demo Health", "us"),
]

# (role, full name, memberships: [(org slug, role)]). The first organisation listed for the owner is
# created with that person as its owner; the owner also owns Demo Health, so the organisation
# switcher has something to show.
DEMO_PEOPLE = [
    (Role.OWNER, "Olivia Owner", [("demo", Role.OWNER), ("demo-health", Role.OWNER)]),
    (Role.ADMIN, "Adam Admin", [("demo", Role.ADMIN)]),
    (Role.MANAGER, "Maya Manager", [("demo", Role.MANAGER)]),
    (Role.ANNOTATOR, "Ana Annotator", [("demo", Role.ANNOTATOR)]),
    (Role.REVIEWER, "Raj Reviewer", [("demo", Role.REVIEWER)]),
    (Role.COMPLIANCE_OFFICER, "Chloe Compliance", [("demo", Role.COMPLIANCE_OFFICER)]),
]


def demo_email(role: str) -> str:
    return f"{role}@{DEMO_EMAIL_DOMAIN}"


class Command(BaseCommand):
    help = "Creates the demo organisations (demo, demo-health) and one login per role; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords", action="store_true",
            help="Set every demo login's password back to the documented demo password.",
        )
        parser.add_argument(
            "--allow-production", action="store_true",
            help="Seed even when DLSAAS_PRODUCTION=1 (the demo password is public: don't).",
        )

    def handle(self, *args, reset_passwords=False, allow_production=False, **options):
        if getattr(settings, "PRODUCTION", False) and not allow_production:
            raise CommandError("Refusing to seed demo logins with a public password into a production deployment.")
        for _slug, _name, region in DEMO_ORGS:
            if region not in settings.REGIONS:
                raise CommandError(f"The demo needs region {region!r}; DLSAAS_REGIONS is {settings.REGIONS}.")

        User = get_user_model()
        created = []
        try:
            with transaction.atomic(), system_context():
                users = {}
                for role, full_name, _memberships in DEMO_PEOPLE:
                    email = demo_email(role)
                    user = User.objects.filter(email__iexact=email).first()
                    if user is None:
                        validate_password(DEMO_PASSWORD, User(email=email, full_name=full_name))
                        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
                        created.append(f"user {email}")
                    elif reset_passwords:
                        user.set_password(DEMO_PASSWORD)
                        user.save(update_fields=["password"])
                    users[role] = user

                orgs = {}
                owner = users[Role.OWNER]
                for slug, name, region in DEMO_ORGS:
                    org = organization_get_by_slug(slug)
                    if org is None:
                        org = organization_create(name=name, slug=slug, region=region, owner=owner)
                        created.append(f"organisation {slug}")
                    orgs[slug] = org

                for role, _full_name, memberships in DEMO_PEOPLE:
                    user = users[role]
                    for slug, member_role in memberships:
                        if membership_get(org=orgs[slug], user=user) is None:
                            membership_create(org=orgs[slug], user=user, role=member_role)
                            created.append(f"{user.email} as {member_role} in {slug}")
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None

        with tenant_context(orgs["demo"], owner):
            dataset, added = demo_dataset_seed(org=orgs["demo"], actor=owner)
        if dataset is None:
            self.stdout.write("No sample photographs found (pip install --no-deps -r requirements-demo.txt).")
        elif added:
            created.append(f"dataset {dataset.name!r} with {added} photographs")
        if dataset is not None:
            with tenant_context(orgs["demo"], owner):
                recipe, recipe_created = demo_recipe_seed(org=orgs["demo"], actor=owner, dataset=dataset)
                task, task_created = demo_task_seed(org=orgs["demo"], actor=owner, dataset=dataset,
                                                    annotators=[users["annotator"]], reviewers=[users["reviewer"]])
            if recipe_created:
                created.append(f"recipe {recipe.name!r}")
            if task_created:
                created.append(f"task {task.name!r}")
            with tenant_context(orgs["demo"], owner):
                model, model_created, queued = demo_model_seed(org=orgs["demo"], actor=owner, dataset=dataset)
            if model_created:
                created.append(f"model {model.name!r} ({queued} photographs queued for pre-annotation)")

        if created:
            self.stdout.write(f"Created: {'; '.join(created)}.")
        else:
            self.stdout.write("The demo data is already there; nothing created.")
        self._print_logins()

    def _print_logins(self) -> None:
        rows = [("Email", "Role", "Organisations", "Password")]
        for role, _full_name, memberships in DEMO_PEOPLE:
            orgs = ", ".join(slug for slug, _role in memberships)
            rows.append((demo_email(role), str(role), orgs, DEMO_PASSWORD))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
        self.stdout.write("\nDemo logins (sign in at /accounts/login/):")
        self.stdout.write(line)
        for index, row in enumerate(rows):
            self.stdout.write("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
            if index == 0:
                self.stdout.write(line)
        self.stdout.write(line)
