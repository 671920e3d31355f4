"""One manifest row, whichever format it came in: the limits on its values, the refusal every check raises
(RowProblem: manifests.py turns it into the row's RowError and goes on), the JSON decoding both formats share, and
the checks a url, key, name, folder, kind and metadata go through before they make a ManifestRow. The formats
themselves, and what a manifest may hold, are manifests.py."""

import functools
import json
import re
import unicodedata
from typing import NamedTuple

from .conf import setting
from .errors import IntakeError, shown
from .sniff import KINDS
from .urls import validate_url

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 10
MAX_NAME_CHARS = 500
MAX_FOLDER_CHARS = 1000
MAX_KEY_CHARS = 1024

# Controls (C0, DEL, C1), path separators and bidi overrides/isolates: never in a name.
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f/\\\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BAD_PATH = re.compile("[\x00-\x1f\x7f-\x9f\\\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What PostgreSQL text and JSONB cannot hold: NUL, and a surrogate (only a JSON escape such as "\ud800" without its
# pair can leave one in a decoded string). One such row would otherwise fail the COPY of its whole batch.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "The row contains a NUL character or an unpaired UTF-16 surrogate escape, which cannot be stored."
_KINDS = frozenset(KINDS)


class ManifestRow(NamedTuple):
    row_number: int
    url: str | None
    key: str | None
    name: str | None  # None: the caller derives one from the URL or key
    folder: str | None  # "/a/b"; None: the import's own folder
    kind: str | None  # None: from the content
    metadata: dict


class RowProblem(ValueError):
    """What is wrong with one row, in words; the parsers report it and go on with the next row."""


def _refuse_constant(name: str):
    raise RowProblem(f"The row contains {name}, which JSON data cannot hold; use null or a string.")


json_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode


def json_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(":", 1)[0][:120]


def check_row(
    number: int,
    url: str | None,
    key: str | None,
    name: str | None,
    folder: str | None,
    kind: str | None,
    metadata: dict,
    ports: frozenset[int],
) -> ManifestRow:
    """The row's values checked and cleaned: a url (checked as the URL intake does) or a key, never both."""
    if url is None and key is None:
        raise RowProblem("The row needs a 'url' or a 'key'.")
    if url is not None and key is not None:
        raise RowProblem("The row gives both a 'url' and a 'key'; give one.")
    if url is not None:
        try:
            validate_url(url, allowed_ports=ports)
        except IntakeError as exc:
            raise RowProblem(exc.message) from None
    else:
        key = _clean_key(key)
    if name is not None:
        name = _clean_name(name)
    if folder is not None:
        folder = clean_folder(folder)
    if kind is not None and kind not in _KINDS:
        raise RowProblem(f"{shown(kind)} is not a kind of item; use one of {', '.join(KINDS)}.")
    return ManifestRow(number, url, key, name, folder, kind, metadata)


def _clean_name(name: str) -> str:
    if not name.isascii():
        name = unicodedata.normalize("NFC", name)
    if _BAD_NAME.search(name):
        raise RowProblem(
            f"The name {shown(name)} contains '/', '\\' or control characters; put folders in the 'folder' column."
        )
    stripped = name.strip()
    if not stripped or stripped.strip(".") == "":
        raise RowProblem(f"The name {shown(name)} is not a file name.")
    if len(name) > MAX_NAME_CHARS:
        raise RowProblem(f"The name is longer than {MAX_NAME_CHARS} characters.")
    return name


@functools.lru_cache(maxsize=4096)  # rows of one folder come together; the answer depends on the text only
def clean_folder(folder: str) -> str:
    """A virtual folder as "/a/b": separators collapsed; `..`, `.`-only parts and control characters refused."""
    if not folder.isascii():
        folder = unicodedata.normalize("NFC", folder)
    if BAD_PATH.search(folder):
        raise RowProblem(f"The folder {shown(folder)} contains backslashes or control characters.")
    parts = [part for part in folder.split("/") if part]
    for part in parts:
        if part.strip(" .") == "" or unicodedata.normalize("NFKC", part) in (".", ".."):
            raise RowProblem(f"The folder {shown(folder)} contains '..' or '.'; give a plain path like /train/cats.")
    cleaned = "/" + "/".join(parts)
    if len(cleaned) > MAX_FOLDER_CHARS:
        raise RowProblem(f"The folder is longer than {MAX_FOLDER_CHARS} characters.")
    return cleaned


def _clean_key(key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        raise RowProblem(f"The key is longer than {MAX_KEY_CHARS} characters.")
    if BAD_PATH.search(key) or key.startswith("/"):
        raise RowProblem(f"The key {shown(key)} starts with '/' or contains backslashes or control characters.")
    if any(part in (".", "..") for part in key.split("/")):
        raise RowProblem(f"The key {shown(key)} contains '..' or '.' as a path part.")
    return key


def metadata_from_json_text(text: str) -> dict:
    try:
        value = json_decode(text)
    except RowProblem:
        raise
    except (ValueError, RecursionError) as exc:
        raise RowProblem(f"The metadata cell is not valid JSON ({json_reason(exc)}).") from None
    if type(value) is not dict:
        raise RowProblem('The metadata cell must be a JSON object, like {"camera": "A"}.')
    if "\\u" in text and not storable(value):
        raise RowProblem(UNSTORABLE_MESSAGE)
    check_metadata_depth(value)
    if len(text) * 3 > MAX_METADATA_BYTES:
        check_metadata_size(value)
    return value


def check_metadata_depth(metadata: dict) -> None:
    """Iteratively, so a depth bomb costs a loop, not the stack."""
    stack = [(metadata, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise RowProblem(f"The metadata is nested deeper than {MAX_METADATA_DEPTH} levels.")
        children = node.values() if type(node) is dict else node
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def storable(value) -> bool:
    """No string in the decoded JSON value, key or value, holds what PostgreSQL refuses. Iterative: depth bombs
    were refused by the decoder (RecursionError) before this runs."""
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, child in node.items():
                if _UNSTORABLE.search(key):
                    return False
                stack.append(child)
        elif type(node) is list:
            stack.extend(node)
        elif type(node) is str and _UNSTORABLE.search(node):
            return False
    return True


def check_metadata_size(metadata: dict) -> None:
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > MAX_METADATA_BYTES:
        raise RowProblem(f"The metadata is {size:,} bytes of JSON; the limit is {MAX_METADATA_BYTES:,}.")


def url_ports() -> frozenset[int]:
    return frozenset(setting("URL_IMPORT_ALLOWED_PORTS")) | frozenset(setting("URL_IMPORT_ALLOW_LOOPBACK_PORTS"))
