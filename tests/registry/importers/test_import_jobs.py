"""Import jobs through the API (/api/imports/): upload, mapping, dry run and commit in the worker,
the paged findings, the reports, the audit, and who sees (or may start) which job.

Jobs run as django-tasks-db's worker runs them (claim, run, record), in this process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditEntry, Role
from common.jobs import ProgressWriter
from registry.importers import jobs
from registry.models import Equipment
from registry.models.imports import ImportFinding, ImportJob, SavedMapping
from tests.conftest import XIXIA, load_test_regions
from tests.registry.importers.conftest import write_layer
from tests.registry.importers.equipment_rows import HEADER, MAPPING, csv_file, device_row

pytestmark = pytest.mark.django_db

API = "/api/imports/"


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_worker() -> None:
    """Every queued task as django-tasks-db's worker runs it, without its loop (which closes the
    connection holding the test's transaction)."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id="pytest",
                    excluded_queue_names=[])  # fmt: skip
    while (task := DBTaskResult.objects.ready().get_locked()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)


def upload(client: Client, rows: list[dict], **fields) -> dict:
    response = client.post(API, {"file": csv_file(rows), "dataset": "equipment", **fields})
    assert response.status_code == 201, response.content.decode()
    return response.json()


def dry_run(client: Client, job: dict, mapping=None, source_crs="wgs84") -> dict:
    url = job["urls"]
    response = client.post(
        url["mapping"],
        {"mapping": mapping or MAPPING, "source_crs": source_crs},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content.decode()
    assert client.post(url["validate"]).status_code == 202
    run_worker()
    return client.get(url["self"]).json()


def commit(client: Client, job: dict) -> dict:
    response = client.post(job["urls"]["commit"])
    assert response.status_code == 202, response.content.decode()
    run_worker()
    return client.get(job["urls"]["self"]).json()


# --------------------------------------------------------------------------- the happy path


def test_upload_dry_run_commit_and_reimport(users):
    client = client_of(users["xingqing"])
    rows = [device_row(n) for n in range(1, 5)]
    job = upload(client, rows, source="兴庆区特检所")
    assert job["state"] == "uploaded" and job["format"] == "csv" and job["columns"] == HEADER
    # Every recognised header is suggested; the elements list marks the required ones.
    assert job["mapping"] == MAPPING
    required = {e["name"] for e in job["elements"] if e["required"]}
    assert required == {"variety", "use_unit_name"}

    checked = dry_run(client, job)
    assert checked["state"] == "validated", checked["error"]
    assert checked["summary"]["rows"] == 4 and checked["summary"]["errors"] == 0
    assert checked["summary"]["new"] == 4 and checked["may_commit"]
    assert checked["rows_done"] == 4
    assert not Equipment.objects.exists()  # a dry run writes nothing

    done = commit(client, job)
    assert done["state"] == "committed" and done["committed_at"]
    assert done["headline"] == "4 new, 0 changed, 0 unchanged"
    assert set(Equipment.objects.values_list("device_code", flat=True)) == {
        r["设备代码"] for r in rows
    }
    # A committed job is not committed twice.
    assert client.post(job["urls"]["commit"]).status_code == 400

    again = upload(client, rows, source="兴庆区特检所")
    second = dry_run(client, again)
    assert second["summary"]["unchanged"] == 4, second["summary"]
    assert commit(client, again)["headline"] == "0 new, 0 changed, 4 unchanged"
    assert Equipment.objects.count() == 4

    actions = list(
        AuditEntry.objects.filter(model="registry.ImportJob", object_pk=str(job["id"]))
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["import.uploaded", "import.validated", "import.committed"]


def test_the_mapping_is_saved_per_source_and_offered_next_time(users):
    client = client_of(users["xingqing"])
    rows = [device_row(1)]
    job = upload(client, rows, source="西门子台账")
    mapping = {k: v for k, v in MAPPING.items() if k != "address"}
    mapping["address"] = "维保单位名称"  # an odd choice the suggestion would never make
    dry_run(client, job, mapping=mapping, source_crs="gcj02")
    saved = SavedMapping.objects.get(source="西门子台账", dataset="equipment")
    assert saved.mapping == mapping and saved.source_crs == "gcj02"
    assert saved.agency == users["xingqing"].agency

    offered = upload(client, rows, source="西门子台账")
    assert offered["mapping"]["address"] == "维保单位名称"
    assert offered["source_crs"] == "gcj02"
    assert upload(client, rows, source="别的来源")["mapping"]["address"] == "设备使用地点"


# --------------------------------------------------------------------------- the report


def test_findings_are_paged_filtered_and_downloadable(users):
    client = client_of(users["xingqing"])
    rows = [device_row(n) for n in range(1, 61)]
    for n in range(0, 60, 2):  # 30 rows with an unknown variety: an error each
        rows[n]["设备品种代码"] = "9999"
    job = upload(client, rows)
    checked = dry_run(client, job)
    assert checked["state"] == "validated"
    assert checked["summary"]["errors"] == 30 and not checked["may_commit"]
    assert client.post(job["urls"]["commit"]).status_code == 400
    assert not Equipment.objects.exists()

    errors = client.get(job["urls"]["findings"], {"severity": "error"}).json()
    assert errors["count"] == 30 and len(errors["results"]) == 30
    first = errors["results"][0]
    # Row 2 is the first data row (the header is row 1), as in the user's spreadsheet.
    assert (first["row"], first["column"], first["value"]) == (2, "设备品种代码", "9999")
    assert first["message"] and first["rule"]
    everything = ImportFinding.objects.filter(job_id=job["id"]).count()
    page = client.get(job["urls"]["findings"], {"page": 1, "page_size": 20}).json()
    assert page["count"] == everything and len(page["results"]) == min(20, everything)
    assert client.get(job["urls"]["findings"], {"severity": "fatal"}).status_code == 400
    for bad in ({"page_size": 501}, {"page_size": "0"}, {"page": "x"}, {"page": "9" * 40}):
        refused = client.get(job["urls"]["findings"], bad)
        assert refused.status_code == 400 and set(refused.json()["errors"]) == set(bad), bad

    response = client.get(job["urls"]["report_csv"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens it as UTF-8
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert lines[0] == ["行 row", "列 column", "值 value", "级别 severity", "规则 rule",
                        "说明 message", "建议 suggestion"]  # fmt: skip
    assert len(lines) == 1 + everything
    assert sum(1 for line in lines[1:] if line[3] == "错误 error") == 30
    assert "filename*=utf-8''" in response["Content-Disposition"]

    response = client.get(job["urls"]["report_xlsx"])
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    findings, summary = book.worksheets
    assert findings.freeze_panes == "A2" and findings["A1"].font.b
    assert findings.max_row == 1 + everything
    assert {r[0].value: r[1].value for r in summary.iter_rows(min_row=2)}["错误 errors"] == 30
    downloads = AuditEntry.objects.filter(
        action="import.report_downloaded", object_pk=str(job["id"])
    )
    assert downloads.count() == 2


def test_a_formula_in_a_cell_is_plain_text_in_the_report(users):
    client = client_of(users["xingqing"])
    rows = [device_row(1)]
    rows[0]["设备品种代码"] = '=HYPERLINK("http://example.invalid","9999")'
    job = dry_run(client, upload(client, rows))
    value = ImportFinding.objects.get(job_id=job["id"], column="设备品种代码").value
    assert value.startswith("=HYPERLINK")  # the finding keeps what the file said

    body = b"".join(client.get(job["urls"]["report_csv"]).streaming_content)
    cells = [line[2] for line in csv.reader(io.StringIO(body.decode("utf-8-sig")))]
    assert "'" + value in cells and value not in cells
    response = client.get(job["urls"]["report_xlsx"])
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = [row[2].value for row in book.worksheets[0].iter_rows(min_row=2)]
    assert "'" + value in values and not any(v and str(v).startswith("=") for v in values)


def test_a_county_user_cannot_import_rows_of_another_county(users):
    client = client_of(users["xingqing"])
    rows = [device_row(1), device_row(2, XIXIA)]
    checked = dry_run(client, upload(client, rows))
    assert checked["summary"]["errors"] >= 1 and not checked["may_commit"]
    rows_with_errors = {
        f.row for f in ImportFinding.objects.filter(job_id=checked["id"], severity="error")
    }
    assert rows_with_errors == {3}  # the 西夏区 row, and only it
    assert not Equipment.objects.exists()


def test_commit_needs_a_clean_dry_run_with_the_same_mapping(users):
    client = client_of(users["xingqing"])
    job = upload(client, [device_row(1)])
    assert client.post(job["urls"]["commit"]).status_code == 400  # no dry run yet
    dry_run(client, job)
    changed = client.post(
        job["urls"]["mapping"],
        {"mapping": MAPPING, "source_crs": "gcj02"},
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["state"] == "uploaded"
    response = client.post(job["urls"]["commit"])
    assert response.status_code == 400 and "commit" in response.json()["errors"]
    assert not Equipment.objects.exists()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": {"variety": "设备品种代码"}, "source_crs": "wgs84"}, "mapping"),  # use unit
        ({"mapping": {**MAPPING, "variety": "没有这列"}, "source_crs": "wgs84"}, "mapping"),
        ({"mapping": {**MAPPING, "bogus": "设备代码"}, "source_crs": "wgs84"}, "mapping"),
        ({"mapping": MAPPING, "source_crs": "webmercator"}, "source_crs"),
        ({"mapping": MAPPING, "source_crs": "EPSG:9999"}, "source_crs"),
        ({"mapping": "设备代码", "source_crs": "wgs84"}, "mapping"),
    ],
)
def test_a_bad_mapping_is_a_400_naming_the_field(users, body, field):
    client = client_of(users["xingqing"])
    job = upload(client, [device_row(1)])
    response = client.post(job["urls"]["mapping"], body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_bad_uploads_are_400s(users):
    client = client_of(users["xingqing"])
    assert list(client.post(API, {"dataset": "equipment"}).json()["errors"]) == ["file"]
    empty = io.BytesIO(b"")
    empty.name = "empty.csv"
    assert list(client.post(API, {"file": empty}).json()["errors"]) == ["file"]
    response = client.post(API, {"file": csv_file([device_row(1)]), "dataset": "boilers"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["dataset"]
    assert not ImportJob.objects.exists()


# --------------------------------------------------------------------------- who sees what


def test_only_the_requester_sees_a_job(users):
    mine = upload(
        client_of(users["xingqing"]), [device_row(1), device_row(2, **{"设备品种代码": "9999"})]
    )
    dry_run(client_of(users["xingqing"]), mine)
    other = client_of(users["xixia"])
    for key in ("self", "findings", "report_csv", "report_xlsx"):
        assert other.get(mine["urls"][key]).status_code == 404, key
    for key in ("mapping", "validate", "commit"):
        assert other.post(mine["urls"][key]).status_code == 404, key
    assert other.get(f"/imports/{mine['id']}/").status_code == 404
    assert other.get(API).json() == []
    # Even the city above the county does not read a file a colleague uploaded.
    assert client_of(users["city"]).get(mine["urls"]["findings"]).status_code == 404


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INSPECTOR, Role.RESPONDER, Role.ENTERPRISE])
def test_only_supervisors_and_administrators_import(users, role):
    user = users["xingqing"]
    user.role = role
    user.save()
    client = client_of(user)
    assert client.post(API, {"file": csv_file([device_row(1)])}).status_code == 403
    assert client.get(API).status_code == 403
    assert client.get("/imports/").status_code == 403


def test_the_list_has_my_jobs_with_few_queries(users, django_assert_max_num_queries):
    client = client_of(users["xingqing"])
    for n in range(3):
        upload(client, [device_row(n + 1)])
    with django_assert_max_num_queries(6):
        listed = client.get(API).json()
    assert len(listed) == 3


# --------------------------------------------------------------------------- the worker


def test_a_failed_run_is_recorded_with_a_message(users, import_root):
    client = client_of(users["xingqing"])
    job = upload(client, [device_row(1)])
    client.post(job["urls"]["mapping"], {"mapping": MAPPING}, content_type="application/json")
    client.post(job["urls"]["validate"])
    for entry in import_root.iterdir():  # the stored file is gone before the worker runs
        for part in entry.iterdir():
            part.unlink()
    run_worker()
    failed = client.get(job["urls"]["self"]).json()
    assert failed["state"] == "failed" and "upload" in failed["error"].lower()
    assert not ImportFinding.objects.filter(job_id=job["id"]).exists()


def test_findings_are_stored_in_one_copy(users):
    """100,000 findings, each cut to its column's width (their speed is bench/imports.py's)."""
    from registry.importers.pipeline import ImportOutcome, RowFinding

    job = ImportJob.objects.create(requester=users["xingqing"], token="f" * 32, original_name="x")
    long_value = "码" * 300
    outcome = ImportOutcome(
        rows=100_000,
        findings=[
            RowFinding(
                n, "设备品种代码", long_value, "variety.unknown", "error", "未知品种 / unknown"
            )
            for n in range(100_000)
        ],
    )
    assert jobs.store_findings(job, outcome) == 100_000
    stored = ImportFinding.objects.filter(job=job)
    assert stored.count() == 100_000
    assert sorted(stored.values_list("row", flat=True)) == list(range(100_000))
    last = stored.get(row=99_999)
    assert (last.column, last.value, last.rule) == ("设备品种代码", "码" * 200, "variety.unknown")


# --------------------------------------------------------------------------- cleaning


def test_clean_imports_keeps_running_and_recent_uploads(users, import_root, settings):
    settings.IMPORT_KEEP_DAYS = 7
    client = client_of(users["xingqing"])
    keys = ["committed_old", "failed_recent", "running_old", "uploaded_old", "uploaded_new"]
    made = {key: upload(client, [device_row(n + 1)]) for n, key in enumerate(keys)}
    now = timezone.now()
    days = dt.timedelta(days=1)
    updates = {
        "committed_old": {"state": "committed", "committed_at": now - 2 * days},
        "failed_recent": {"state": "failed", "heartbeat_at": now - dt.timedelta(hours=2)},
        "running_old": {"state": "validating", "created_at": now - 30 * days, "heartbeat_at": now},
        "uploaded_old": {"created_at": now - 8 * days},
    }
    for key, fields in updates.items():
        ImportJob.objects.filter(pk=made[key]["id"]).update(**fields)
    orphan = import_root / ("0" * 32)
    orphan.mkdir()
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    fresh_orphan = import_root / ("1" * 32)  # an upload being recorded right now
    fresh_orphan.mkdir()

    call_command("clean_imports", stdout=io.StringIO())
    tokens = {key: ImportJob.objects.get(pk=made[key]["id"]).token for key in keys}
    present = {key for key, token in tokens.items() if (import_root / token).is_dir()}
    assert present == {"failed_recent", "running_old", "uploaded_new"}
    assert not orphan.exists() and fresh_orphan.exists()
    assert isinstance(import_root, Path)


def test_jobs_a_dead_worker_left_are_failed(users):
    client = client_of(users["xingqing"])
    stuck, lost, waiting = (upload(client, [device_row(n)]) for n in (1, 2, 3))
    for job in (lost, waiting):
        client.post(job["urls"]["mapping"], {"mapping": MAPPING}, content_type="application/json")
        assert client.post(job["urls"]["validate"]).status_code == 202
    hours_ago = timezone.now() - dt.timedelta(hours=2)
    ImportJob.objects.filter(pk=stuck["id"]).update(state="validating", heartbeat_at=hours_ago)
    DBTaskResult.objects.filter(id=ImportJob.objects.get(pk=lost["id"]).task_id).update(
        status="FAILED"
    )
    assert jobs.fail_abandoned_imports() == 2
    states = dict(ImportJob.objects.values_list("id", "state"))
    assert (states[stuck["id"]], states[lost["id"]], states[waiting["id"]]) == (
        "failed",
        "failed",
        "queued",
    )
    assert "run it again" in client.get(stuck["urls"]["self"]).json()["error"]
    assert "lost this import" in client.get(lost["urls"]["self"]).json()["error"]
    # A failed job may be run again.
    assert client.post(stuck["urls"]["validate"]).status_code == 202


def test_a_cancelled_dry_run_is_never_run_and_may_be_run_again(users):
    user = users["xingqing"]
    client = client_of(user)
    job = upload(client, [device_row(1)])
    client.post(job["urls"]["mapping"], {"mapping": MAPPING}, content_type="application/json")
    assert client.post(job["urls"]["validate"]).status_code == 202
    assert jobs.cancel_import(ImportJob.objects.get(pk=job["id"]), acting_user=user)
    run_worker()
    cancelled = client.get(job["urls"]["self"]).json()
    assert cancelled["state"] == "cancelled" and not cancelled["summary"]
    assert not ImportFinding.objects.filter(job_id=job["id"]).exists()
    assert AuditEntry.objects.filter(action="import.cancelled", object_pk=str(job["id"])).exists()
    assert dry_run(client, job)["state"] == "validated"


@pytest.fixture
def regions_after_flush(transactional_db):
    # An earlier transactional test flushed the tables the session loaded once.
    load_test_regions()


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_where_the_page_sees_it(regions_after_flush, users):
    """From the writer's own connection: committed at once, throttled, the last report kept."""
    job = ImportJob.objects.create(
        requester=users["xingqing"], token="e" * 32, original_name="x", state="validating"
    )
    writer = ProgressWriter(job)
    writer(5_000, 20_000)
    for done in range(5_001, 15_000):  # within the throttle: dropped but the last
        writer(done, 20_000)
    writer.close()
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (14_999, 20_000) and job.heartbeat_at


# --------------------------------------------------------------------------- the pages


def test_the_upload_page_stores_the_file_and_opens_its_job(users):
    client = client_of(users["xingqing"])
    page = client.get("/imports/")
    assert page.status_code == 200 and 'name="file"' in page.content.decode()
    refused = client.post("/imports/", {"dataset": "equipment"})
    assert refused.status_code == 400 and "请选择文件" in refused.content.decode()
    response = client.post("/imports/", {"file": csv_file([device_row(1)]), "source": "台账"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    html = client.get(response["Location"]).content.decode()
    assert '<option value="设备品种代码" selected>' in html
    assert "高德" in html and "BD-09" in html
    listed = client.get("/imports/").content.decode()
    assert "设备台账.csv" in listed and f"/imports/{job.pk}/" in listed


def test_a_gis_layer_reports_its_crs(users, tmp_path):
    path = write_layer(tmp_path / "设备.gpkg", "GPKG", crs="EPSG:4490")
    with path.open("rb") as data:
        response = client_of(users["xingqing"]).post(API, {"file": data, "dataset": "equipment"})
    assert response.status_code == 201, response.content.decode()
    job = response.json()
    assert (job["format"], job["layer_crs"], job["source_crs"]) == ("gpkg", "EPSG:4490", "cgcs2000")
    assert job["columns"] == ["name", "seq"]
