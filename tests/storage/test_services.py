"""blob_put / blob_open / blob_read_bytes / blob_delete on the local backend, and the intake area."""

import hashlib
import io
import re

import pytest

from apps.storage.errors import BlobCorrupted, BlobMissing, BlobTooLarge
from apps.storage.models import Blob, OrgKey
from apps.storage.services import blob_delete, blob_open, blob_put, blob_read_bytes, open_intake_object
from apps.tenancy.context import tenant_context

from .content import MARKER, marked_content

MiB = 1024 * 1024


@pytest.mark.parametrize("size", [0, 11, int(3.5 * MiB)], ids=["empty", "small", "multi-chunk"])
def test_round_trip(put, size):
    content = marked_content(size)

    blob = put(content)

    assert blob_read_bytes(blob) == content


def test_the_blob_records_size_digest_mime_region_and_key(put, org_a):
    content = marked_content(1000)

    blob = put(content, mime="image/png")

    assert (blob.size, blob.sha256, blob.mime, blob.region) == (
        1000,
        hashlib.sha256(content).hexdigest(),
        "image/png",
        "eu",
    )
    assert re.fullmatch(rf"org/{org_a.pk}/\d{{4}}/\d{{2}}/[0-9a-f]{{32}}", blob.key)
    assert (blob.chunk_size, blob.org_key_version) == (MiB, 1)


def test_the_stored_file_does_not_contain_the_plaintext(put, stored_path):
    blob = put(marked_content(int(3.5 * MiB)))

    stored = stored_path(blob).read_bytes()

    assert MARKER not in stored
    assert stored.startswith(b"DLSB")
    assert len(stored) == blob.size + 17 + 4 * 16


def test_bytes_go_only_to_the_organisations_region(put, region_roots):
    blob = put(b"eu bytes")

    assert [p for p in region_roots["eu"].rglob("*") if p.is_file()] == [region_roots["eu"] / blob.key]
    assert not region_roots["us"].exists()


def test_each_organisation_gets_its_own_key(put, org_a, org_b):
    put(b"a", org=org_a)
    put(b"b", org=org_b)

    keys = list(OrgKey.objects.order_by("organization_id").values_list("organization_id", "version"))

    assert keys == [(org_a.pk, 1), (org_b.pk, 1)]


def test_the_stream_is_read_from_its_start(org_a):
    stream = io.BytesIO(b"header and body")
    stream.read(6)

    blob = blob_put(org=org_a, stream=stream)

    assert blob_read_bytes(blob) == b"header and body"


def test_one_changed_ciphertext_byte_is_refused(put, stored_path):
    blob = put(marked_content(int(2.5 * MiB)))
    path = stored_path(blob)
    data = bytearray(path.read_bytes())
    data[MiB + 100] ^= 0x01
    path.write_bytes(bytes(data))

    with blob_open(blob) as reader, pytest.raises(BlobCorrupted, match="failed authentication at chunk 1"):
        reader.read()


def test_a_tampered_chunk_is_found_by_a_range_read_too(put, stored_path):
    blob = put(marked_content(3 * MiB))
    path = stored_path(blob)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x80
    path.write_bytes(bytes(data))

    with blob_open(blob) as reader:
        assert reader.read(10) == marked_content(10)
        reader.seek(-10, io.SEEK_END)
        with pytest.raises(BlobCorrupted, match="chunk 2"):
            reader.read()


def test_truncated_ciphertext_is_refused(put, stored_path):
    blob = put(marked_content(int(3.5 * MiB)))
    path = stored_path(blob)
    path.write_bytes(path.read_bytes()[: 17 + 2 * (MiB + 16)])

    with pytest.raises(BlobCorrupted, match="cut short"):
        blob_read_bytes(blob)


def test_missing_ciphertext_is_reported_as_missing(put, stored_path):
    blob = put(b"soon gone")
    stored_path(blob).unlink()

    with pytest.raises(BlobMissing):
        blob_open(blob)


def test_a_data_key_copied_from_another_blob_does_not_unwrap(put):
    first, second = put(b"first"), put(b"second")
    Blob.objects.filter(pk=second.pk).update(wrapped_data_key=first.wrapped_data_key)

    with pytest.raises(BlobCorrupted, match="does not unwrap"):
        blob_open(second)


def test_blob_open_is_seekable_and_reads_ranges(put):
    content = marked_content(3 * MiB)
    blob = put(content)

    with blob_open(blob) as reader:
        reader.seek(MiB - 3)
        across = reader.read(6)
        reader.seek(2 * MiB + 5)
        later = reader.read(4)
        reader.seek(0)
        start = reader.read(8)

    assert (across, later, start) == (content[MiB - 3 : MiB + 3], content[2 * MiB + 5 : 2 * MiB + 9], content[:8])


def test_blob_read_bytes_limit_reads_the_start_only(put):
    blob = put(b"0123456789")

    assert blob_read_bytes(blob, limit=4) == b"0123"


def test_too_large_content_is_refused_and_leaves_nothing(org_a, region_roots):
    with pytest.raises(BlobTooLarge):
        blob_put(org=org_a, stream=io.BytesIO(b"x" * (2 * MiB + 1)), max_bytes=2 * MiB)

    assert not Blob.objects.exists()
    assert [p for p in region_roots["eu"].rglob("*") if p.is_file()] == []


def test_content_of_exactly_max_bytes_is_accepted(org_a):
    blob = blob_put(org=org_a, stream=io.BytesIO(b"x" * 100), max_bytes=100)

    assert blob.size == 100


def test_blob_delete_removes_row_and_ciphertext(put, stored_path, django_capture_on_commit_callbacks):
    blob = put(b"to be erased")
    path = stored_path(blob)

    with django_capture_on_commit_callbacks(execute=True):
        blob_delete(blob)

    assert not Blob.objects.filter(pk=blob.pk).exists()
    assert not path.exists()


def test_blob_delete_keeps_the_ciphertext_until_the_transaction_commits(put, stored_path):
    blob = put(b"kept while the row may come back")

    blob_delete(blob)  # the test's transaction never commits

    assert stored_path(blob).exists()


def test_another_tenants_blob_is_invisible_in_a_tenant_context(put, org_a, org_b):
    blob_b = put(b"globex secret", org=org_b)

    with tenant_context(org_a), pytest.raises(BlobMissing):
        blob_open(blob_b)


def test_a_tenant_context_can_read_its_own_blob(put, org_a):
    blob = put(b"acme data", org=org_a)

    with tenant_context(org_a):
        assert blob_read_bytes(blob) == b"acme data"


def test_a_tenant_context_cannot_write_another_tenants_blob(org_a, org_b):
    from django.db import DatabaseError, transaction

    with tenant_context(org_a), pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        blob_put(org=org_b, stream=io.BytesIO(b"planted"))


# --- Intake area ------------------------------------------------------------------------------


def test_intake_object_is_read_from_the_organisations_area(org_a, region_roots):
    area = region_roots["eu"] / "intake" / str(org_a.pk) / "cams"
    area.mkdir(parents=True)
    (area / "a.jpg").write_bytes(b"jpeg bytes")

    with open_intake_object(org=org_a, key="cams/a.jpg") as stream:
        assert stream.read() == b"jpeg bytes"


@pytest.mark.parametrize("key", ["../1/x", "/etc/passwd", "a/../../b", "a//b", "a\\b", "a\nb", ""])
def test_intake_keys_cannot_leave_the_area(org_a, key):
    from apps.storage.intake import IntakeError

    with pytest.raises(IntakeError, match="key"):
        open_intake_object(org=org_a, key=key)


def test_intake_symlink_out_of_the_area_is_not_followed(org_a, org_b, region_roots):
    from apps.storage.intake import IntakeError

    other = region_roots["eu"] / "intake" / str(org_b.pk)
    other.mkdir(parents=True)
    (other / "secret.bin").write_bytes(b"globex")
    own = region_roots["eu"] / "intake" / str(org_a.pk)
    own.mkdir(parents=True)
    (own / "link.bin").symlink_to(other / "secret.bin")

    with pytest.raises(IntakeError) as raised:
        open_intake_object(org=org_a, key="link.bin")

    assert raised.value.code == "not_found"



def test_a_batch_read_gives_each_blobs_bytes_and_each_failure_apart(put, org_a, org_b, django_assert_max_num_queries):
    from apps.storage.errors import BlobCorrupted, BlobMissing
    from apps.storage.models import Blob
    from apps.storage.services import blobs_read_bytes, org_key_rotate

    old = put(b"written under key v1")
    org_key_rotate(org=org_a, actor=None)
    new = put(b"written under key v2")
    tampered = put(b"tampered with")
    Blob.objects.filter(pk=tampered.pk).update(wrapped_data_key=bytes(old.wrapped_data_key))
    foreign = put(b"globex", org=org_b)

    with django_assert_max_num_queries(4):
        contents = blobs_read_bytes(org_id=org_a.pk, blob_ids=[old.pk, new.pk, tampered.pk, foreign.pk])

    assert contents[old.pk] == b"written under key v1" and contents[new.pk] == b"written under key v2"
    assert isinstance(contents[tampered.pk], BlobCorrupted)
    assert isinstance(contents[foreign.pk], BlobMissing)  # another organisation's blob is not there at all
