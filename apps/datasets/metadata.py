"""Item metadata: validation and JSON Merge Patch (RFC 7386)."""

import json

from django.core.exceptions import ValidationError

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 10


def _depth(value, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def validate_metadata(value, *, field: str = "metadata") -> dict:
    if not isinstance(value, dict):
        raise ValidationError({field: "Metadata must be a JSON object."})
    if _depth(value) > MAX_METADATA_DEPTH:
        raise ValidationError({field: f"Metadata is nested deeper than {MAX_METADATA_DEPTH} levels."})
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise ValidationError({field: "Metadata may not contain NaN or infinite numbers."}) from None
    if "\x00" in encoded or "\\u0000" in encoded:
        raise ValidationError({field: "Metadata may not contain NUL characters."})
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValidationError({field: f"Metadata is larger than {MAX_METADATA_BYTES // 1024} KB."})
    return value


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def normalise_folder(path: str | None) -> str:
    """'/train/cats' form: leading slash, no trailing slash, no empty, '.' or '..' segments."""
    raw = (path or "/").replace("\\", "/")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValidationError({"folder": "A folder path may not contain '..'."})
    if any(len(p) > 200 or "\x00" in p for p in parts) or len(parts) > 20:
        raise ValidationError({"folder": "Folder names are at most 200 characters and 20 levels deep."})
    folder = "/" + "/".join(parts)
    if len(folder) > 1000:
        raise ValidationError({"folder": "The folder path is longer than 1000 characters."})
    return folder
