"""`manage.py seed_demo`: the newcomer's organisations and logins, created once however often it runs."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.core.management.commands.seed_demo import DEMO_PASSWORD
from apps.tenancy.models import Membership, Organization
from apps.tenancy.roles import Role


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def logins_table(output: str) -> str:
    return output[output.index("Demo logins") :]


def test_seed_demo_creates_both_organisations_and_one_login_per_role(db):
    output = seed()

    vision = Organization.objects.get(slug="demo")
    health = Organization.objects.get(slug="demo-health")
    assert (vision.name, vision.region) == ("Demo Vision", "eu")
    assert (health.name, health.region) == ("Demo Health", "us")
    roles = dict(Membership.objects.filter(organization=vision).values_list("user__email", "role"))
    assert roles == {f"{role}@demo.dlsaas.test": role for role in Role.values}
    owner = get_user_model().objects.get(email="owner@demo.dlsaas.test")
    assert Membership.objects.filter(organization=health, user=owner, role=Role.OWNER).exists()
    assert owner.check_password(DEMO_PASSWORD)
    for role in Role.values:
        assert f"{role}@demo.dlsaas.test" in output
    assert DEMO_PASSWORD in output


def test_seed_demo_twice_creates_nothing_twice_and_prints_the_same_logins(db):
    first = seed()
    counts = (get_user_model().objects.count(), Organization.objects.count(), Membership.objects.count())

    second = seed()

    assert (get_user_model().objects.count(), Organization.objects.count(), Membership.objects.count()) == counts
    assert "nothing created" in second
    assert logins_table(second) == logins_table(first)


def test_demo_password_passes_the_password_validators(db):
    from django.contrib.auth.password_validation import validate_password

    validate_password(DEMO_PASSWORD, get_user_model()(email="annotator@demo.dlsaas.test", full_name="Ana Annotator"))
