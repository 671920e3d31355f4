"""Safe intake: the building blocks every upload, zip archive, URL list and manifest goes through.

Every path, name, byte and address here is hostile until checked; every refusal is an IntakeError
with a `.code` and a message a person can act on. Pure functions, no database: the dataset import
services call them and record the outcome.

- sniff.py      what a file really is, from its bytes; HTML/SVG/XML never pass as items
- media.py      image size and thumbnails without decompression bombs; WAV/MP4 durations by seeking
- archives.py   zip archives without zip-slip, links, bombs or encryption
- urls.py       fetching customer URLs without server-side request forgery
- manifests.py  CSV and JSONL manifests, streamed, one verdict per row
- manifest_rows.py  what one manifest row may hold, whichever the format
"""

from .archives import ZipEntry, iter_zip
from .errors import IntakeError
from .manifest_rows import ManifestRow
from .manifests import RowError, iter_csv_manifest, iter_jsonl_manifest, iter_manifest
from .media import (
    ImageFacts,
    MediaFacts,
    TextFacts,
    duration_seconds,
    image_facts,
    make_thumbnail,
    media_facts,
    text_facts,
)
from .sniff import KINDS, SNIFF_BYTES, Sniffed, check_declared, kind_from_filename, sniff
from .urls import CheckedUrl, FetchedContent, check_url, safe_fetch

__all__ = [
    "KINDS",
    "SNIFF_BYTES",
    "CheckedUrl",
    "FetchedContent",
    "ImageFacts",
    "IntakeError",
    "ManifestRow",
    "MediaFacts",
    "RowError",
    "Sniffed",
    "TextFacts",
    "ZipEntry",
    "check_declared",
    "check_url",
    "duration_seconds",
    "image_facts",
    "iter_csv_manifest",
    "iter_jsonl_manifest",
    "iter_manifest",
    "iter_zip",
    "kind_from_filename",
    "make_thumbnail",
    "media_facts",
    "safe_fetch",
    "sniff",
    "text_facts",
]
