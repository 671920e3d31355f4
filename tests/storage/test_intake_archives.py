"""Zip archives written by an attacker: slips, links, bombs, lies in the headers. Nothing gets through."""

import io
import stat
import struct
import zipfile

import pytest

from apps.storage.intake import IntakeError, iter_zip, sniff
from apps.storage.intake.archives import RATIO_FLOOR_BYTES, EntryStream, _Budget, _Limits


def make_zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for entry, content in entries:
            archive.writestr(entry, content)
    return out.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def records(data: bytes) -> list[tuple[int, int]]:
    """(central record offset, local header offset) of each entry, walking the real directory."""
    end = data.rfind(b"PK\x05\x06")
    count, _size, position = struct.unpack_from("<HII", data, end + 10)
    found = []
    for _ in range(count):
        assert data[position : position + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, position + 28)
        found.append((position, struct.unpack_from("<I", data, position + 42)[0]))
        position += 46 + name_len + extra_len + comment_len
    return found


def patch(data: bytes, index: int, **fields) -> bytes:
    """Rewrite header fields of entry `index`, in the central directory and (where it has it) its local header."""
    buffer = bytearray(data)
    central, local = records(data)[index]
    layout = {  # field: (format, offset in central record, offset in local header or None)
        "flag_bits": ("<H", 8, 6),
        "method": ("<H", 10, 8),
        "file_size": ("<I", 24, 22),
        "external_attr": ("<I", 38, None),
        "header_offset": ("<I", 42, None),
    }
    for field, value in fields.items():
        fmt, in_central, in_local = layout[field]
        struct.pack_into(fmt, buffer, central + in_central, value)
        if in_local is not None:
            struct.pack_into(fmt, buffer, local + in_local, value)
    return bytes(buffer)


def refusal(data: bytes, **limits) -> tuple[IntakeError, list[str]]:
    """The error iter_zip raises, and the names it yielded before raising."""
    yielded = []
    with pytest.raises(IntakeError) as caught:
        for entry in iter_zip(io.BytesIO(data), **limits):
            yielded.append(entry.name)
            entry.stream.read()
    return caught.value, yielded


def entries_of(data: bytes, **limits) -> list[tuple[str, str, bytes]]:
    return [(entry.name, entry.folder, entry.stream.read()) for entry in iter_zip(io.BytesIO(data), **limits)]


# --- What a good archive gives --------------------------------------------------------------------
def test_files_come_out_with_their_folder_and_bytes():
    data = make_zip([("cats/tabby.jpg", b"tabby"), ("dogs/pups/rex.jpg", b"rex"), ("top.txt", b"top")])

    assert entries_of(data) == [
        ("tabby.jpg", "/cats", b"tabby"),
        ("rex.jpg", "/dogs/pups", b"rex"),
        ("top.txt", "/", b"top"),
    ]


def test_directories_and_desktop_junk_are_skipped():
    data = make_zip(
        [
            ("photos/", b""),
            ("photos/a.jpg", b"a"),
            ("__MACOSX/photos/._a.jpg", b"resource fork"),
            ("photos/._b.jpg", b"apple double"),
            ("photos/.DS_Store", b"finder"),
            ("Thumbs.db", b"explorer"),
            ("photos/desktop.ini", b"explorer"),
        ]
    )

    assert entries_of(data) == [("a.jpg", "/photos", b"a")]


def test_names_are_normalised_to_nfc():
    data = make_zip([("cafe\u0301/the\u0301.txt", b"x")])

    assert entries_of(data) == [("th\u00e9.txt", "/caf\u00e9", b"x")]


def test_utf8_names_without_the_utf8_flag_are_read_as_utf8():
    data = make_zip([("\u00e9t\u00e9/caf\u00e9.jpg", b"x")])
    data = patch(data, 0, flag_bits=0)  # as many macOS and Linux tools write them

    assert entries_of(data) == [("caf\u00e9.jpg", "/\u00e9t\u00e9", b"x")]


def test_legacy_cp437_names_still_decode():
    data = make_zip([("X.jpg", b"x")]).replace(b"X.jpg", b"\x82.jpg")  # 0x82 is e-acute in CP437

    assert entries_of(data) == [("\u00e9.jpg", "/", b"x")]


def test_an_archive_inside_the_archive_is_a_plain_file_the_sniffer_calls_an_archive():
    inner = make_zip([("../../evil.sh", b"#!/bin/sh")])  # never opened, so its slip is never reached

    [(name, folder, content)] = entries_of(make_zip([("nested/inner.zip", inner)]))

    assert (name, folder, content) == ("inner.zip", "/nested", inner)
    assert sniff(content, filename=name).kind is None


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_common_compression_method_reads(compression):
    data = make_zip([("a.txt", b"hello " * 1000)], compression=compression)

    assert entries_of(data) == [("a.txt", "/", b"hello " * 1000)]


def test_a_stream_cannot_be_read_once_the_archive_moved_on():
    [entry] = iter_zip(io.BytesIO(make_zip([("a.txt", b"a")])))

    with pytest.raises(ValueError, match="closed"):
        entry.stream.read()


def test_each_stream_is_closed_when_the_next_entry_comes():
    entries = iter_zip(io.BytesIO(make_zip([("a.txt", b"a"), ("b.txt", b"b")])))
    first = next(entries)

    second = next(entries)

    assert first.stream.closed and not second.stream.closed


def test_streams_read_in_chunks():
    data = make_zip([("big.bin", bytes(range(256)) * 4096)])
    entries = iter_zip(io.BytesIO(data))
    entry = next(entries)
    chunks = []

    while chunk := entry.stream.read(10_000):
        chunks.append(chunk)

    assert b"".join(chunks) == bytes(range(256)) * 4096
    assert entry.stream.bytes_read == 256 * 4096


# --- Zip-slip and names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "../evil.jpg",
        "photos/../../evil.jpg",
        "/etc/cron.d/evil",
        "..\\..\\evil.jpg",
        "photos\\..\\..\\evil.jpg",
        "\\\\server\\share\\evil.jpg",
        "C:\\Windows\\evil.jpg",
        "c:/evil.jpg",
        "photos/.../evil.jpg",
        "photos/.. /evil.jpg",
        "photos/\uff0e\uff0e/evil.jpg",  # fullwidth full stops: '..' once NFKC-normalised
        "photos/\u2025/evil.jpg",  # two-dot leader
    ],
)
def test_zip_slip_is_refused_and_nothing_is_yielded(name):
    data = make_zip([("good.jpg", b"fine"), (name, b"evil")])

    error, yielded = refusal(data)

    assert error.code == "zip_slip"
    assert yielded == []


@pytest.mark.parametrize(
    "name",
    ["new\nline.jpg", "tab\there.jpg", "bell\x07.jpg", "c1\x85.jpg", "invoice\u202egpj.exe", "isolate\u2066.jpg"],
)
def test_names_with_control_or_direction_characters_are_refused(name):
    error, yielded = refusal(make_zip([("good.jpg", b"fine"), (name, b"x")]))

    assert (error.code, yielded) == ("bad_name", [])


def test_a_nul_in_a_name_is_refused_not_truncated():
    data = make_zip([("evilXjpg.html", b"<html>")]).replace(b"evilXjpg", b"evil\x00jpg")

    error, _ = refusal(data)

    assert error.code == "bad_name"


def test_overlong_names_are_refused():
    error, _ = refusal(make_zip([("a" * 300 + ".jpg", b"x")]))

    assert error.code == "name_too_long"


def test_overlong_folders_are_refused():
    error, _ = refusal(make_zip([("/".join(["folder" * 10] * 20) + "/a.jpg", b"x")]))

    assert error.code == "name_too_long"


# --- Links, special files, encryption, methods ----------------------------------------------------------
def test_a_symlink_is_refused_in_words():
    data = make_zip([("a.jpg", b"x"), (unix_entry("link.jpg", stat.S_IFLNK | 0o777), b"/etc/passwd")])

    error, yielded = refusal(data)

    assert (error.code, yielded) == ("symlink", [])
    assert str(error) == "'link.jpg' is a symbolic link; archives with links are refused."


@pytest.mark.parametrize("mode", [stat.S_IFIFO | 0o644, stat.S_IFCHR | 0o644, stat.S_IFBLK | 0o644, stat.S_IFSOCK])
def test_devices_pipes_and_sockets_are_refused(mode):
    error, _ = refusal(make_zip([(unix_entry("dev", mode), b"")]))

    assert error.code == "special_file"


def test_regular_unix_files_and_folders_are_fine():
    data = make_zip(
        [(unix_entry("d/", stat.S_IFDIR | 0o755), b""), (unix_entry("d/a.txt", stat.S_IFREG | 0o644), b"a")]
    )

    assert entries_of(data) == [("a.txt", "/d", b"a")]


def test_an_encrypted_entry_is_refused():
    data = patch(make_zip([("a.jpg", b"x"), ("secret.jpg", b"y")]), 1, flag_bits=0x1)

    error, yielded = refusal(data)

    assert (error.code, yielded) == ("encrypted", [])


def test_an_unusual_compression_method_is_refused():
    data = patch(make_zip([("a.jpg", b"x")]), 0, method=98)  # PPMd

    error, _ = refusal(data)

    assert error.code == "unsupported_compression"


# --- Counts, sizes, bombs -----------------------------------------------------------------------------
def test_too_many_entries_are_refused():
    data = make_zip([(f"{i}.txt", b"x") for i in range(11)])

    error, yielded = refusal(data, max_entries=10)

    assert (error.code, yielded) == ("too_many_entries", [])
    assert "holds 11 entries; the limit is 10" in str(error)


def test_the_entry_count_is_read_before_the_directory_is_parsed(monkeypatch):
    data = bytearray(make_zip([("a.txt", b"x")]))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 60_000, 60_000)  # the end record claims 60,000 entries

    def parse(*args, **kwargs):
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", parse)

    error, _ = refusal(bytes(data))

    assert error.code == "too_many_entries"


def test_a_central_directory_too_large_for_the_entry_limit_is_refused():
    data = bytearray(make_zip([("a.txt", b"x")]))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 12, 500_000_000)

    error, _ = refusal(bytes(data))

    assert error.code == "too_many_entries"


def test_zip64_entry_counts_are_read_too(monkeypatch):
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 4)  # makes zipfile write zip64 end records for 6 entries
    data = make_zip([(f"{i}.txt", b"x") for i in range(6)])
    monkeypatch.undo()
    assert b"PK\x06\x06" in data

    error, _ = refusal(data, max_entries=5)

    assert error.code == "too_many_entries"
    assert len(entries_of(data, max_entries=6)) == 6


def test_a_highly_compressed_entry_is_a_zip_bomb():
    data = make_zip([("zeros.bin", b"\x00" * (5 * 1024 * 1024))])  # 5 MB in about 5 KB

    error, yielded = refusal(data)

    assert (error.code, yielded) == ("zip_bomb", [])
    assert "more than 100 times its compressed size" in str(error)


def test_the_ratio_limit_comes_from_the_settings(settings):
    settings.INTAKE_ZIP_MAX_RATIO = 10_000

    [(name, _folder, content)] = entries_of(make_zip([("zeros.bin", b"\x00" * (5 * 1024 * 1024))]))

    assert (name, len(content)) == ("zeros.bin", 5 * 1024 * 1024)


def test_small_files_may_compress_well():
    assert entries_of(make_zip([("spaces.txt", b" " * 500_000)])) == [("spaces.txt", "/", b" " * 500_000)]


def test_an_entry_over_the_size_limit_is_refused():
    data = make_zip([("a.bin", b"a" * 1000), ("b.bin", b"b" * 5000)], compression=zipfile.ZIP_STORED)

    error, yielded = refusal(data, max_entry_bytes=4096)

    assert (error.code, yielded) == ("too_large", [])


def test_an_archive_over_the_total_limit_is_refused():
    data = make_zip([(f"{i}.bin", bytes([i]) * 1000) for i in range(5)], compression=zipfile.ZIP_STORED)

    error, yielded = refusal(data, max_total_bytes=4000)

    assert (error.code, yielded) == ("too_large", [])


def test_a_header_that_understates_the_size_stops_at_the_stated_size():
    real = bytes(range(256)) * 800  # 200 KB
    data = patch(make_zip([("liar.bin", real)]), 0, file_size=1000)
    entries = iter_zip(io.BytesIO(data))
    entry = next(entries)
    received = b""

    with pytest.raises(IntakeError) as caught:
        while chunk := entry.stream.read(512):
            received += chunk

    assert caught.value.code == "corrupt"
    assert len(received) <= 1000


def test_overlapping_entries_are_a_zip_bomb():
    data = make_zip([("a.bin", b"a" * 100), ("b.bin", b"b" * 100)], compression=zipfile.ZIP_STORED)
    data = patch(data, 1, header_offset=records(data)[0][1])  # both entries point at the same bytes

    error, yielded = refusal(data)

    assert (error.code, yielded) == ("zip_bomb", [])


def budget(**limits) -> _Budget:
    values = {"entries": 10, "total_bytes": 10**9, "entry_bytes": 10**9, "ratio": 100, **limits}
    return _Budget(_Limits(**values))


def test_the_stream_counts_what_is_decompressed_not_what_was_declared():
    stream = EntryStream(io.BytesIO(b"x" * 5000), name="/a.bin", budget=budget(entry_bytes=1000), compressed_size=5000)

    with pytest.raises(IntakeError) as caught:
        stream.read()

    assert caught.value.code == "too_large"
    assert "'/a.bin' unpacks to more than 1,000 bytes" in str(caught.value)


def test_the_stream_counts_across_the_whole_archive():
    shared = budget(total_bytes=1500)
    first = EntryStream(io.BytesIO(b"x" * 1000), name="/a", budget=shared, compressed_size=1000)
    second = EntryStream(io.BytesIO(b"y" * 1000), name="/b", budget=shared, compressed_size=1000)
    first.read()

    with pytest.raises(IntakeError) as caught:
        second.read()

    assert caught.value.code == "too_large"


def test_the_stream_stops_a_ratio_bomb_while_decompressing():
    raw = io.BytesIO(b"\x00" * (RATIO_FLOOR_BYTES + 10_000))
    stream = EntryStream(raw, name="/zeros", budget=budget(), compressed_size=1000)

    with pytest.raises(IntakeError) as caught:
        while stream.read(64 * 1024):
            pass

    assert caught.value.code == "zip_bomb"
    assert stream.bytes_read <= RATIO_FLOOR_BYTES + 64 * 1024


# --- Not zips, damaged zips ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content", [b"", b"just text", b"PK\x03\x04" + b"\x00" * 100], ids=["empty", "text", "local header only"]
)
def test_what_is_not_a_zip_is_refused(content):
    error, _ = refusal(content)

    assert error.code == "not_a_zip"


def test_a_truncated_zip_is_refused():
    data = make_zip([("a.txt", b"hello" * 1000)])

    error, _ = refusal(data[: len(data) // 2])

    assert error.code == "not_a_zip"


def test_damaged_data_is_refused_while_reading():
    data = bytearray(make_zip([("a.txt", b"hello world" * 100)], compression=zipfile.ZIP_STORED))
    data[60] ^= 0xFF  # inside the stored bytes: the CRC no longer matches

    error, _ = refusal(bytes(data))

    assert error.code == "corrupt"


def test_a_multi_disk_archive_is_refused():
    data = bytearray(make_zip([("a.txt", b"x")]))
    struct.pack_into("<H", data, data.rfind(b"PK\x05\x06") + 4, 1)

    error, _ = refusal(bytes(data))

    assert error.code == "unsupported_archive"
