"""Fetching a URL a customer gave us, without letting it reach anything but the public internet.

`safe_fetch(url, ...)`:
- accepts http and https only, no credentials in the URL, no whitespace, control characters or
  backslashes (parsers disagree about them), and ports in URL_IMPORT_ALLOWED_PORTS (80 and 443);
- resolves the host once, and refuses when ANY of its addresses is not public: private, loopback,
  link-local (169.254.169.254, the cloud metadata service), multicast, reserved, unspecified,
  shared (100.64.0.0/10), "this network" (0.0.0.0/8), documentation and benchmarking ranges, and
  IPv6 forms that embed IPv4 (IPv4-mapped always, 6to4 unless the embedded address is public, NAT64
  and Teredo always);
- connects to the address it checked (pinned), sending the original Host header and, for https,
  SNI and certificate checks against the original host name; a DNS answer that changes between the
  check and the connection (rebinding) is never asked for;
- follows up to `max_redirects` redirects itself, checking every hop as above;
- stops at `timeout_seconds` in total, however slowly the server trickles bytes, and at `max_bytes`,
  whatever the server's Content-Length says; asks for no compression, so what is counted is what is
  stored.

The answer's body lands in a SpooledTemporaryFile (memory up to 8 MB, then disk). Every refusal is
an IntakeError; codes: bad_url, unsupported_scheme, credentials_in_url, port_not_allowed,
dns_failed, private_address, too_many_redirects, http_error, too_large, timeout, tls_error,
fetch_failed.

Tests only: `_allow_addresses={("127.0.0.1", port)}` or the setting URL_IMPORT_ALLOW_LOOPBACK_PORTS
let a loopback test server through; by default every loopback address is refused.
"""

import http.client
import ipaddress
import re
import socket
import ssl
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import IO, NamedTuple
from urllib.parse import quote, urljoin, urlsplit

from .conf import setting
from .errors import IntakeError, shown

MAX_URL_CHARS = 2000
SPOOL_BYTES = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024
USER_AGENT = "dlsaas-intake/1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SCHEME_PORTS = {"http": 80, "https": 443}

# Not globally reachable (IANA special-purpose registries), spelled out rather than left to the
# ipaddress module, whose tables differ between Python versions. Checked on top of its flags.
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20",
        "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )  # 64:ff9b::/96 is NAT64: refused whole, like the rest of ::/8
)  # fmt: skip
_URL_FORBIDDEN = frozenset(chr(c) for c in range(0x21)) | {"\x7f", "\\"}
_HOST_NAME = re.compile(r"[a-z0-9_.-]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
# DNS lookups run here so a resolver that never answers costs the deadline, not the worker.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="intake-dns")


class CheckedUrl(NamedTuple):
    url: str
    scheme: str
    host: str  # IDNA-encoded, lower case; an IPv6 literal without brackets
    port: int
    target: str  # path and query for the request line, percent-encoded


@dataclass
class FetchedContent:
    final_url: str
    content_type: str  # what the server said; never trusted (sniff the bytes)
    stream: IO[bytes]  # positioned at 0; close() it (or use `with`)
    size: int
    peer_address: str  # the IP address the bytes came from, for the audit trail
    redirects: list[str] = field(default_factory=list)
    status: int = 200  # the HTTP status of the final answer

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> "FetchedContent":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_url(url: str, *, allowed_ports: frozenset[int] | None = None) -> CheckedUrl:
    """Syntax-level checks, no network: scheme, credentials, odd characters, host, port.

    `allowed_ports` defaults to URL_IMPORT_ALLOWED_PORTS plus URL_IMPORT_ALLOW_LOOPBACK_PORTS (the latter
    only ever lets loopback addresses through, which safe_fetch checks after resolving).
    """
    if not isinstance(url, str) or not url:
        raise IntakeError("bad_url", "The URL is empty.")
    if len(url) > MAX_URL_CHARS:
        raise IntakeError("bad_url", f"The URL is longer than {MAX_URL_CHARS} characters.")
    if not _URL_FORBIDDEN.isdisjoint(url):
        raise IntakeError("bad_url", f"The URL {shown(url)} contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise IntakeError("bad_url", f"{shown(url)} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEME_PORTS:
        raise IntakeError(
            "unsupported_scheme", f"{shown(url)} is not an http or https URL; only web addresses can be imported."
        )
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise IntakeError(
            "credentials_in_url",
            "The URL carries a user name or password; use a link that needs none (a pre-signed URL, for example).",
        )
    host = parts.hostname
    if not host:
        raise IntakeError("bad_url", f"{shown(url)} names no host.")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise IntakeError("bad_url", f"{shown(url)} has a host name that is not valid.") from None
    if not (_HOST_NAME.fullmatch(host) or (":" in host and "%" not in host and _is_ipv6(host))):
        raise IntakeError("bad_url", f"{shown(url)} has a host name that is not valid.")  # "%31%32%37.0.0.1", ...
    port = port if port is not None else SCHEME_PORTS[scheme]
    ports = allowed_ports if allowed_ports is not None else _configured_ports()
    if port not in ports:
        raise IntakeError(
            "port_not_allowed",
            f"{shown(url)} uses port {port}; only ports {', '.join(map(str, sorted(ports)))} are allowed.",
        )
    target = quote(parts.path or "/", safe=_PATH_SAFE) + (
        f"?{quote(parts.query, safe=_PATH_SAFE)}" if parts.query else ""
    )
    return CheckedUrl(url, scheme, host, port, target)


# The shape nearly every manifest URL has: ASCII host name, optional port, no user info. A match is
# exactly what check_url would accept; anything else takes check_url's full path.
_PLAIN_URL = re.compile(
    r"https?://((?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?)(?::([0-9]{1,5}))?(?:[/?#][^\x00-\x20\x7f\\]*)?",
    re.IGNORECASE | re.ASCII,
)


def validate_url(url: str, *, allowed_ports: frozenset[int]) -> None:
    """check_url without building the request target: for validating millions of manifest rows."""
    match = _PLAIN_URL.fullmatch(url) if len(url) <= MAX_URL_CHARS else None
    if match is not None and len(match.group(1)) <= 253:
        port = match.group(2)
        if (int(port) if port else 443 if url[4] in "sS" else 80) in allowed_ports:
            return
    check_url(url, allowed_ports=allowed_ports)


def safe_fetch(
    url: str,
    *,
    max_bytes: int | None = None,
    timeout_seconds: float | None = None,
    max_redirects: int | None = None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    _allow_addresses: frozenset[tuple[str, int]] = frozenset(),
) -> FetchedContent:
    """GET `url` under the rules in the module docstring; the caller closes the result.

    `method`, `body` and `headers` let a caller send something (a webhook's signed POST) under the same rules;
    a redirect is followed only for GET (give max_redirects=0 otherwise: a redirected POST is refused).

    Defaults: URL_IMPORT_MAX_BYTES, URL_IMPORT_TIMEOUT_SECONDS, URL_IMPORT_MAX_REDIRECTS.
    `_allow_addresses` is for tests: (ip, port) pairs let through although not public.
    """
    max_bytes = max_bytes if max_bytes is not None else setting("URL_IMPORT_MAX_BYTES")
    timeout_seconds = timeout_seconds if timeout_seconds is not None else setting("URL_IMPORT_TIMEOUT_SECONDS")
    max_redirects = max_redirects if max_redirects is not None else setting("URL_IMPORT_MAX_REDIRECTS")
    deadline = time.monotonic() + timeout_seconds
    policy = _Policy(
        public_ports=frozenset(setting("URL_IMPORT_ALLOWED_PORTS")),
        loopback_ports=frozenset(setting("URL_IMPORT_ALLOW_LOOPBACK_PORTS")),
        pairs=frozenset((str(ipaddress.ip_address(ip)), int(port)) for ip, port in _allow_addresses),
    )
    redirects: list[str] = []
    current = url
    while True:
        checked = check_url(current, allowed_ports=policy.all_ports)
        addresses = _resolve(checked, policy, deadline, timeout_seconds)
        outcome = _request(checked, addresses, deadline, timeout_seconds, max_bytes,
                           method=method, body=body, headers=headers)
        if isinstance(outcome, FetchedContent):
            outcome.redirects = redirects
            return outcome
        if len(redirects) >= max_redirects:
            raise IntakeError(
                "too_many_redirects", f"{shown(url)} redirects more than {max_redirects} times; give the final address."
            )
        redirects.append(current)
        current = urljoin(current, outcome).split("#", 1)[0]


# --- Addresses ------------------------------------------------------------------------------------
class _Policy(NamedTuple):
    public_ports: frozenset[int]
    loopback_ports: frozenset[int]
    pairs: frozenset[tuple[str, int]]

    @property
    def all_ports(self) -> frozenset[int]:
        return self.public_ports | self.loopback_ports | {port for _ip, port in self.pairs}

    def refusal(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str | None:
        """None when (ip, port) may be connected to, else the error code."""
        if (str(ip), port) in self.pairs or (ip.is_loopback and port in self.loopback_ports):
            return None
        if not is_public_address(ip):
            return "private_address"
        return None if port in self.public_ports else "port_not_allowed"


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally reachable unicast addresses; IPv6 forms that embed IPv4 are judged by it."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return ip.ipv4_mapped is None and is_public_address(embedded)  # mapped: the socket would reach IPv4
    if any(ip in network for network in NON_PUBLIC_NETWORKS if network.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (ip.version == 6 and ip.is_site_local)
    )


def _resolve(checked: CheckedUrl, policy: _Policy, deadline: float, timeout: float) -> list[tuple]:
    """Every address of the host, each checked; [(family, sockaddr), ...] to connect to, in order."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timeout(checked, timeout)
    lookup = _resolver.submit(socket.getaddrinfo, checked.host, checked.port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        infos = lookup.result(timeout=remaining)
    except FutureTimeout:
        raise _timeout(checked, timeout) from None
    except (OSError, UnicodeError):
        raise IntakeError("dns_failed", f"The host {shown(checked.host)} could not be found.") from None
    addresses, seen = [], set()
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr[0] in seen:
            continue
        seen.add(sockaddr[0])
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        code = policy.refusal(ip, checked.port)
        if code == "private_address":
            raise IntakeError(
                "private_address",
                f"{shown(checked.host)} resolves to {ip}, which is not a public internet address "
                "(private, loopback, link-local or reserved); only public addresses can be fetched.",
            )
        if code == "port_not_allowed":
            raise IntakeError("port_not_allowed", f"Port {checked.port} is not allowed for {shown(checked.host)}.")
        addresses.append((family, (str(ip), *sockaddr[1:])))
    if not addresses:
        raise IntakeError("dns_failed", f"The host {shown(checked.host)} has no address.")
    return addresses


# --- The connection, pinned to the checked address and held to the deadline -------------------------
class _DeadlineExceeded(TimeoutError):
    pass


def _before_read(sock: socket.socket) -> None:
    deadline = getattr(sock, "intake_deadline", None)
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlineExceeded
    sock.settimeout(remaining)


class _DeadlineSocket(socket.socket):
    """Every read waits at most until the deadline: a trickle of bytes cannot outlast it."""

    intake_deadline: float | None = None

    def recv_into(self, *args, **kwargs):
        _before_read(self)
        return super().recv_into(*args, **kwargs)

    def recv(self, *args, **kwargs):
        _before_read(self)
        return super().recv(*args, **kwargs)


class _DeadlineSSLSocket(ssl.SSLSocket):
    intake_deadline: float | None = None

    def recv_into(self, *args, **kwargs):
        _before_read(self)
        return super().recv_into(*args, **kwargs)

    def recv(self, *args, **kwargs):
        _before_read(self)
        return super().recv(*args, **kwargs)

    def read(self, *args, **kwargs):
        _before_read(self)
        return super().read(*args, **kwargs)


def _connect(family: int, sockaddr: tuple, timeout: float) -> socket.socket:
    """A TCP connection to exactly `sockaddr` (an IP address, never a name: nothing is resolved here)."""
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedConnection(http.client.HTTPConnection):
    def __init__(self, checked: CheckedUrl, addresses: list[tuple], deadline: float) -> None:
        super().__init__(checked.host, checked.port, timeout=max(deadline - time.monotonic(), 0.001))
        self._addresses = addresses
        self._deadline = deadline
        self.peer_address = ""

    def _open(self) -> socket.socket:
        error: BaseException | None = None
        for family, sockaddr in self._addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlineExceeded
            try:
                sock = _connect(family, sockaddr, remaining)
            except OSError as exc:
                error = exc
                continue
            sock.intake_deadline = self._deadline
            self.peer_address = sockaddr[0]
            return sock
        raise error or OSError("no address to connect to")

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedTLSConnection(_PinnedConnection):
    default_port = 443

    def connect(self) -> None:
        raw = self._open()
        context = ssl.create_default_context()
        context.sslsocket_class = _DeadlineSSLSocket
        try:
            tls = context.wrap_socket(raw, server_hostname=self.host)  # SNI and certificate check: original name
        except BaseException:
            raw.close()
            raise
        tls.intake_deadline = self._deadline
        self.sock = tls


def _request(
    checked: CheckedUrl, addresses: list[tuple], deadline: float, timeout: float, max_bytes: int,
    *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None,
) -> FetchedContent | str:
    """The content, or the Location of a redirect (a string) to check and follow."""
    connection_class = _PinnedTLSConnection if checked.scheme == "https" else _PinnedConnection
    connection = connection_class(checked, addresses, deadline)
    spool = None
    try:
        connection.putrequest(method, checked.target, skip_accept_encoding=True)
        connection.putheader("User-Agent", USER_AGENT)
        connection.putheader("Accept", "*/*")
        connection.putheader("Accept-Encoding", "identity")
        connection.putheader("Connection", "close")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        if response.status in REDIRECT_STATUSES:
            location = response.getheader("Location")
            if not location:
                raise IntakeError("http_error", f"{shown(checked.url)} redirects without saying where.")
            return location
        if not 200 <= response.status < 300:
            error = IntakeError(
                "http_error", f"{shown(checked.url)} answered {response.status} {response.reason[:80]}".rstrip() + "."
            )
            error.status = response.status
            raise error
        declared = response.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > max_bytes:
            raise _too_large(checked, max_bytes)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (handed to the caller)
        size = 0
        while chunk := response.read(min(READ_CHUNK, max_bytes + 1 - size)):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(checked, max_bytes)
            spool.write(chunk)
            if time.monotonic() > deadline:
                raise _DeadlineExceeded
        spool.seek(0)
        content_type = (response.getheader("Content-Type") or "")[:127]
        fetched = FetchedContent(checked.url, content_type, spool, size, connection.peer_address,
                                 status=response.status)
        spool = None
        return fetched
    except IntakeError:
        raise
    except (TimeoutError, _DeadlineExceeded):
        raise _timeout(checked, timeout) from None
    except ssl.SSLCertVerificationError as exc:
        raise IntakeError(
            "tls_error", f"The certificate of {shown(checked.host)} is not valid ({exc.verify_message})."
        ) from None
    except ssl.SSLError as exc:
        raise IntakeError(
            "tls_error", f"The secure connection to {shown(checked.host)} failed ({exc.reason})."
        ) from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        if time.monotonic() >= deadline:
            raise _timeout(checked, timeout) from None
        raise IntakeError("fetch_failed", f"{shown(checked.url)} could not be fetched ({_why(exc)}).") from None
    finally:
        if spool is not None:
            spool.close()
        connection.close()


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _configured_ports() -> frozenset[int]:
    return frozenset(setting("URL_IMPORT_ALLOWED_PORTS")) | frozenset(setting("URL_IMPORT_ALLOW_LOOPBACK_PORTS"))


def _timeout(checked: CheckedUrl, timeout: float) -> IntakeError:
    return IntakeError("timeout", f"{shown(checked.url)} did not send its content within {timeout:g} seconds.")


def _too_large(checked: CheckedUrl, max_bytes: int) -> IntakeError:
    return IntakeError("too_large", f"{shown(checked.url)} is larger than the limit of {max_bytes:,} bytes.")


def _why(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]
