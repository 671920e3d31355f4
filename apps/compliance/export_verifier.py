#!/usr/bin/env python3
"""Checks a dlsaas audit export, with nothing but Python 3's standard library.

Shipped inside every export as verify_chain.py. In the unzipped folder, first check the signature of the manifest
with OpenSSL (3.0 or newer), then run this script:

    openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.json.sig
    python3 verify_chain.py .

and compare public_key.pem's fingerprint (printed below) with the one the operator published: a signature only
proves something when the key is the operator's.

It checks that every file listed in the manifest has the listed sha256, then recomputes every link of the chain:

    hash = sha256(prev_hash + JSON array [sequence, *values])     (UTF-8, ", " between elements, no ASCII escaping)

that the sequences follow each other without a gap, that each link's prev_hash is the previous link's hash, and that
the last hash is the manifest's. Exit status 0: intact; 1: it prints the first problem.
"""

import base64
import hashlib
import json
import sys
from pathlib import Path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _public_key_fingerprint(pem: bytes) -> str:
    """sha256 of the raw Ed25519 key: the last 32 bytes of the DER SubjectPublicKeyInfo inside the PEM."""
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    return hashlib.sha256(base64.b64decode(body)[-32:]).hexdigest()


def verify(folder: Path) -> list[str]:
    manifest = json.loads((folder / "manifest.json").read_bytes())
    problems = []
    for name, expected in manifest["files"].items():
        path = folder / name
        if "/" in name or "\\" in name or not path.is_file():
            return [f"{name}: listed in the manifest but missing"]
        if _sha256(path) != expected:
            return [f"{name}: its sha256 is not the manifest's (the file was changed)"]
    events = json.loads((folder / "events.json").read_bytes())
    prev, sequence = manifest["first_prev_hash"], manifest["first_sequence"]
    count = 0
    for link in events["links"]:
        if link["sequence"] != sequence:
            return [f"sequence {sequence}: found {link['sequence']} instead (a link is missing or inserted)"]
        if link["prev_hash"] != prev:
            return [f"sequence {sequence}: its prev_hash is not the previous link's hash"]
        payload = json.dumps([link["sequence"], *link["values"]], ensure_ascii=False)
        if hashlib.sha256(prev.encode() + payload.encode()).hexdigest() != link["hash"]:
            return [f"sequence {sequence}: its contents do not match its hash (the event was changed)"]
        prev, sequence, count = link["hash"], sequence + 1, count + 1
    if count != manifest["events"]:
        problems.append(f"the manifest lists {manifest['events']} events, the file holds {count}")
    elif count and prev != manifest["last_hash"]:
        problems.append("the last link's hash is not the manifest's last_hash")
    return problems


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else ".")
    problems = verify(folder)
    manifest = json.loads((folder / "manifest.json").read_bytes())
    fingerprint = _public_key_fingerprint((folder / "public_key.pem").read_bytes())
    if fingerprint != manifest["public_key_sha256"]:
        problems.append("public_key.pem is not the key the manifest names")
    if problems:
        print("BROKEN: " + problems[0])
        return 1
    print(f"OK: {manifest['events']} events of {manifest['organization']['slug']}, sequences "
          f"{manifest['first_sequence']} to {manifest['last_sequence']}, last hash {manifest['last_hash']}.")
    print(f"Signing key fingerprint (sha256): {fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
