"""Cells that a spreadsheet shows as text, never runs: the one rule for every CSV and XLSX the product writes.

A cell starting with = + - @ or a tab or carriage return is a formula to Excel, LibreOffice and Google Sheets
(OWASP "CSV injection"); such a cell gets a leading apostrophe, which spreadsheets show as text.
"""

import json
from datetime import datetime

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell) -> str:
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value) -> str:
    """One value as spreadsheet-safe text: None empty, times in ISO 8601, JSON for dicts and lists."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    else:
        text = str(value)
    return neutralise(text)
