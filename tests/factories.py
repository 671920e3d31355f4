import factory
from django.contrib.auth import get_user_model

from apps.accounts.models import ApiToken
from apps.tenancy.models import Membership, Organization
from apps.tenancy.roles import Role

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    region = "eu"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


def make_token(membership: Membership, name: str = "test") -> tuple[ApiToken, str]:
    raw, key_id, key_hash = ApiToken.generate()
    token = ApiToken.objects.create(
        organization=membership.organization, user=membership.user, name=name, key_id=key_id, key_hash=key_hash
    )
    return token, raw
