"""Docker HEALTHCHECK for the web process: GET /healthz on the local daphne.

Sends a Host header Django accepts (the first ALLOWED_HOSTS entry), so the check passes whatever
domain the deployment serves. /healthz is exempt from the HTTPS redirect (settings.SECURE_REDIRECT_EXEMPT).
"""

import os
import sys
import urllib.request


def host_header() -> str:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0] if hosts else "localhost"
    if host == "*":
        return "localhost"
    return host.lstrip(".")


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (fixed local URL)
            return 0 if response.status == 200 and response.read().strip() == b"ok" else 1
    except OSError as exc:
        print(f"healthz failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
