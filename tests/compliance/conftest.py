import pytest

from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory


@pytest.fixture
def officer(org_a, make_member):
    """A compliance officer of org_a."""
    return make_member(org_a, Role.COMPLIANCE_OFFICER, email="officer@acme.test")


@pytest.fixture
def dataset(org_a):
    """A dataset of personal data with its processing-register entry filled in."""
    return DatasetFactory(organization=org_a, name="Faces", classification="personal", retention_days=90,
                          purpose="Training a face blurring model", subject_categories=["customers", "children"])
