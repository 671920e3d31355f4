"""Every websocket topic is checked like a request: another tenant's member, and a member whose role lacks the
topic's scope, are refused; the topics come from TOPIC_SCOPES, so a new topic joins this test by itself."""

import pytest

from apps.live.selectors import TOPIC_SCOPES, subscription_allowed
from apps.tenancy.roles import SCOPES, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("topic", sorted(TOPIC_SCOPES))
def test_each_topic_is_scoped_to_the_organisation_and_the_role(topic, org_a, owner_a, owner_b, make_member):
    assert subscription_allowed(user=owner_a.user, org_slug=org_a.slug, topic=topic) == org_a.pk
    assert subscription_allowed(user=owner_b.user, org_slug=org_a.slug, topic=topic) is None
    without = [role for role in Role if role not in SCOPES[TOPIC_SCOPES[topic]]]
    for role in without:
        member = make_member(org_a, role)
        assert subscription_allowed(user=member.user, org_slug=org_a.slug, topic=topic) is None, role


def test_unknown_topics_are_refused(org_a, owner_a):
    assert subscription_allowed(user=owner_a.user, org_slug=org_a.slug, topic="everything") is None
