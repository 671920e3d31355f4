"""Manifests (CSV, JSONL): one verdict per row, in file order, in bounded memory; bad rows never stop good ones."""

import io
import itertools
import json

import pytest

from apps.storage.intake import (
    IntakeError,
    ManifestRow,
    RowError,
    iter_csv_manifest,
    iter_jsonl_manifest,
    iter_manifest,
)
from apps.storage.intake.manifests import MAX_ROW_CHARS


def csv_rows(text: str | bytes, **options) -> list:
    data = text.encode() if isinstance(text, str) else text
    return list(iter_csv_manifest(io.BytesIO(data), **options))


def jsonl_rows(lines: list, **options) -> list:
    data = b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
    return list(iter_jsonl_manifest(io.BytesIO(data), **options))


def only_error(rows: list) -> RowError:
    [row] = rows
    assert isinstance(row, RowError), row
    return row


def only_row(rows: list) -> ManifestRow:
    [row] = rows
    assert isinstance(row, ManifestRow), row
    return row


# --- CSV: what a good manifest gives --------------------------------------------------------------------
def test_a_csv_row_gives_every_column():
    rows = csv_rows(
        "url,name,folder,kind,metadata.camera,metadata.frame\n"
        "https://cdn.example.com/a.jpg,a.jpg,/train/cats,image,A,12\n"
    )

    assert rows == [ManifestRow(2, "https://cdn.example.com/a.jpg", None, "a.jpg", "/train/cats", "image",
                                {"camera": "A", "frame": 12})]  # fmt: skip


def test_a_row_may_name_a_storage_key_instead_of_a_url():
    row = only_row(csv_rows("key,name\nuploads/2024/a.jpg,a.jpg\n"))

    assert (row.url, row.key) == (None, "uploads/2024/a.jpg")


def test_optional_columns_may_be_left_out_or_empty():
    row = only_row(csv_rows("url,name,folder,kind\nhttps://example.com/a.jpg,,,\n"))

    assert (row.name, row.folder, row.kind, row.metadata) == (None, None, None, {})


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("12", 12), ("-3", -3), ("0", 0), ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000.0), ("2.5E-2", 0.025),
        ("true", True), ("false", False),
        ("007", "007"), ("+1", "+1"), ("1.", "1."), (".5", ".5"), ("1,5", "1,5"), ("0x10", "0x10"),
        ("NaN", "NaN"), ("Infinity", "Infinity"), ("1e999", "1e999"), ("TRUE", "TRUE"), ("null", "null"),
        ("9007199254740993", "9007199254740993"),  # past 2**53: kept as text so an ID is not rounded
        (" 12", " 12"), ("camera A", "camera A"), ('{"a": 1}', '{"a": 1}'),
    ],
)  # fmt: skip
def test_metadata_cells_become_json_numbers_and_booleans_only_when_they_are_exactly_that(cell, stored):
    row = only_row(csv_rows(f'url,metadata.value\nhttps://example.com/a.jpg,"{cell.replace(chr(34), chr(34) * 2)}"\n'))

    assert row.metadata == {"value": stored}
    assert type(row.metadata["value"]) is type(stored)


def test_empty_metadata_cells_are_left_out():
    row = only_row(csv_rows("url,metadata.a,metadata.b\nhttps://example.com/a.jpg,,x\n"))

    assert row.metadata == {"b": "x"}


def test_dotted_metadata_columns_nest_and_keep_their_case():
    row = only_row(csv_rows("URL,Metadata.Camera.Make,metadata.Camera.ISO\nhttps://example.com/a.jpg,Canon,400\n"))

    assert row.metadata == {"Camera": {"Make": "Canon", "ISO": 400}}


def test_a_metadata_cell_may_hold_a_json_object():
    row = only_row(
        csv_rows('url,metadata,metadata.extra\nhttps://example.com/a.jpg,"{""weather"": {""sky"": ""clear""}}",1\n')
    )

    assert row.metadata == {"weather": {"sky": "clear"}, "extra": 1}


def test_a_bom_crlf_line_ends_blank_lines_and_quoted_newlines_are_fine():
    data = (
        b"\xef\xbb\xbfurl,name,metadata.note\r\n"
        b"https://example.com/a.jpg,a.jpg,plain\r\n"
        b"\r\n"
        b",,\r\n"
        b'https://example.com/b.jpg,b.jpg,"two\r\nlines"\r\n'
        b"https://example.com/c.jpg,c.jpg,last\r\n"
    )

    rows = csv_rows(data)

    assert [(r.row_number, r.name, r.metadata["note"]) for r in rows] == [
        (2, "a.jpg", "plain"),
        (5, "b.jpg", "two\r\nlines"),
        (7, "c.jpg", "last"),
    ]


def test_trailing_empty_cells_from_spreadsheets_are_fine():
    row = only_row(csv_rows("url,name\nhttps://example.com/a.jpg,a.jpg,,\n"))

    assert row.name == "a.jpg"


def test_names_and_folders_are_normalised():
    row = only_row(csv_rows("url,name,folder\nhttps://example.com/a.jpg,cafe\u0301.jpg,train//cats/\n"))

    assert (row.name, row.folder) == ("caf\u00e9.jpg", "/train/cats")


def test_formula_and_markup_payloads_are_stored_as_given():
    row = only_row(
        csv_rows(
            "url,name,metadata.link,metadata.note\n"
            'https://example.com/a.jpg,=SUM(A1:A9),"=HYPERLINK(""http://evil.example"",""click"")",'
            '"<img src=x onerror=alert(1)>"\n'
        )
    )

    assert row.name == "=SUM(A1:A9)"
    assert row.metadata == {"link": '=HYPERLINK("http://evil.example","click")', "note": "<img src=x onerror=alert(1)>"}


# --- CSV: bad rows, each in words, the rest still read ---------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        (",a.jpg,,", "The row needs a 'url' or a 'key'."),
        ("https://example.com/a.jpg,a.jpg,,uploads/a.jpg", "The row gives both a 'url' and a 'key'; give one."),
        ("file:///etc/passwd,a.jpg,,", "'file:///etc/passwd' is not an http or https URL"),
        ("ftp://example.com/a.jpg,a.jpg,,", "is not an http or https URL"),
        ("https://user:pw@example.com/a.jpg,a.jpg,,", "The URL carries a user name or password"),
        ("https://example.com:8080/a.jpg,a.jpg,,", "uses port 8080"),
        ("https://exa mple.com/a.jpg,a.jpg,,", "contains spaces, control characters or backslashes"),
        ("https://example.com/a.jpg,../a.jpg,,", "The name '../a.jpg' contains '/'"),
        ("https://example.com/a.jpg,..,,", "The name '..' is not a file name."),
        ("https://example.com/a.jpg,a\\b.jpg,,", "contains '/', '\\' or control characters"),
        ("https://example.com/a.jpg,invoice\u202egpj.exe,,", "control characters"),
        ("https://example.com/a.jpg,a.jpg,/train/../../etc,", "The folder '/train/../../etc' contains '..'"),
        ("https://example.com/a.jpg,a.jpg,/train/\uff0e\uff0e/x,", "contains '..'"),
        (",a.jpg,,../secrets/a.jpg", "The key '../secrets/a.jpg' contains '..'"),
        (",a.jpg,,/etc/passwd", "The key '/etc/passwd' starts with '/'"),
        ("https://example.com/a.jpg," + "n" * 501 + ",,", "The name is longer than 500 characters."),
    ],
)
def test_a_bad_row_is_reported_in_words_and_the_next_row_still_reads(line, message):
    rows = csv_rows(f"url,name,folder,key\n{line}\nhttps://example.com/ok.jpg,ok.jpg,,\n")

    assert isinstance(rows[0], RowError) and rows[0].row_number == 2
    assert message in rows[0].message
    assert isinstance(rows[1], ManifestRow) and rows[1].name == "ok.jpg"


def test_a_row_error_names_the_row_by_its_reference():
    error = only_error(csv_rows("url,kind\nhttps://example.com/a.jpg,hologram\n"))

    assert error.reference == "https://example.com/a.jpg"
    assert error.message == "'hologram' is not a kind of item; use one of image, video, audio, text, pointcloud, dicom."


def test_a_row_with_the_wrong_number_of_cells_is_reported():
    error = only_error(csv_rows("url,name,folder\nhttps://example.com/a.jpg,a.jpg\n"))

    assert error.message == "This row has 2 values; the header has 3."


def test_invalid_utf8_spoils_only_its_row():
    rows = csv_rows(b"url,name\nhttps://example.com/a.jpg,caf\xe9.jpg\nhttps://example.com/b.jpg,b.jpg\n")

    assert isinstance(rows[0], RowError) and rows[0].message == "This row is not valid UTF-8; save the file as UTF-8."
    assert rows[1].name == "b.jpg"


def test_a_nul_byte_spoils_only_its_row():
    rows = csv_rows(b"url,name\nhttps://example.com/a.jpg,a\x00.jpg\nhttps://example.com/b.jpg,b.jpg\n")

    assert isinstance(rows[0], RowError) and rows[0].row_number == 2
    assert rows[1].name == "b.jpg"


def test_an_overlong_row_is_skipped_without_being_held():
    data = "url,name\nhttps://example.com/" + "a" * (MAX_ROW_CHARS * 2) + ",x.jpg\nhttps://example.com/b.jpg,b.jpg\n"

    rows = csv_rows(data)

    assert isinstance(rows[0], RowError) and "longer than 1,048,576 characters" in rows[0].message
    assert (rows[1].row_number, rows[1].name) == (3, "b.jpg")


def test_an_unterminated_quote_is_a_row_error():
    rows = csv_rows('url,name\nhttps://example.com/a.jpg,a.jpg\nhttps://example.com/b.jpg,"b.jpg\n')

    assert isinstance(rows[0], ManifestRow)
    assert isinstance(rows[1], RowError) and rows[1].row_number == 3


def test_metadata_over_16_kb_is_refused():
    error = only_error(csv_rows("url,metadata.note\nhttps://example.com/a.jpg," + "x" * 17_000 + "\n"))

    assert error.message == "The metadata is 17,011 bytes of JSON; the limit is 16,384."


def test_metadata_that_grows_past_16_kb_when_escaped_is_refused():
    error = only_error(csv_rows("url,metadata.note\nhttps://example.com/a.jpg," + "\x01" * 3000 + "\n"))

    assert "bytes of JSON; the limit is 16,384" in error.message


def test_a_metadata_cell_that_is_not_an_object_is_refused():
    error = only_error(csv_rows('url,metadata\nhttps://example.com/a.jpg,"[1, 2]"\n'))

    assert error.message == 'The metadata cell must be a JSON object, like {"camera": "A"}.'


def test_a_metadata_cell_nested_too_deeply_is_refused():
    cell = '{"a": ' * 11 + "1" + "}" * 11

    error = only_error(csv_rows(f'url,metadata\nhttps://example.com/a.jpg,"{cell.replace(chr(34), chr(34) * 2)}"\n'))

    assert error.message == "The metadata is nested deeper than 10 levels."


# --- CSV: problems with the file as a whole -------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("name,folder", "The CSV header needs a 'url' or a 'key' column."),
        ("url,adress", "The CSV header has an unknown column 'adress'"),
        ("url,name,NAME", "The CSV header names 'NAME' twice."),
        ("url,,name", "Column 2 of the CSV header has no name."),
        ("url,metadata.", "The CSV column 'metadata.' is not a valid metadata key."),
        ("url,metadata.a..b", "is not a valid metadata key"),
        ("url,metadata.a,metadata.a.b", "would put a value and an object under the same key"),
        ("url," + "metadata." + ".".join("k" * 11), "nests deeper than 10 levels"),
    ],
)
def test_a_bad_header_refuses_the_file_in_words(header, message):
    with pytest.raises(IntakeError) as caught:
        csv_rows(f"{header}\nhttps://example.com/a.jpg,x\n")

    assert caught.value.code == "bad_manifest"
    assert message in str(caught.value)


def test_too_many_rows_refuse_the_file():
    data = "url\n" + "https://example.com/a.jpg\n" * 6

    with pytest.raises(IntakeError) as caught:
        csv_rows(data, max_rows=5)

    assert caught.value.code == "too_many_rows"


def test_the_row_limit_comes_from_the_settings(settings):
    settings.INTAKE_MANIFEST_MAX_ROWS = 2

    with pytest.raises(IntakeError) as caught:
        csv_rows("url\n" + "https://example.com/a.jpg\n" * 3)

    assert caught.value.code == "too_many_rows"


# --- Streaming --------------------------------------------------------------------------------------------
class EndlessManifest(io.RawIOBase):
    """A manifest that never ends, counting what was read from it."""

    def __init__(self, header: bytes, line: bytes):
        self.header, self.line, self.bytes_read = header, line, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.header if self.bytes_read == 0 else self.line * (len(buffer) // len(self.line) or 1)
        data = data[: len(buffer)]
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


@pytest.mark.parametrize(
    ("parser", "header", "line"),
    [
        (iter_csv_manifest, b"url,name\n", b"https://example.com/a.jpg,a.jpg\n"),
        (iter_jsonl_manifest, b'{"url": "https://example.com/a.jpg"}\n', b'{"url": "https://example.com/a.jpg"}\n'),
    ],
)
def test_rows_are_read_as_they_are_asked_for(parser, header, line):
    source = EndlessManifest(header, line)

    first = list(itertools.islice(parser(io.BufferedReader(source)), 1000))

    assert len(first) == 1000 and all(isinstance(row, ManifestRow) for row in first)
    assert source.bytes_read < 200_000


def test_the_callers_file_stays_open():
    stream = io.BytesIO(b"url\nhttps://example.com/a.jpg\n")

    list(iter_csv_manifest(stream))

    assert not stream.closed


# --- JSONL -----------------------------------------------------------------------------------------------
def test_a_jsonl_row_gives_every_field():
    rows = jsonl_rows([{"url": "https://example.com/a.jpg", "name": "a.jpg", "folder": "train/cats", "kind": "image",
                        "metadata": {"camera": "A", "boxes": [[1, 2, 3, 4]], "ok": True, "score": None}}])  # fmt: skip

    assert rows == [ManifestRow(1, "https://example.com/a.jpg", None, "a.jpg", "/train/cats", "image",
                                {"camera": "A", "boxes": [[1, 2, 3, 4]], "ok": True, "score": None})]  # fmt: skip


def test_jsonl_skips_blank_lines_and_a_bom_and_counts_lines():
    data = b'\xef\xbb\xbf{"key": "a.jpg"}\n\n   \n{"key": "b.jpg"}\n{"key": "c.jpg"}'  # no newline at the end

    rows = list(iter_jsonl_manifest(io.BytesIO(data)))

    assert [(row.row_number, row.key) for row in rows] == [(1, "a.jpg"), (4, "b.jpg"), (5, "c.jpg")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"url": "https://example.com/a.jpg"', "This row is not valid JSON (Expecting ',' delimiter)."),
        (b'["https://example.com/a.jpg"]', 'Each line must be a JSON object, like {"url": "https://..."}.'),
        (b'"https://example.com/a.jpg"', "Each line must be a JSON object"),
        (
            b'{"url": "https://example.com/a.jpg", "metadata": {"v": NaN}}',
            "The row contains NaN, which JSON data cannot hold",
        ),
        (b'{"url": "https://example.com/a.jpg", "metadata": {"v": -Infinity}}', "The row contains -Infinity"),
        (b'{"url": "https://example.com/a.jpg", "metadata": [1]}', "'metadata' must be a JSON object"),
        (b'{"url": "https://example.com/a.jpg", "metadata": "camera=A"}', "'metadata' must be a JSON object"),
        (b'{"url": 12}', "'url' must be a string."),
        (b'{"url": "https://example.com/a.jpg", "name": ["a"]}', "'name' must be a string."),
        (b'{"url": "https://example.com/a.jpg", "URL": "x"}', "The row has an unknown field 'URL'"),
        (b'{"name": "a.jpg"}', "The row needs a 'url' or a 'key'."),
        (b'{"url": "gopher://example.com/", "name": "a.jpg"}', "is not an http or https URL"),
        (b'{"key": "a/../../b.jpg"}', "contains '..'"),
        (b'{"url": "https://example.com/a.jpg", "name": "../../a.jpg"}', "contains '/'"),
        (b'{"url": "https://example.com/a.jpg", "folder": "../up"}', "contains '..'"),
        (b'{"url": "https://example.com/a.jpg", "kind": "exe"}', "'exe' is not a kind of item"),
        (b'{"url": "https://example.com/\xff.jpg"}', "This row is not valid UTF-8; save the file as UTF-8."),
        (b"[" * 100_000 + b"]" * 100_000, "This row is not valid JSON (nested too deeply)."),
    ],
)
def test_a_bad_jsonl_line_is_reported_in_words_and_the_next_line_still_reads(line, message):
    rows = jsonl_rows([line, {"url": "https://example.com/ok.jpg"}])

    assert isinstance(rows[0], RowError) and rows[0].row_number == 1
    assert message in rows[0].message
    assert isinstance(rows[1], ManifestRow) and rows[1].url == "https://example.com/ok.jpg"


def test_jsonl_metadata_nested_deeper_than_ten_levels_is_refused():
    deep = {"a": 1}
    for _ in range(10):
        deep = {"a": deep}

    error = only_error(jsonl_rows([{"url": "https://example.com/a.jpg", "metadata": deep}]))

    assert error.message == "The metadata is nested deeper than 10 levels."


def test_jsonl_metadata_of_ten_levels_is_fine():
    deep = {"a": [1]}
    for _ in range(8):
        deep = {"a": deep}

    row = only_row(jsonl_rows([{"url": "https://example.com/a.jpg", "metadata": deep}]))

    assert row.metadata == deep


def test_jsonl_metadata_over_16_kb_is_refused():
    error = only_error(jsonl_rows([{"url": "https://example.com/a.jpg", "metadata": {"note": "x" * 17_000}}]))

    assert error.reference == "https://example.com/a.jpg"
    assert "the limit is 16,384" in error.message


def test_an_overlong_jsonl_line_is_skipped_without_being_held():
    rows = jsonl_rows([b'{"url": "https://example.com/' + b"a" * (MAX_ROW_CHARS + 10) + b'"}', {"key": "b.jpg"}])

    assert isinstance(rows[0], RowError) and "longer than 1,048,576 bytes" in rows[0].message
    assert (rows[1].row_number, rows[1].key) == (2, "b.jpg")


def test_too_many_jsonl_rows_refuse_the_file():
    with pytest.raises(IntakeError) as caught:
        jsonl_rows([{"key": "a.jpg"}] * 4, max_rows=3)

    assert caught.value.code == "too_many_rows"


# --- Choosing the parser ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filename", "data"),
    [("m.csv", b"key\na.jpg\n"), ("M.JSONL", b'{"key": "a.jpg"}\n'), ("m.ndjson", b'{"key": "a.jpg"}\n')],
)
def test_the_parser_is_chosen_by_extension(filename, data):
    row = only_row(list(iter_manifest(io.BytesIO(data), filename=filename)))

    assert row.key == "a.jpg"


def test_other_files_are_not_manifests():
    with pytest.raises(IntakeError) as caught:
        iter_manifest(io.BytesIO(b""), filename="items.xlsx")

    assert caught.value.code == "unsupported_manifest"
