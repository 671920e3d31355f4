"""The tenant-owned model base.

Every model under apps/ declares `tenancy = "tenant"` or `tenancy = "global"`. Tenant-owned models
inherit TenantOwnedModel: a non-null organisation key copied onto every row (scoping never needs a
join) and a queryset whose for_org(org) is where every read starts. tests/core/test_conventions.py
enforces both, and PostgreSQL row-level security (rls.py) is the second wall.
"""

from django.db import models

from .ids import org_id_of


class TenantQuerySet(models.QuerySet):
    def for_org(self, org):
        return self.filter(organization_id=org_id_of(org))


class TenantOwnedModel(models.Model):
    tenancy = "tenant"
    # Extra SQL that also lets a row be *read* (never written) outside its organisation's context,
    # e.g. a user listing their own memberships. None for nearly every model.
    rls_extra_read_condition: str | None = None

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
