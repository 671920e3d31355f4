"""The house rules, checked by machine (STYLE.md "Rules as data, checked by machines")."""

import ast
import inspect
from pathlib import Path

import dramatiq
import pytest
from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from apps.core.api.base import OrgApiView
from apps.tenancy.base import TenantOwnedModel
from apps.tenancy.models import Organization
from apps.tenancy.rls import POLICY_NAME

ROOT = Path(__file__).resolve().parents[2]

# Tenant-owned models whose organisation may be empty, and why.
NULLABLE_ORGANISATION = {
    "compliance.AuditEvent": "platform events (a failed login for an unknown email) belong to no organisation",
    "compliance.AuditChainLink": "the links of the platform chain, which seals those events",
    "compliance.AuditPendingSeal": "platform events waiting for their seal",
}


def project_models():
    return [m for m in apps.get_models() if m.__module__.startswith("apps.")]


def tenant_models():
    return [m for m in project_models() if m.tenancy == "tenant"]


def api_views():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), getattr(p.callback, "view_class", None)

    return [(route, view) for route, view in walk(get_resolver().url_patterns) if route.startswith("api/v1/")]


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m._meta.label)
def test_every_model_declares_whether_it_is_tenant_owned(model):
    assert getattr(model, "tenancy", None) in {"tenant", "global"}, (
        f"{model._meta.label} must declare tenancy = 'tenant' or 'global'"
    )


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_tenant_models_carry_their_organisation_and_for_org(model):
    field = model._meta.get_field("organization")

    assert issubclass(model, TenantOwnedModel)
    assert field.related_model is Organization
    assert field.null is (model._meta.label in NULLABLE_ORGANISATION)
    assert callable(getattr(model.objects.all(), "for_org", None))


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_tenant_tables_have_row_level_security(model):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity,"
            " EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = %s)"
            " FROM pg_class c WHERE c.relname = %s",
            [POLICY_NAME, model._meta.db_table],
        )
        enabled, forced, has_policy = cursor.fetchone()

    assert (enabled, forced, has_policy) == (True, True, True)


@pytest.mark.django_db
def test_the_app_connects_as_a_role_that_row_level_security_applies_to():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)


@pytest.mark.parametrize("route,view", api_views(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_api_view_is_organisation_scoped(route, view):
    assert view is not None and issubclass(view, OrgApiView), f"{route} must use apps.core.api.base.OrgApiView"
    assert view.required_scopes, f"{route} declares no scopes: the base would refuse every method"


def _thin_layer_files():
    for pattern in ("apps/*/api/*.py", "apps/*/views.py", "apps/*/tasks.py", "apps/*/consumers.py"):
        yield from ROOT.glob(pattern)


@pytest.mark.parametrize("path", sorted(_thin_layer_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_thin_layers_never_query_models_directly(path):
    tree = ast.parse(path.read_text())
    offenders = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "objects"
    ]
    assert not offenders, f"{path.name} reads .objects at lines {offenders}: use a selector or access helper"


def _project_actors():
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    broker = dramatiq.get_broker()
    return [broker.get_actor(name) for name in sorted(broker.get_declared_actors())
            if broker.get_actor(name).fn.__module__.startswith("apps.")]


@pytest.mark.parametrize("actor", _project_actors(), ids=lambda a: a.actor_name)
def test_every_actor_receives_its_organisation_first(actor):
    params = list(inspect.signature(inspect.unwrap(actor.fn)).parameters)
    assert params and params[0] == "org_id", f"{actor.actor_name} must take org_id as its first argument"


def test_there_are_actors_to_check():
    assert _project_actors(), "no Dramatiq actor was discovered: the conventions test would check nothing"
