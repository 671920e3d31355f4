"""Operators' admin: global rows only. Tenant rows are read through the product, scoped and audited."""

from django.contrib import admin

from .models import Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "region", "mfa_required", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)
