"""Background intake: manifests, zip archives and URL lists, with their per-row error reports.

The worker's actors are called directly here (`actor.fn`); tests/core/test_outbox_worker.py proves
the same messages reach a real worker process.
"""

import http.server
import threading

import pytest

from apps.datasets.models import ImportJob, ImportRowError, Item
from apps.datasets.tasks import fetch_import_items, run_import_job

from .conftest import png_bytes, upload, zip_bytes


def start_import(client, dataset, name, content):
    return client.post(f"/api/v1/datasets/{dataset.pk}/imports/", {"file": upload(name, content)}, format="multipart")


def run(job_id):
    job = ImportJob.objects.get(pk=job_id)
    run_import_job.fn(job.organization_id, job.pk)
    job.refresh_from_db()
    return job


class TestManifest:
    def test_a_csv_manifest_becomes_pending_items_with_a_row_error_report(self, dataset_a, manager_a, api_for):
        manifest = (
            b"url,name,metadata.camera,metadata.frame\n"
            b"https://cdn.example.test/a.jpg,a.jpg,front,1\n"
            b"https://cdn.example.test/b.png,,rear,2\n"
            b"ftp://cdn.example.test/c.jpg,c.jpg,side,3\n"
            b",d.jpg,side,4\n"
        )
        client = api_for(manager_a)

        response = start_import(client, dataset_a, "items.csv", manifest)
        job = run(response.json()["id"])

        assert response.status_code == 202
        assert (job.total, job.failed, job.status) == (4, 2, ImportJob.Status.RUNNING)
        items = list(Item.objects.filter(dataset=dataset_a).order_by("name"))
        assert [(i.name, i.status, i.metadata) for i in items] == [
            ("a.jpg", "pending", {"camera": "front", "frame": 1}),
            ("b.png", "pending", {"camera": "rear", "frame": 2}),
        ]
        errors = client.get(f"/api/v1/imports/{job.pk}/errors/").json()["results"]
        assert [e["row"] for e in errors] == [4, 5]

    def test_a_jsonl_manifest_with_storage_keys(self, dataset_a, manager_a, api_for):
        manifest = b'{"key": "cams/a.jpg", "metadata": {"camera": "A"}}\n{"key": "cams/b.jpg", "kind": "image"}\n'

        job = run(start_import(api_for(manager_a), dataset_a, "items.jsonl", manifest).json()["id"])

        assert job.total == 2 and job.failed == 0
        assert sorted(Item.objects.filter(dataset=dataset_a).values_list("source_url", flat=True)) == [
            "storage:cams/a.jpg", "storage:cams/b.jpg"
        ]

    def test_a_file_that_is_no_manifest_is_refused_at_once(self, dataset_a, manager_a, api_for):
        response = start_import(api_for(manager_a), dataset_a, "items.xlsx", b"PK\x03\x04")

        assert response.status_code == 400
        assert ".csv" in response.json()["errors"]["file"][0]


class TestZip:
    def test_a_zip_archive_becomes_items_in_its_folders(self, dataset_a, manager_a, api_for):
        archive = zip_bytes({"cats/a.png": png_bytes(), "dogs/b.png": png_bytes(), "notes.html": b"<html></html>"})

        job = run(start_import(api_for(manager_a), dataset_a, "photos.zip", archive).json()["id"])

        assert (job.status, job.succeeded, job.failed) == (ImportJob.Status.DONE, 2, 1)
        assert sorted(Item.objects.filter(dataset=dataset_a).values_list("folder", "name")) == [
            ("/cats", "a.png"), ("/dogs", "b.png")
        ]
        assert "HTML" in ImportRowError.objects.get(job=job).message

    def test_a_zip_slip_archive_imports_nothing(self, dataset_a, manager_a, api_for):
        archive = zip_bytes({"a.png": png_bytes(), "../../etc/cron.d/evil.png": png_bytes()})

        job = run(start_import(api_for(manager_a), dataset_a, "evil.zip", archive).json()["id"])

        assert job.status == ImportJob.Status.FAILED
        assert "The import stopped" in job.message
        assert not Item.objects.filter(dataset=dataset_a).exists()

    def test_a_file_named_zip_that_is_not_one_is_refused(self, dataset_a, manager_a, api_for):
        response = start_import(api_for(manager_a), dataset_a, "photos.zip", b"<html></html>")

        assert response.status_code == 400


@pytest.fixture
def image_server(settings):
    """A web server on loopback that the URL fetcher is allowed to reach in this test only."""
    image = png_bytes(20, 10)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/a.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    settings.URL_IMPORT_ALLOW_LOOPBACK_PORTS = (port,)
    settings.URL_IMPORT_ALLOWED_PORTS = (80, 443, port)
    yield f"http://127.0.0.1:{port}", image
    server.shutdown()


class TestUrls:
    def test_urls_are_fetched_by_the_worker_and_refusals_are_reported(self, dataset_a, manager_a, api_for,
                                                                      image_server):
        base, image = image_server
        client = api_for(manager_a)
        response = client.post(
            f"/api/v1/datasets/{dataset_a.pk}/items/",
            {"urls": [f"{base}/a.png", f"{base}/missing.png", "http://169.254.169.254/latest/meta.png",
                      "http://10.0.0.7/x.png"]},
            format="json",
        )
        job = ImportJob.objects.get(pk=response.json()["id"])

        fetch_import_items.fn(job.organization_id, job.pk)

        job.refresh_from_db()
        assert response.status_code == 202
        assert (job.status, job.succeeded, job.failed) == (ImportJob.Status.DONE, 1, 3)
        ready = Item.objects.get(dataset=dataset_a, status=Item.Status.READY)
        assert (ready.name, ready.width, ready.height) == ("a.png", 20, 10)
        assert b"".join(client.get(f"/api/v1/items/{ready.pk}/content/").streaming_content) == image
        messages = list(ImportRowError.objects.filter(job=job).order_by("row").values_list("message", flat=True))
        assert "answered 404" in messages[0]
        assert all("not a public internet address" in m for m in messages[1:])

    def test_non_http_urls_are_refused_in_the_request(self, dataset_a, manager_a, api_for):
        response = api_for(manager_a).post(
            f"/api/v1/datasets/{dataset_a.pk}/items/", {"urls": ["file:///etc/passwd", "gopher://x/y.png"]},
            format="json",
        )

        assert response.status_code == 400
        assert "only http and https" in str(response.json()["errors"]["urls"])


def test_uploading_a_single_file_with_a_manifest_endpoint_needs_change_rights(dataset_a, org_a, make_member, api_for):
    from apps.tenancy.roles import Role

    reviewer = make_member(org_a, Role.REVIEWER)

    response = start_import(api_for(reviewer), dataset_a, "items.csv", b"url\nhttps://x.test/a.jpg\n")

    assert response.status_code == 404
