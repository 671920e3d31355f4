def org_id_of(org) -> int:
    """An Organization or its id, as the id. Kept free of model imports (used at broker set-up)."""
    org_id = getattr(org, "pk", org)
    if not isinstance(org_id, int) or isinstance(org_id, bool):
        raise TypeError(f"Expected an Organization or its id, got {org!r}")
    return org_id
