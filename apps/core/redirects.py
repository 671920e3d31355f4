from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, url: str | None) -> str | None:
    """`url` when it stays on this site (no open redirect), else None."""
    if not url:
        return None
    safe = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if safe else None
