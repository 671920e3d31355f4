"""Server-side request forgery through URL imports: every hop checked, every address pinned, every wait bounded.

Only loopback is ever connected to: local test servers on 127.0.0.1 let through by the test hook, and a
guard (autouse) that fails any test whose fetch would connect anywhere else. Other hosts' answers are
simulated by replacing socket.getaddrinfo.
"""

import datetime
import functools
import http.server
import ipaddress
import socket
import ssl
import threading
import time
import types
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.storage.intake import IntakeError, check_url, safe_fetch
from apps.storage.intake import urls as urls_module
from apps.storage.intake.urls import is_public_address

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
LOOPBACK = ("127.0.0.1", "::1")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Host"), self.headers.get("Accept-Encoding")))
        path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
        try:
            route = "route_" + path.strip("/").split("/")[0].split(".")[0].replace("-", "_")
            getattr(self, route, self.route_missing)(path, query)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def send(self, status, body=b"", **headers):
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_image(self, path, query):
        self.send(200, PNG, Content_Type="image/png")

    def route_redirect(self, path, query):
        self.send(int(query.get("status", ["302"])[0]), Location=query["to"][0])

    def route_chain(self, path, query):
        left = int(path.rsplit("/", 1)[1])
        if left:
            self.send(301, Location=f"/chain/{left - 1}")
        else:
            self.send(200, b"end of the chain", Content_Type="text/plain")

    def route_slow(self, path, query):  # a valid answer, one byte every 50 ms, forever
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        while not self.server.stopping.wait(0.05):
            self.wfile.write(b"x")
            self.wfile.flush()

    def route_slow_headers(self, path, query):
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while not self.server.stopping.wait(0.05):
            self.wfile.write(b"X-Drip: 1\r\n")
            self.wfile.flush()

    def route_silent(self, path, query):
        self.server.stopping.wait(30)

    def route_huge(self, path, query):  # no Content-Length: the body ends when the connection does
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"\x00" * 65536
        for _ in range(1000):  # 64 MB, if nobody stops reading
            self.wfile.write(chunk)

    def route_huge_declared(self, path, query):
        self.send_response(200)
        self.send_header("Content-Length", str(10**12))
        self.end_headers()
        self.wfile.write(b"\x00" * 1024)

    def route_missing(self, path, query):
        self.send(404, b"not here")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls_context=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = []
        self.stopping = threading.Event()
        if tls_context is not None:
            self.socket = tls_context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def handle_error(self, request, client_address):
        pass

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()

    @property
    def allow(self):
        return frozenset({("127.0.0.1", self.port)})

    def url(self, path, host="127.0.0.1", scheme="http"):
        return f"{scheme}://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def other_server():
    running = Server()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def only_loopback_is_ever_connected_to(monkeypatch):
    """Whatever a test does, a connection to anything but loopback fails it."""
    connected = []
    real_connect = urls_module._connect

    def guarded(family, sockaddr, timeout):
        assert sockaddr[0] in LOOPBACK, f"tried to connect to {sockaddr}"
        connected.append(sockaddr[:2])
        return real_connect(family, sockaddr, timeout)

    monkeypatch.setattr(urls_module, "_connect", guarded)
    return connected


@pytest.fixture
def dns(monkeypatch):
    """Answer getaddrinfo from a table: {host: [address, ...]} or {host: callable returning them}."""
    table, calls = {}, []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        answer = table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answer() if callable(answer) else answer
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (ip, port, 0, 0) if ":" in ip else (ip, port))
            for ip in addresses
        ]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return types.SimpleNamespace(table=table, calls=calls)


def refused(url, **options) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        safe_fetch(url, **{"max_bytes": 10_000_000, "timeout_seconds": 5, **options})
    return caught.value


# --- A normal download -----------------------------------------------------------------------------------
def test_an_image_is_downloaded_into_a_spooled_file(server):
    with safe_fetch(
        server.url("/image.png"), max_bytes=10_000, timeout_seconds=5, _allow_addresses=server.allow
    ) as got:
        content = got.stream.read()

    assert content == PNG
    assert (got.size, got.content_type, got.final_url, got.peer_address) == (
        len(PNG),
        "image/png",
        server.url("/image.png"),
        "127.0.0.1",
    )


def test_no_compression_is_asked_for(server):
    safe_fetch(server.url("/image.png?ae"), max_bytes=10_000, timeout_seconds=5, _allow_addresses=server.allow).close()

    assert server.requests[-1][2] == "identity"


def test_redirects_are_followed_and_recorded(server):
    with safe_fetch(server.url("/chain/2"), max_bytes=10_000, timeout_seconds=5, _allow_addresses=server.allow) as got:
        content = got.stream.read()

    assert content == b"end of the chain"
    assert got.final_url == server.url("/chain/0")
    assert got.redirects == [server.url("/chain/2"), server.url("/chain/1")]


def test_the_loopback_setting_lets_a_test_server_through(server, settings):
    settings.URL_IMPORT_ALLOW_LOOPBACK_PORTS = (server.port,)

    with safe_fetch(server.url("/image.png"), max_bytes=10_000, timeout_seconds=5) as got:
        assert got.stream.read() == PNG


def test_an_error_status_is_refused_in_words(server):
    error = refused(server.url("/missing"), _allow_addresses=server.allow)

    assert error.code == "http_error"
    assert str(error).endswith("answered 404 Not Found.")


# --- Loopback, private and metadata addresses ------------------------------------------------------------
def test_loopback_is_refused_by_default(server, settings, only_loopback_is_ever_connected_to):
    settings.URL_IMPORT_ALLOWED_PORTS = (80, 443, server.port)  # even on an allowed port

    error = refused(server.url("/image.png"))

    assert error.code == "private_address"
    assert "resolves to 127.0.0.1, which is not a public internet address" in str(error)
    assert only_loopback_is_ever_connected_to == []


def test_the_cloud_metadata_address_is_refused_without_connecting(only_loopback_is_ever_connected_to):
    error = refused("http://169.254.169.254/latest/meta-data/iam/security-credentials/")

    assert error.code == "private_address"
    assert only_loopback_is_ever_connected_to == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],
        ["192.168.1.1"],
        ["172.16.0.1"],
        ["100.64.0.1"],
        ["0.0.0.1"],
        ["::1"],
        ["fe80::1"],
        ["fd00::1"],
        ["::ffff:169.254.169.254"],
        ["93.184.216.34", "10.0.0.5"],  # one public, one private: refused
    ],
)
def test_a_name_that_resolves_to_any_private_address_is_refused(dns, addresses, only_loopback_is_ever_connected_to):
    dns.table["images.example.com"] = addresses

    error = refused("https://images.example.com/cat.jpg")

    assert error.code == "private_address"
    assert only_loopback_is_ever_connected_to == []


def test_an_unknown_host_is_refused_in_words(dns):
    error = refused("https://no-such-host.example.com/cat.jpg")

    assert error.code == "dns_failed"
    assert str(error) == "The host 'no-such-host.example.com' could not be found."


# --- Redirects, checked at every hop ---------------------------------------------------------------------
def redirect(server, to, status=302):
    return server.url(f"/redirect?status={status}&to={to}")


def test_a_redirect_to_another_loopback_port_is_refused_at_the_hop(
    server, other_server, only_loopback_is_ever_connected_to
):
    error = refused(redirect(server, other_server.url("/image.png")), _allow_addresses=server.allow)

    assert error.code == "port_not_allowed"
    assert other_server.requests == []
    assert only_loopback_is_ever_connected_to == [("127.0.0.1", server.port)]


def test_a_redirect_to_another_loopback_address_is_refused_at_the_hop(server, only_loopback_is_ever_connected_to):
    error = refused(redirect(server, server.url("/image.png", host="127.0.0.2")), _allow_addresses=server.allow)

    assert error.code == "private_address"
    assert only_loopback_is_ever_connected_to == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_the_metadata_service_is_refused_at_the_hop(server, status, only_loopback_is_ever_connected_to):
    error = refused(redirect(server, "http://169.254.169.254/latest/meta-data/", status), _allow_addresses=server.allow)

    assert error.code == "private_address"
    assert only_loopback_is_ever_connected_to == [("127.0.0.1", server.port)]


@pytest.mark.parametrize(
    ("location", "code"),
    [("file:///etc/passwd", "unsupported_scheme"), ("gopher://127.0.0.1:6379/_FLUSHALL", "unsupported_scheme"),
     ("http://user:pw@example.com/", "credentials_in_url"), ("http://[::1]:22/", "port_not_allowed")],
)  # fmt: skip
def test_a_redirect_to_an_odd_url_is_refused_at_the_hop(server, location, code):
    error = refused(redirect(server, location), _allow_addresses=server.allow)

    assert error.code == code


def test_too_many_redirects_are_refused(server):
    error = refused(server.url("/chain/4"), max_redirects=3, _allow_addresses=server.allow)

    assert error.code == "too_many_redirects"
    assert "redirects more than 3 times" in str(error)


# --- DNS rebinding: the address checked is the address connected to ------------------------------------
def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_used(server, dns):
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])  # first a permitted address, then private
    dns.table["rebind.example.com"] = lambda: next(answers)

    with safe_fetch(
        f"http://rebind.example.com:{server.port}/image.png", max_bytes=10_000, timeout_seconds=5,
        _allow_addresses=server.allow,
    ) as got:  # fmt: skip
        content = got.stream.read()

    assert (content, got.peer_address) == (PNG, "127.0.0.1")
    assert dns.calls == ["rebind.example.com"]
    assert server.requests[-1][1] == f"rebind.example.com:{server.port}"  # the original Host header


def test_the_connection_goes_to_the_checked_public_address_not_a_new_lookup(dns, monkeypatch):
    answers = iter([["93.184.216.34"], ["169.254.169.254"]])
    dns.table["rebind.example.com"] = lambda: next(answers)
    attempts = []

    def record_and_refuse(family, sockaddr, timeout):  # nothing leaves the machine
        attempts.append(sockaddr[:2])
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(urls_module, "_connect", record_and_refuse)

    error = refused("http://rebind.example.com/cat.jpg")

    assert error.code == "fetch_failed"
    assert attempts == [("93.184.216.34", 80)]
    assert dns.calls == ["rebind.example.com"]


# --- Time and size caps ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/slow", "/slow-headers", "/silent"])
def test_a_slow_or_silent_server_hits_the_deadline(server, path):
    started = time.monotonic()

    error = refused(server.url(path), timeout_seconds=1, _allow_addresses=server.allow)

    assert error.code == "timeout"
    assert "did not send its content within 1 seconds" in str(error)
    assert time.monotonic() - started < 2.5


def test_an_endless_body_stops_at_the_byte_cap(server):
    error = refused(server.url("/huge"), max_bytes=1_000_000, _allow_addresses=server.allow)

    assert error.code == "too_large"
    assert "larger than the limit of 1,000,000 bytes" in str(error)


def test_a_declared_huge_body_is_refused_before_reading(server):
    error = refused(server.url("/huge-declared"), max_bytes=1_000_000, _allow_addresses=server.allow)

    assert error.code == "too_large"


def test_a_body_of_exactly_the_cap_is_accepted(server):
    with safe_fetch(
        server.url("/image.png"), max_bytes=len(PNG), timeout_seconds=5, _allow_addresses=server.allow
    ) as got:
        assert got.size == len(PNG)


# --- HTTPS: SNI and certificate checks against the original name, connection to the pinned address ---------
@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, key, signer, names, ca):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )  # fmt: skip
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dlsaas test CA")])
    ca = certificate(ca_name, ca_name, ca_key, ca_key, [], ca=True)
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "images.example.test")])
    leaf = certificate(leaf_name, ca_name, leaf_key, ca_key, ["images.example.test"], ca=False)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "leaf.pem")
    server_names = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    running = Server(tls_context=context)
    running.server_names = server_names
    running.ca_file = str(folder / "ca.pem")
    yield running
    running.stop()


def test_https_checks_the_certificate_against_the_original_name(tls, dns, monkeypatch):
    monkeypatch.setattr(
        ssl, "create_default_context", functools.partial(ssl.create_default_context, cafile=tls.ca_file)
    )
    dns.table["images.example.test"] = ["127.0.0.1"]

    with safe_fetch(
        tls.url("/image.png", host="images.example.test", scheme="https"), max_bytes=10_000, timeout_seconds=5,
        _allow_addresses=tls.allow,
    ) as got:  # fmt: skip
        content = got.stream.read()

    assert (content, got.peer_address) == (PNG, "127.0.0.1")
    assert tls.server_names[-1] == "images.example.test"  # SNI carried the name, not the address
    assert tls.requests[-1][1] == f"images.example.test:{tls.port}"


def test_https_to_a_name_the_certificate_does_not_cover_is_refused(tls, dns, monkeypatch):
    monkeypatch.setattr(
        ssl, "create_default_context", functools.partial(ssl.create_default_context, cafile=tls.ca_file)
    )
    dns.table["attacker.example.test"] = ["127.0.0.1"]

    error = refused(tls.url("/image.png", host="attacker.example.test", scheme="https"), _allow_addresses=tls.allow)

    assert error.code == "tls_error"
    assert "certificate" in str(error)


def test_https_with_an_untrusted_certificate_is_refused(tls, dns):
    dns.table["images.example.test"] = ["127.0.0.1"]

    error = refused(tls.url("/image.png", host="images.example.test", scheme="https"), _allow_addresses=tls.allow)

    assert error.code == "tls_error"


# --- URLs refused before any lookup ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://example.com/a.jpg", "unsupported_scheme"),
        ("gopher://example.com:70/1", "unsupported_scheme"),
        ("data:image/png;base64,iVBORw0KGgo=", "unsupported_scheme"),
        ("javascript:alert(1)", "unsupported_scheme"),
        ("dict://127.0.0.1:11211/stats", "unsupported_scheme"),
        ("//example.com/a.jpg", "unsupported_scheme"),
        ("example.com/a.jpg", "unsupported_scheme"),
        ("http://user:secret@example.com/a.jpg", "credentials_in_url"),
        ("http://user@example.com/a.jpg", "credentials_in_url"),
        ("http://example.com@169.254.169.254/", "credentials_in_url"),
        ("http://example.com:8080/a.jpg", "port_not_allowed"),
        ("https://example.com:22/", "port_not_allowed"),
        ("http://example.com:99999/", "bad_url"),
        ("http://exa mple.com/", "bad_url"),
        ("http://example.com/a b.jpg", "bad_url"),
        ("http://example.com\\@169.254.169.254/", "bad_url"),
        ("http://example.com/\r\nX-Injected: 1", "bad_url"),
        ("http:///a.jpg", "bad_url"),
        ("http://[::1/", "bad_url"),
        ("http://%31%32%37.0.0.1/", "bad_url"),
        ("http://[fe80::1%25eth0]/", "bad_url"),
        ("http://exa<mple.com/", "bad_url"),
        ("http://" + "a" * 64 + ".com/", "bad_url"),
        ("https://example.com/" + "a" * 2000, "bad_url"),
        ("", "bad_url"),
    ],
)
def test_odd_urls_are_refused_without_a_lookup(url, code, dns, only_loopback_is_ever_connected_to):
    error = refused(url)

    assert error.code == code
    assert dns.calls == [] and only_loopback_is_ever_connected_to == []


def test_check_url_encodes_what_it_sends():
    checked = check_url("https://B\u00fccher.example/caf\u00e9 .jpg".replace(" ", "") + "?q=\u00e9")

    assert (checked.scheme, checked.host, checked.port) == ("https", "xn--bcher-kva.example", 443)
    assert checked.target == "/caf%C3%A9.jpg?q=%C3%A9"


def test_ports_can_be_configured(settings):
    settings.URL_IMPORT_ALLOWED_PORTS = (443, 8443)

    assert check_url("https://example.com:8443/a.jpg").port == 8443
    with pytest.raises(IntakeError):
        check_url("http://example.com/a.jpg")


# --- Which addresses are public -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "100.127.255.254", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
        "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
        "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1", "2001:db8::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b::808:808", "64:ff9b:1::1", "::ffff:8.8.8.8",
        "2002:a9fe:a9fe::1", "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)  # fmt: skip
def test_these_addresses_are_not_public(address):
    assert is_public_address(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1"])
def test_these_addresses_are_public(address):
    assert is_public_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a.jpg", "HTTPS://CDN.Example.COM/A.jpg", "http://example.com", "http://example.com:80/",
        "https://example.com:443/a?b=c#d", "https://my_bucket.s3.amazonaws.com/a.jpg", "https://example.com./a.jpg",
        "https://example.com:8080/a.jpg", "https://example.com:0443/a.jpg", "https://exa\u017fple.com/a.jpg",
        "https://b\u00fccher.example/a.jpg", "https://example.com/caf\u00e9.jpg", "https://example.com/a@b.jpg",
        "https://user@example.com/a.jpg", "https://example.com\\@evil.com/", "https://-example-.com/a.jpg",
        "https://" + "a" * 64 + ".com/", "https://a..b.com/", "https://1.2.3.4/a.jpg", "https://[2606:4700::1]/a.jpg",
        "https://%41.com/", "ftp://example.com/", "https://example.com:/a.jpg", "https://example.com:99999/",
    ],
)  # fmt: skip
def test_the_fast_manifest_check_agrees_with_the_full_check(url):
    ports = frozenset({80, 443})

    def verdict(check):
        try:
            check(url, allowed_ports=ports)
        except IntakeError as exc:
            return exc.code
        return "ok"

    assert verdict(urls_module.validate_url) == verdict(check_url)


def test_a_resolver_that_never_answers_hits_the_deadline(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    started = time.monotonic()

    error = refused("https://slow-dns.example.com/a.jpg", timeout_seconds=0.5)
    release.set()

    assert error.code == "timeout"
    assert time.monotonic() - started < 2
