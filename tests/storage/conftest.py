"""Storage fixtures: every test gets its own region roots, so ciphertext files can be inspected and
nothing is shared between tests."""

import io

import pytest


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    roots = {"eu": tmp_path / "eu", "us": tmp_path / "us"}
    settings.REGIONS = ["eu", "us"]
    settings.STORAGE_BACKENDS = {"eu": "local", "us": "local"}
    settings.STORAGE_ROOTS = roots
    settings.STORAGE_S3 = {}
    return roots


@pytest.fixture
def stored_path(region_roots):
    """The ciphertext file of a blob in the local backend."""

    def path(blob):
        return region_roots[blob.region] / blob.key

    return path


@pytest.fixture
def put(org_a):
    from apps.storage.services import blob_put

    def put(content: bytes, *, org=None, mime: str = "application/octet-stream", **kwargs):
        return blob_put(org=org or org_a, stream=io.BytesIO(content), mime=mime, **kwargs)

    return put
