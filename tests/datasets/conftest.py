import io
import zipfile

import pytest
from PIL import Image

from apps.tenancy.roles import Role


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    roots = {"eu": tmp_path / "eu", "us": tmp_path / "us"}
    settings.STORAGE_ROOTS = roots
    return roots


def png_bytes(width=32, height=24, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture
def manager_a(org_a, make_member):
    return make_member(org_a, Role.MANAGER)


@pytest.fixture
def dataset_a(org_a, owner_a):
    from apps.datasets.services import dataset_create

    return dataset_create(org=org_a, actor=owner_a.user, name="Street scenes", classification="personal")
