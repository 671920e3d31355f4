"""Test content with recognisable markers."""

MARKER = b"PLAINTEXT-MARKER"


def marked_content(size: int, marker: bytes = MARKER) -> bytes:
    """`size` bytes that repeat a recognisable marker, so a leak of plaintext is easy to search for."""
    pattern = b"".join(marker + str(i).encode() + b"|" for i in range(4096))
    return (pattern * (size // len(pattern) + 1))[:size]
