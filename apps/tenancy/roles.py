"""Roles and the role-to-scope matrix, kept as data.

A scope is "<entity>.<verb>". Roles give the baseline; django-guardian object grants add to it
for one object (see permissions.py). Tests are parametrised over SCOPES, so a new scope is tested
the day it is added here.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"


ALL_ROLES = frozenset(Role)
OWNER, ADMIN, MANAGER = Role.OWNER, Role.ADMIN, Role.MANAGER
ANNOTATOR, REVIEWER, COMPLIANCE = Role.ANNOTATOR, Role.REVIEWER, Role.COMPLIANCE_OFFICER

SCOPES: dict[str, frozenset[Role]] = {
    "org.view": ALL_ROLES,
    "org.manage": frozenset({OWNER, ADMIN}),
    "member.view": frozenset({OWNER, ADMIN, MANAGER, COMPLIANCE}),
    "member.invite": frozenset({OWNER, ADMIN, MANAGER}),
    "member.change_role": frozenset({OWNER, ADMIN}),
    "member.remove": frozenset({OWNER, ADMIN}),
    "token.manage_own": ALL_ROLES,
    "token.manage_all": frozenset({OWNER, ADMIN}),
    "audit.view": frozenset({OWNER, COMPLIANCE}),
    # GDPR data-subject requests (apps/compliance/gdpr.py): record, verify, run; bundles hold no item content.
    "gdpr.manage": frozenset({OWNER, COMPLIANCE}),
    # Cross-region transfers (apps/compliance/transfers.py): recording and revoking the legal basis that lets copies
    # of the organisation's data be stored outside its region.
    "transfer.manage": frozenset({OWNER, COMPLIANCE}),
    # Datasets: the compliance officer sees that datasets exist (registers, residency), never their content.
    "dataset.view": frozenset({OWNER, ADMIN, MANAGER, COMPLIANCE}),
    "dataset.create": frozenset({OWNER, ADMIN, MANAGER}),
    "dataset.manage": frozenset({OWNER, ADMIN, MANAGER}),
    "item.view": frozenset({OWNER, ADMIN, MANAGER}),
    "item.change": frozenset({OWNER, ADMIN, MANAGER}),
    # Dataset versions: making one, and downloading its files (every item and annotation of the version at once).
    "dataset.version": frozenset({OWNER, ADMIN, MANAGER}),
    # Recipes: the workforce reads the recipe it works with (labels, instructions); managers write them.
    "recipe.view": frozenset({OWNER, ADMIN, MANAGER, ANNOTATOR, REVIEWER}),
    "recipe.manage": frozenset({OWNER, ADMIN, MANAGER}),
    # Annotations follow the dataset: a dataset grant (or, later, a task) opens them to annotators and reviewers.
    "annotation.view": frozenset({OWNER, ADMIN, MANAGER}),
    "annotation.change": frozenset({OWNER, ADMIN, MANAGER}),
    "annotation.export": frozenset({OWNER, ADMIN, MANAGER}),
    # Tasks: managers run them; annotators and reviewers work on the tasks that name them as members.
    "task.view": frozenset({OWNER, ADMIN, MANAGER}),
    "task.manage": frozenset({OWNER, ADMIN, MANAGER}),
    "task.work": frozenset({OWNER, ADMIN, MANAGER, ANNOTATOR, REVIEWER}),
    # Models (automation): the registry and running a model over items; managers and above.
    "model.view": frozenset({OWNER, ADMIN, MANAGER}),
    "model.manage": frozenset({OWNER, ADMIN, MANAGER}),
}

# Scopes that an owner may also grant to one person on one object with django-guardian
# (scope -> "<app_label>.<permission codename>").
OBJECT_GRANTS: dict[str, str] = {
    "audit.view": "tenancy.view_audit_log",
    # On one dataset: an annotator or reviewer granted a dataset sees it and its items.
    "dataset.view": "datasets.view_dataset_items",
    "item.view": "datasets.view_dataset_items",
    "item.change": "datasets.change_dataset_items",
    "annotation.view": "datasets.view_dataset_items",
    "annotation.change": "datasets.change_dataset_items",
}

# Which roles each role may hand out (invite as, or change someone to). Nobody grants above themselves.
GRANTABLE_ROLES: dict[Role, frozenset[Role]] = {
    OWNER: ALL_ROLES,
    ADMIN: ALL_ROLES - {OWNER},
    MANAGER: frozenset({ANNOTATOR, REVIEWER}),
    ANNOTATOR: frozenset(),
    REVIEWER: frozenset(),
    COMPLIANCE: frozenset(),
}


def role_has_scope(role: str, scope: str) -> bool:
    try:
        return role in SCOPES[scope]
    except KeyError:
        raise KeyError(f"Unknown scope {scope!r}: add it to apps/tenancy/roles.py SCOPES") from None


def can_grant(granter_role: str, role: str) -> bool:
    return role in GRANTABLE_ROLES.get(granter_role, frozenset())
