"""Bulk item ingest (ingest.py): batches, the thread that parses ahead, row-level security on every row, and what
the items' foreign keys still guarantee without a database constraint on import_job."""

import threading

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.datasets import ingest
from apps.datasets.ingest import StagedRow, ingest_rows, stage_manifest_row
from apps.datasets.models import ImportJob, ImportRowError, Item
from apps.storage.intake import ManifestRow, kind_from_filename
from apps.tenancy.context import tenant_context

from .test_imports import run, start_import


def staged(count: int) -> list[StagedRow]:
    return [
        StagedRow(name=f"f{i}.jpg", folder="/a", kind="image", metadata={"frame": i, "note": "é"},
                  source=f"https://cdn.example.test/{i}.jpg", mime="image/jpeg")
        for i in range(count)
    ]


def parsing_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "ingest-rows"]


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 3)


@pytest.fixture
def job_a(org_a, owner_a, dataset_a):
    return ImportJob.objects.create(organization=org_a, dataset=dataset_a, source=ImportJob.Source.MANIFEST,
                                    created_by=owner_a.user)


def ingest_into(dataset, actor, rows, **kwargs) -> int:
    with tenant_context(dataset.organization, actor):
        return ingest_rows(org_id=dataset.organization_id, dataset_id=dataset.pk, actor_id=actor.pk, rows=rows,
                           **kwargs)


class TestIngestRows:
    def test_rows_go_in_batch_by_batch_each_once(self, dataset_a, owner_a, small_batches):
        progress = []

        inserted = ingest_into(dataset_a, owner_a.user, iter(staged(7)), on_batch=progress.append)

        # The test's transaction holds every batch (no COMMIT empties the staging table between them).
        items = Item.objects.filter(dataset=dataset_a).order_by("name")
        assert (inserted, progress) == (7, [3, 6, 7])
        assert [item.name for item in items] == [f"f{i}.jpg" for i in range(7)]
        assert (items[0].folder, items[0].metadata, items[0].status, items[0].created_by_id) == (
            "/a", {"frame": 0, "note": "é"}, Item.Status.PENDING, owner_a.user.pk
        )
        assert not parsing_threads()

    def test_a_row_count_that_fills_the_last_batch_exactly(self, dataset_a, owner_a, small_batches):
        progress = []

        inserted = ingest_into(dataset_a, owner_a.user, staged(6), on_batch=progress.append)

        assert (inserted, progress, Item.objects.filter(dataset=dataset_a).count()) == (6, [3, 6], 6)

    def test_no_rows_insert_nothing(self, dataset_a, owner_a):
        progress = []

        assert ingest_into(dataset_a, owner_a.user, [], on_batch=progress.append) == 0
        assert progress == [] and not Item.objects.filter(dataset=dataset_a).exists()

    def test_an_error_while_producing_rows_is_raised_and_its_batch_left_out(self, dataset_a, owner_a, small_batches):
        def rows():
            yield from staged(4)
            raise ValueError("the manifest broke")

        with pytest.raises(ValueError, match="the manifest broke"):
            ingest_into(dataset_a, owner_a.user, rows())

        assert Item.objects.filter(dataset=dataset_a).count() == 3
        assert not parsing_threads()

    def test_row_level_security_refuses_rows_of_another_organisation(self, dataset_a, owner_a, org_b, small_batches):
        produced, closed = [], []

        def rows():
            try:
                for row in staged(30):
                    produced.append(row)
                    yield row
            finally:
                closed.append(True)

        with tenant_context(dataset_a.organization, owner_a.user), pytest.raises(DatabaseError,
                                                                                 match="row-level security"):
            ingest_rows(org_id=org_b.pk, dataset_id=dataset_a.pk, actor_id=owner_a.user.pk, rows=rows())

        # The first batch failed; the one parsed ahead meanwhile is dropped and the manifest closed, not read on.
        assert not Item.objects.filter(dataset=dataset_a).exists()
        assert (len(produced), closed) == (6, [True])
        assert not parsing_threads()


@pytest.mark.parametrize(
    "name", ["a.jpg", "B.JPEG", "a.tar.gz", "clip.mp4", "notes.txt", "a..png", "x.y.wav", ".jpg", "..jpg", "a.", "a"]
)
def test_the_kind_is_what_kind_from_filename_reads_in_the_name(name):
    row = ManifestRow(2, "https://cdn.example.test/x", None, name, None, None, {})
    expected = kind_from_filename(name)

    if expected is None:
        with pytest.raises(ValueError, match="cannot tell the kind"):
            stage_manifest_row(row)
    else:
        assert stage_manifest_row(row).kind == expected


class TestManifestRowsPostgresCannotStore:
    def test_jsonl_rows_with_nul_or_unpaired_surrogates_are_row_errors(self, dataset_a, manager_a, api_for):
        manifest = (
            b'{"url": "https://cdn.example.test/a.jpg"}\n'
            b'{"url": "https://cdn.example.test/b.jpg", "metadata": {"note": "x\\u0000y"}}\n'
            b'{"url": "https://cdn.example.test/c.jpg", "name": "c\\ud800.jpg"}\n'
            b'{"url": "https://cdn.example.test/d.jpg", "metadata": {"\\udc80": 1}}\n'
            b'{"url": "https://cdn.example.test/e.jpg", "metadata": {"smile": "\\ud83d\\ude00"}}\n'
        )

        job = run(start_import(api_for(manager_a), dataset_a, "items.jsonl", manifest).json()["id"])

        items = dict(Item.objects.filter(dataset=dataset_a).values_list("name", "metadata"))
        errors = list(ImportRowError.objects.filter(job=job).order_by("row").values_list("row", "message"))
        assert items == {"a.jpg": {}, "e.jpg": {"smile": "\U0001f600"}}
        assert [row for row, _message in errors] == [2, 3, 4]
        assert all("NUL character or an unpaired" in message for _row, message in errors)

    def test_csv_rows_with_nul_in_a_cell_or_its_metadata_json_are_row_errors(self, dataset_a, manager_a, api_for):
        manifest = (
            b"url,metadata.note,metadata\n"
            b"https://cdn.example.test/a.jpg,fine,\n"
            b"https://cdn.example.test/b.jpg,x\x00y,\n"
            b'https://cdn.example.test/c.jpg,,"{""k"": ""\\u0000""}"\n'
        )

        job = run(start_import(api_for(manager_a), dataset_a, "items.csv", manifest).json()["id"])

        items = dict(Item.objects.filter(dataset=dataset_a).values_list("name", "metadata"))
        errors = list(ImportRowError.objects.filter(job=job).order_by("row").values_list("row", "message"))
        assert items == {"a.jpg": {"note": "fine"}}
        assert [row for row, _message in errors] == [3, 4]


class TestForeignKeysOfImportedItems:
    def test_deleting_an_import_job_clears_it_from_its_items(self, dataset_a, owner_a, job_a):
        ingest_into(dataset_a, owner_a.user, staged(2), import_job_id=job_a.pk)

        with tenant_context(dataset_a.organization, owner_a.user):
            job_a.delete()

        assert list(Item.objects.filter(dataset=dataset_a).values_list("import_job_id", flat=True)) == [None, None]

    def test_an_import_job_out_of_sight_is_not_deleted_so_its_items_keep_a_real_job(self, dataset_a, owner_a, org_b,
                                                                                       job_a):
        ingest_into(dataset_a, owner_a.user, staged(2), import_job_id=job_a.pk)

        for other_context in (org_b, None):  # another organisation, and none (the operators' admin)
            with tenant_context(other_context):
                deleted, _ = ImportJob.objects.filter(pk=job_a.pk).delete()
            assert deleted == 0

        assert ImportJob.objects.filter(pk=job_a.pk).exists()
        assert set(Item.objects.filter(dataset=dataset_a).values_list("import_job_id", flat=True)) == {job_a.pk}

    def test_a_user_whose_items_are_out_of_sight_cannot_be_deleted(self, dataset_a, org_a, make_member):
        # created_by keeps its database constraint: outside the organisation's context the collector cannot see
        # the items to clear, and only the constraint refuses a deletion that would leave them naming no one.
        member = make_member(org_a)
        user_id = member.user.pk
        ingest_into(dataset_a, member.user, staged(2))
        member.delete()

        with tenant_context(None), pytest.raises(IntegrityError, match="datasets_item_created_by"), \
                transaction.atomic():
            member.user.delete()
            connection.check_constraints()

        assert set(Item.objects.filter(dataset=dataset_a).values_list("created_by_id", flat=True)) == {user_id}

    def test_deleting_a_user_in_the_organisations_context_clears_their_items(self, dataset_a, org_a, make_member):
        member = make_member(org_a)
        ingest_into(dataset_a, member.user, staged(2))
        member.delete()

        with tenant_context(org_a), transaction.atomic():
            member.user.delete()
            connection.check_constraints()

        assert list(Item.objects.filter(dataset=dataset_a).values_list("created_by_id", flat=True)) == [None, None]
