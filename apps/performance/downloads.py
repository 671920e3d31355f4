"""A report as a file: CSV and XLSX for people (formula-safe), Parquet for tools.

Labels are names people typed (task names, members' names), so a CSV or XLSX cell that starts like a formula
(=, +, -, @, tab, carriage return) is written with a leading apostrophe, by the rule every CSV and XLSX of the
product follows (apps.core.spreadsheets). Numbers stay numbers in XLSX and Parquet; Parquet keeps text as it is (no
spreadsheet evaluates it).
"""

import csv
import io

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from apps.core.spreadsheets import csv_cell, neutralise

from .figures import COLUMNS

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}


def as_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row[column]) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _xlsx_value(value):
    return neutralise(value) if isinstance(value, str) else value


def as_xlsx(rows: list[dict], title: str = "Performance") -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([_xlsx_value(row[column]) for column in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_parquet(rows: list[dict]) -> bytes:
    columns = {column: [row[column] for row in rows] for column in COLUMNS}
    columns["id"] = [str(value) for value in columns["id"]]  # a user/task id or a day: one type per column
    table = pa.table(columns)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    return buffer.getvalue().to_pybytes()


WRITERS = {"csv": as_csv, "xlsx": as_xlsx, "parquet": as_parquet}
