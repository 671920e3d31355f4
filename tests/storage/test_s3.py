"""The S3 backend against a real S3-compatible server (moto) on loopback: nothing leaves this machine."""

import io
import socket

import boto3
import pytest
from botocore.config import Config

from apps.storage.errors import BlobMissing, BlobTooLarge
from apps.storage.models import Blob
from apps.storage.regions import backend_for
from apps.storage.services import blob_delete, blob_open, blob_put, blob_read_bytes, open_intake_object

from .content import MARKER, marked_content

MiB = 1024 * 1024
BUCKET = "dlsaas-eu-test"
CREDENTIALS = {"access_key": "testing-key", "secret_key": "testing-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="eu-central-1",
        aws_access_key_id=CREDENTIALS["access_key"],
        aws_secret_access_key=CREDENTIALS["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(autouse=True)
def eu_in_s3(settings, s3_endpoint, s3_client, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3_client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    settings.STORAGE_BACKENDS = {"eu": "s3", "us": "local"}
    settings.STORAGE_S3 = {
        "eu": {
            "bucket_name": BUCKET,
            "endpoint_url": s3_endpoint,
            "region_name": "eu-central-1",
            "addressing_style": "path",
            **CREDENTIALS,
        }
    }
    yield
    for obj in s3_client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3_client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3_client.delete_bucket(Bucket=BUCKET)


def stored(s3_client) -> dict[str, bytes]:
    return {
        obj["Key"]: s3_client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        for obj in s3_client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }


def test_the_eu_region_is_backed_by_the_bucket():
    from storages.backends.s3 import S3Storage

    assert isinstance(backend_for("eu"), S3Storage)


def test_write_read_delete_through_s3(org_a, s3_client, django_capture_on_commit_callbacks):
    content = marked_content(int(3.5 * MiB))

    blob = blob_put(org=org_a, stream=io.BytesIO(content), mime="video/mp4")
    objects = stored(s3_client)
    read_back = blob_read_bytes(blob)
    with django_capture_on_commit_callbacks(execute=True):
        blob_delete(blob)

    assert list(objects) == [blob.key]
    assert MARKER not in objects[blob.key] and objects[blob.key].startswith(b"DLSB")
    assert read_back == content
    assert stored(s3_client) == {}


def test_range_reads_through_s3_fetch_only_the_chunks_they_need(org_a):
    content = marked_content(3 * MiB)
    blob = blob_put(org=org_a, stream=io.BytesIO(content))

    with blob_open(blob) as reader:
        reader.seek(2 * MiB - 4)
        across = reader.read(8)
        reader.seek(-3, io.SEEK_END)
        tail = reader.read()

    assert (across, tail) == (content[2 * MiB - 4 : 2 * MiB + 4], content[-3:])


def test_too_large_content_leaves_nothing_in_the_bucket(org_a, s3_client):
    # Past the 8 MB multipart threshold: parts were uploaded before the limit was hit.
    with pytest.raises(BlobTooLarge):
        blob_put(org=org_a, stream=io.BytesIO(b"x" * (30 * MiB)), max_bytes=25 * MiB)

    assert stored(s3_client) == {}
    assert s3_client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert not Blob.objects.exists()


def test_an_object_missing_from_the_bucket_is_reported(org_a, s3_client):
    blob = blob_put(org=org_a, stream=io.BytesIO(b"short-lived"))
    s3_client.delete_object(Bucket=BUCKET, Key=blob.key)

    with pytest.raises(BlobMissing):
        blob_open(blob)


def test_intake_objects_are_read_from_the_organisations_prefix(org_a, s3_client):
    from apps.storage.intake import IntakeError

    s3_client.put_object(Bucket=BUCKET, Key=f"intake/{org_a.pk}/cams/a.jpg", Body=b"0123456789")

    with open_intake_object(org=org_a, key="cams/a.jpg") as stream:
        stream.seek(4)
        middle = stream.read(3)
        stream.seek(0)
        whole = stream.read()
    with pytest.raises(IntakeError):
        open_intake_object(org=org_a, key="cams/missing.jpg")

    assert (middle, whole) == (b"456", b"0123456789")


def test_a_us_organisation_still_writes_to_its_local_root(region_roots, s3_client, db):
    from tests.factories import OrganizationFactory

    blob = blob_put(org=OrganizationFactory(region="us"), stream=io.BytesIO(b"us bytes"))

    assert (region_roots["us"] / blob.key).is_file()
    assert stored(s3_client) == {}
