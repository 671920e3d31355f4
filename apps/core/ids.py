MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """A database id from untrusted input (URL, query string, form), or None if it cannot be one."""
    try:
        value = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if 0 < value <= MAX_ID else None
