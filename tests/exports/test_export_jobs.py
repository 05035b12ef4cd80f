"""The export page and its background jobs (exports/views.py, exports/jobs.py).

Jobs run in django-tasks-db's own worker (`db_worker --batch`, in this process), or in a real
worker process killed mid-export. Counts are compared with the map's count endpoint, files are
opened again by pyogrio, and the requester is the only one who sees or downloads a job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import math
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import pyogrio
import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from accounts.models import AuditEntry
from common.jobs import ProgressWriter
from exports import core
from exports.core import TEMP_PREFIX
from exports.jobs import cancel_export, clean_exports, request_export
from exports.models import ExportJob
from registry.management.commands.run_worker import ReconnectingWorker
from registry.models import Accident, Equipment, UnitRole
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
PAGE = "/export/"
ESTIMATE = "/export/estimate"
BASE = {"layer": "equipment", "format": "gpkg", "crs": "wgs84"}
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
WORKER_APP = "segis-test-worker"  # the worker process's connections, by their application_name


# --------------------------------------------------------------------------- data and helpers


def near(code: str, k: int, spread: float = 0.003) -> Point:
    centre = inside(code)
    return Point(centre.x + spread * math.cos(k), centre.y + spread * math.sin(k), srid=4326)


@pytest.fixture
def export_root(settings, tmp_path) -> Path:
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings.EXPORT_ROOT


@pytest.fixture
def registry(make_unit, make_equipment):
    """Elevators and cranes in 兴庆区 (mine) and 西夏区 (theirs), maintenance units, accidents."""
    keeper = make_unit(XINGQING, roles=(UnitRole.MAINTENANCE,), name="兴庆电梯维保有限公司")
    mine = [make_equipment(XINGQING, "3110", location=near(XINGQING, k)) for k in range(5)]
    mine += [make_equipment(XINGQING, "4110", location=near(XINGQING, 10 + k)) for k in range(3)]
    theirs = [make_equipment(XIXIA, "3110", location=near(XIXIA, k)) for k in range(4)]
    make_unit(XIXIA, roles=(UnitRole.MAINTENANCE,))
    for k, device in enumerate([mine[0], mine[5], theirs[0]]):
        Accident.objects.create(
            occurred_at=timezone.now() - dt.timedelta(days=2 + k),
            location=device.location,
            region_id=device.region_id,
            kind="困人",
            equipment=device,
        )
    return {"mine": mine, "theirs": theirs, "keeper": keeper}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_worker() -> None:
    """Every queued task as django-tasks-db's worker runs it (claim, run, record the outcome),
    without the worker's loop, which closes "old" connections between tasks: here, the one that
    holds the test's transaction. test_the_worker_command_runs_a_queued_export runs the loop."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id="pytest",
                    excluded_queue_names=[])  # fmt: skip
    while (task := DBTaskResult.objects.ready().get_locked()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)


def queue(user, **fields) -> ExportJob:
    """Submit the export page's form asking for the background; the job it recorded."""
    response = client_of(user).post(PAGE, {**BASE, "background": "1", **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ExportJob.objects.get(pk=int(response["Location"].rsplit("#job-", 1)[1]))
    assert job.state == ExportJob.State.QUEUED and job.task_id
    return job


def parameters(**fields) -> dict:
    """Stored parameters, as the page's form submits them."""
    return {"layer": "equipment", "format": "gpkg", "crs": "wgs84", "region": None, "bbox": None,
            "polygon": None, "filters": {}, **fields}  # fmt: skip


def features_in(path: Path) -> int:
    return sum(pyogrio.read_info(path, layer=name)["features"] for name, _ in pyogrio.list_layers(path)
               if name not in ("field_dictionary", "export_summary"))  # fmt: skip


# --------------------------------------------------------------------------- the estimate


@pytest.mark.parametrize(
    ("layer", "query"),
    [
        ("equipment", ""),
        ("equipment", "kind=3000"),
        ("equipment", "kind=4000&status=in_use"),
        ("overdue", ""),
        ("units", "role=maintenance"),
        ("accidents", "window=30d"),
        ("resources", ""),
    ],
)
def test_the_estimate_is_the_maps_count(users, registry, layer, query):
    client = client_of(users["city"])
    count = client.get(f"/tiles/{layer}/count?{query}")
    estimate = client.get(f"{ESTIMATE}?layer={layer}&{query}")
    assert count.status_code == estimate.status_code == 200, estimate.content
    assert estimate.json()["rows"] == count.json()["count"]


def test_without_javascript_the_estimate_is_a_round_trip(users, registry, export_root):
    response = client_of(users["xingqing"]).post(
        PAGE, {**BASE, "kind": "4000", "action": "estimate"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "3 行" in body and "兴庆区_特种设备_" in body
    assert not ExportJob.objects.exists()


def test_the_estimate_of_a_box_is_the_maps_count_in_that_box(users, registry):
    centre = inside(XINGQING)
    box = f"{centre.x - 0.0025},{centre.y - 0.0025},{centre.x + 0.0035},{centre.y + 0.0035}"
    client = client_of(users["xingqing"])
    count = client.get(f"/tiles/equipment/count?bbox={box}").json()["count"]
    estimate = client.get(f"{ESTIMATE}?layer=equipment&bbox={box}").json()
    assert 0 < estimate["rows"] == count < 8


def test_the_estimate_names_the_file_and_says_where_it_runs(users, registry, settings):
    settings.EXPORT_DIRECT_MAX_ROWS = 8
    client = client_of(users["xingqing"])
    small = client.get(f"{ESTIMATE}?layer=equipment&kind=4000&crs=gk35").json()
    assert small["rows"] == 3 and not small["background"]
    assert small["file_name"].startswith("兴庆区_特种设备_")
    assert small["file_name"].endswith("_CGCS2000-GK35.gpkg")
    assert small["bytes"] > 0 and small["seconds"] > 0
    large = client.get(f"{ESTIMATE}?layer=equipment").json()
    assert large["rows"] == 8 and large["background"]


def test_a_wkt_polygon_counts_like_its_geojson(users, registry):
    c = inside(XINGQING)
    corners = [(c.x - 0.01, c.y - 0.01), (c.x + 0.01, c.y - 0.01), (c.x, c.y + 0.01)]
    ring = [*corners, corners[0]]
    wkt = "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    geojson = '{"type": "Polygon", "coordinates": [[' + ", ".join(f"[{x}, {y}]" for x, y in ring)
    geojson += "]]}"
    client = client_of(users["xingqing"])
    answers = [
        client.post(ESTIMATE, {"layer": "equipment", "polygon": text}).json()["rows"]
        for text in (wkt, geojson)
    ]
    expected = Equipment.objects.filter(location__intersects=f"SRID=4326;{wkt}").count()
    assert answers == [expected, expected] and expected > 0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"layer": "boilers"}, "layer", "unknown layer"),
        ({"layer": ""}, "layer", "choose a layer"),
        ({"format": "docx"}, "format", "unknown format"),
        ({"crs": "EPSG:2385"}, "crs", "unsupported coordinate system"),
        ({"crs": "+proj=longlat"}, "crs", "unsupported coordinate system"),
        ({"format": "kml", "crs": "gk35"}, "crs", "WGS84"),
        ({"bbox": "106,38,105,39"}, "bbox", "inverted"),
        ({"polygon": '{"type": "Point", "coordinates": [106, 38]}'}, "polygon", "Polygon"),
        ({"polygon": "POLYGON ((106 38, 107 39, 107 38, 106 39, 106 38))"}, "polygon", "invalid"),
        ({"polygon": "not a shape"}, "polygon", "GeoJSON or WKT"),
        ({"kind": "9999"}, "kind", "not a kind code"),
        ({"knd": "3000"}, "knd", "unknown parameter"),
        ({"region": "640105"}, "region", "outside your jurisdiction"),
        ({"region": "abc"}, "region", "division-code prefix"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    users, registry, export_root, fields, field, message
):
    client = client_of(users["xingqing"])
    estimate = client.get(f"{ESTIMATE}?{urlencode({**BASE, **fields})}")
    assert estimate.status_code == 400
    assert message in estimate.json()["errors"][field][0]["message"]
    page = client.post(PAGE, {**BASE, **fields})
    assert page.status_code == 400
    body = page.content.decode()
    shown = body[body.index(f'data-error-for="{field}"') :][:600]
    assert message in shown.replace("&#x27;", "'")
    assert not ExportJob.objects.exists()
    assert not export_root.exists() or not any(export_root.iterdir())


def test_an_xlsx_longer_than_excel_takes_is_refused_before_it_starts(
    users, registry, export_root, monkeypatch
):
    monkeypatch.setattr(core, "XLSX_MAX_ROWS", 5)  # Excel's 1,048,576 rows, scaled to the test
    response = client_of(users["xingqing"]).post(PAGE, {**BASE, "format": "xlsx"})
    assert response.status_code == 400
    assert "XLSX holds at most 4 rows, this export has 8" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_every_problem_is_named_at_once(users, registry):
    fields = {"layer": "equipment", "format": "doc", "crs": "xyz", "kind": "1", "bbox": "x"}
    errors = client_of(users["xingqing"]).get(f"{ESTIMATE}?{urlencode(fields)}").json()["errors"]
    assert set(errors) == {"format", "crs", "kind", "bbox"}


def test_a_county_cannot_export_another_countys_region(users, registry, export_root):
    """Neither as the area nor as the map's region filter of the region statistics."""
    client = client_of(users["xingqing"])
    for layer in ("equipment", "regions"):
        response = client.post(PAGE, {**BASE, "layer": layer, "region": XIXIA})
        assert response.status_code == 400
        assert "640105 不在您的辖区内 / outside your jurisdiction" in response.content.decode()
    assert not ExportJob.objects.exists()
    # The city above both counties may.
    city = client_of(users["city"]).get(f"{ESTIMATE}?layer=equipment&region={XIXIA}")
    assert city.json()["rows"] == 4


# --------------------------------------------------------------------------- the two paths


def test_a_small_export_downloads_at_once(users, registry, export_root):
    response = client_of(users["xingqing"]).post(PAGE, {**BASE, "kind": "3000"})
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="640104_equipment_')
    name = unquote(disposition.split("filename*=UTF-8''")[1])
    assert name.startswith("兴庆区_特种设备_") and name.endswith("_WGS84.gpkg")
    job = ExportJob.objects.get()
    assert (job.state, job.file_name, job.rows_done, job.rows_total) == ("done", name, 5, 5)
    assert not job.task_id  # it never went to the queue
    path = export_root / job.file_path
    assert b"".join(response.streaming_content) == path.read_bytes()
    assert features_in(path) == 5


def test_a_background_job_runs_to_done_in_the_worker(users, registry, export_root, tmp_path):
    user = users["xingqing"]
    job = queue(user, layer="equipment", format="gpkg", crs="gk35", kind="3000,4000")
    expected = Equipment.objects.filter(region_id=XINGQING).count()
    assert job.estimate == expected == 8
    run_worker()
    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE, job.error
    assert job.rows_done == job.rows_total == job.estimate
    assert job.expires_at - job.finished_at == settings.EXPORT_EXPIRES_AFTER
    assert DBTaskResult.objects.get(id=job.task_id).status == "SUCCESSFUL"
    path = export_root / job.file_path
    assert features_in(path) == expected
    # CGCS2000 / 3-degree Gauss-Kruger zone 35 (EPSG's list: zone 25 is 4513).
    assert pyogrio.read_info(path, layer="equipment")["crs"] == "EPSG:4523"

    client = client_of(user)
    status = client.get(reverse("export-job", args=[job.pk])).json()
    assert (status["state"], status["done"], status["total"]) == ("done", 8, 8)
    assert status["download_url"] == reverse("export-download", args=[job.pk])
    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/geopackage+sqlite3"
    assert f"filename*=UTF-8''{quote(job.file_name)}" in download["Content-Disposition"]
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(b"".join(download.streaming_content))
    assert features_in(copy) == expected


def test_the_maps_link_fills_the_form(users, registry):
    """The map's "Export" link passes its first layer, that layer's filters and its view."""
    query = "layer=units&role=maintenance&region=640104&bbox=106.1,38.3,106.5,38.6"
    page = client_of(users["city"]).get(f"{PAGE}?{query}").content.decode()
    assert '<option value="units" selected>' in page
    assert '<option value="maintenance" selected>' in page
    assert 'value="640104" class="level-county" selected' in page
    assert 'value="106.1,38.3,106.5,38.6"' in page


def test_the_page_shows_the_job_and_its_progress(users, registry, export_root):
    user = users["xingqing"]
    job = queue(user, layer="units")
    page = client_of(user).get(PAGE).content.decode()
    assert f'id="job-{job.pk}"' in page and 'data-state="queued"' in page
    run_worker()
    page = client_of(user).get(PAGE).content.decode()
    assert 'data-state="done"' in page and f"/export/jobs/{job.pk}/download" in page


def test_progress_is_seen_while_the_export_holds_its_transaction(live_regions, users):
    """The writer commits on a connection of its own: another reader sees the progress while
    the export's long transaction is still open."""
    job = ExportJob.objects.create(
        requester=users["xingqing"], parameters={}, estimate=10, state=ExportJob.State.RUNNING
    )
    writer = ProgressWriter(job)
    with transaction.atomic():
        assert ExportJob.objects.get(pk=job.pk).rows_done == 0
        writer(4, 10)
        writer.close()
        with ThreadPoolExecutor(1) as reader:
            seen = reader.submit(_read_progress, job.pk).result()
    assert seen == (4, 10)


def _read_progress(pk: int) -> tuple[int, int]:
    try:
        job = ExportJob.objects.get(pk=pk)
        return job.rows_done, job.rows_total
    finally:
        connections.close_all()


def test_every_request_is_audited(users, registry, export_root):
    queue(users["xingqing"], layer="accidents", region=XINGQING)
    entry = AuditEntry.objects.get(action="export.requested")
    assert entry.actor == users["xingqing"] and entry.region_code == XINGQING
    assert entry.after["parameters"]["layer"] == "accidents"


def test_a_user_has_a_few_jobs_at_a_time(users, registry, export_root, settings):
    settings.EXPORT_MAX_ACTIVE_JOBS = 2
    queue(users["xingqing"])
    queue(users["xingqing"])
    response = client_of(users["xingqing"]).post(PAGE, {**BASE, "background": "1"})
    assert response.status_code == 400 and "2 of your exports are still running" in (
        response.content.decode()
    )
    assert ExportJob.objects.count() == 2


# --------------------------------------------------------------------------- only the requester


@pytest.mark.parametrize("other", ["xixia", "national", "city"])
def test_only_the_requester_sees_and_downloads_a_job(users, registry, export_root, other):
    job = queue(users["xingqing"])
    run_worker()
    mine = client_of(users["xingqing"])
    assert mine.get(reverse("export-download", args=[job.pk])).status_code == 200
    theirs = client_of(users[other])
    for name in ("export-job", "export-download"):
        assert theirs.get(reverse(name, args=[job.pk])).status_code == 404
    assert f"job-{job.pk}" not in theirs.get(PAGE).content.decode()


def test_anonymous_is_sent_to_log_in(users, registry, export_root):
    job = queue(users["xingqing"])
    for url in (
        PAGE,
        reverse("export-job", args=[job.pk]),
        reverse("export-download", args=[job.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Client().get(ESTIMATE + "?layer=equipment").status_code == 403


# --------------------------------------------------------------------------- expiry and failure


def test_an_expired_download_is_gone(users, registry, export_root):
    user = users["xingqing"]
    job = queue(user)
    run_worker()
    job.refresh_from_db()
    path = export_root / job.file_path
    assert path.exists()
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client_of(user).get(reverse("export-download", args=[job.pk]))
    assert response.status_code == 410
    assert "下载已过期" in response.content.decode()
    assert not path.exists() and not (export_root / str(job.pk)).exists()
    job.refresh_from_db()
    assert job.state == ExportJob.State.EXPIRED


def test_clean_exports_removes_expired_files_without_a_visit(users, registry, export_root):
    job = queue(users["xingqing"])
    run_worker()
    job.refresh_from_db()
    assert (export_root / job.file_path).exists()
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now())
    out = io.StringIO()
    call_command("clean_exports", stdout=out)
    assert out.getvalue().startswith("1 expired, 0 abandoned")
    assert not (export_root / str(job.pk)).exists()
    assert ExportJob.objects.get(pk=job.pk).state == ExportJob.State.EXPIRED


def test_a_job_that_cannot_run_any_more_fails_with_its_reason(users, registry, export_root):
    """Queued for 兴庆区, then the requester moved to 西夏区: the job is checked again when it
    runs, and says why it stopped, on its status, its page and its link."""
    user = users["xingqing"]
    job = queue(user, region=XINGQING)
    user.agency = user.agency.__class__.objects.get(region_id=XIXIA)
    user.save()
    run_worker()
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED
    assert job.error == "region: 640104 不在您的辖区内 / outside your jurisdiction (640105)"
    client = client_of(user)
    assert client.get(reverse("export-job", args=[job.pk])).json()["error"] == job.error
    download = client.get(reverse("export-download", args=[job.pk]))
    assert download.status_code == 409 and "导出失败" in download.content.decode()
    assert "640104 不在您的辖区内" in client.get(PAGE).content.decode()
    assert not (export_root / str(job.pk)).exists()


def test_an_unexpected_failure_is_recorded_not_swallowed(users, registry, export_root):
    job = queue(users["xingqing"])
    export_root.parent.mkdir(parents=True, exist_ok=True)
    export_root.write_text("a file where the export directory should be")
    run_worker()
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED
    assert "the export failed (NotADirectoryError)" in job.error  # mkdir under a file
    assert str(export_root) not in job.error  # a server path is for the log, not the user


def test_a_job_the_queue_lost_is_failed(users, registry, export_root):
    job = queue(users["xingqing"])
    DBTaskResult.objects.filter(id=job.task_id).update(status="FAILED")
    assert clean_exports()["abandoned"] == 1
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and "lost this export" in job.error


def test_a_cancelled_export_is_never_run(users, registry, export_root):
    user = users["xingqing"]
    job = queue(user, region=XINGQING)
    assert cancel_export(job, acting_user=user)
    assert not user.export_jobs.active().exists()  # it no longer counts against the limit
    run_worker()
    job.refresh_from_db()
    assert job.state == ExportJob.State.CANCELLED and not job.file_path
    assert not (export_root / str(job.pk)).exists()
    assert DBTaskResult.objects.get(id=job.task_id).status == "SUCCESSFUL"  # it found nothing to do
    entry = AuditEntry.objects.get(action="export.cancelled")
    assert entry.actor == user and entry.region_code == XINGQING
    assert not cancel_export(job, acting_user=user)  # it had ended


# --------------------------------------------------------------------------- a killed worker


@pytest.fixture
def live_regions(transactional_db):
    """Committed data for another process: transactional tests empty the tables they used."""
    load_test_regions()


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgis://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_worker_command_runs_a_queued_export(live_regions, users, make_equipment,
                                                 export_root):  # fmt: skip
    """`manage.py db_worker --batch`, the worker of the demo and of production, in this process."""
    for k in range(3):
        make_equipment(XINGQING, "3110", location=near(XINGQING, k))
    job = request_export(users["xingqing"], parameters(format="csv"), background=True)
    handlers = {number: signal.getsignal(number) for number in WORKER_SIGNALS}
    try:  # the worker installs handlers for a long life; the test runner's come back after
        call_command("db_worker", batch=True, reload=False, startup_delay=False, interval=0,
                     verbosity=0)  # fmt: skip
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 3, 3), job.error
    assert job.file_name.endswith("_WGS84.csv")
    rows = (export_root / job.file_path).read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 1 + 3


@contextlib.contextmanager
def worker_inside_an_export(job: ExportJob, export_root: Path):
    """A real worker process (`manage.py run_worker --batch`, the demo's and production's worker,
    logging at verbosity 1 to its stderr) caught inside export_layer, its scratch directory open
    and its read of the table waiting on the test's lock; yields the process, and ends it if the
    test did not."""
    env = {**os.environ, "DATABASE_URL": _database_url(), "EXPORT_ROOT": str(export_root),
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "PGAPPNAME": WORKER_APP}  # fmt: skip
    scratch = export_root / str(job.pk) / "scratch"
    with transaction.atomic():
        # The accident rows join the equipment table only when they are read, after export_layer
        # made its scratch directory: holding that table keeps the worker there.
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE registry_equipment IN ACCESS EXCLUSIVE MODE")
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--batch", "--no-reload",
             "--no-startup-delay", "--verbosity", "1"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _wait_for(
                lambda: worker.poll() is None and any(scratch.glob(f"{TEMP_PREFIX}*")),
                what="the worker's scratch directory",
            )
            # The directory comes before the writer's imports: the worker is inside the export
            # for sure once its read waits on the lock (pg_locks is read live, unlike
            # pg_stat_activity, which a transaction reads once).
            _wait_for(_waiting_on_equipment, what="the worker's read of the locked table")
            running = ExportJob.objects.get(pk=job.pk)
            assert running.state == "running" and running.worker.endswith(f":{worker.pid}")
            yield worker
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.communicate(timeout=30)
            with connection.cursor() as cursor:  # a dead client's server process goes too
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = %s",
                    [WORKER_APP],
                )


def _waiting_on_equipment() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted AND relation = "
            "'registry_equipment'::regclass)"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def accident_export(live_regions, users, make_equipment) -> ExportJob:
    device = make_equipment(XINGQING, "3110", location=near(XINGQING, 1))
    Accident.objects.create(occurred_at=timezone.now(), location=device.location,
                            region_id=XINGQING, kind="困人", equipment=device)  # fmt: skip
    return request_export(users["xingqing"], parameters(layer="accidents"), background=True)


def test_a_killed_worker_leaves_a_failed_job_and_no_files(accident_export, export_root):
    """SIGKILL: nothing runs after it. clean_exports then fails the job and removes every file."""
    job = accident_export
    with worker_inside_an_export(job, export_root) as worker:
        worker.kill()
        worker.wait(timeout=30)
    assert ExportJob.objects.get(pk=job.pk).state == "running"  # nobody told it otherwise
    assert any((export_root / str(job.pk) / "scratch").glob(f"{TEMP_PREFIX}*"))

    assert clean_exports()["abandoned"] == 1
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and "killed or crashed" in job.error
    assert not (export_root / str(job.pk)).exists()


def _read_until(process: subprocess.Popen, text: bytes, timeout: float = 60) -> bytes:
    """What the process wrote to its stderr up to and including `text`."""
    deadline, seen = time.monotonic() + timeout, b""
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {text!r} in {seen.decode()!r}"
        if select.select([process.stderr], [], [], left)[0]:
            chunk = os.read(process.stderr.fileno(), 4096)
            assert chunk, f"the process ended before writing {text!r}: {seen.decode()!r}"
            seen += chunk
    return seen


def test_a_worker_told_twice_to_stop_fails_its_job_itself(accident_export, export_root):
    """How `./segis demo` stops its worker: a first TERM lets the export finish, a second ends it;
    the worker records the job as failed and removes its files on its way out."""
    job = accident_export
    with worker_inside_an_export(job, export_root) as worker:
        worker.terminate()
        # The worker's handler logs the first signal: only then may the second come (two signals
        # before the handler runs would be handled once).
        before = _read_until(worker, b"shutting down gracefully")
        assert worker.poll() is None  # still in the export
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
        # The queue records the task's SystemExit as its failure and the worker leaves as asked.
        assert worker.returncode == 0, (before + errors).decode()
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and "stopped before it ended" in job.error
    assert not (export_root / str(job.pk)).exists()
    assert DBTaskResult.objects.get(id=job.task_id).status == "FAILED"


class _SecondStop(logging.Handler):
    """Sends the operator's second TERM the moment the worker's line about the first is written:
    CPython then runs the worker's handler again inside the one still running."""

    def __init__(self):
        super().__init__()
        self.sent, self.lines = False, []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if "shutting down gracefully" in record.getMessage() and not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGTERM)


def test_a_second_stop_sent_as_the_first_is_logged_ends_the_task():
    """The race the subprocess test above runs into under load, made certain: the second TERM
    lands inside the first one's handler, after its line and before anything else."""
    worker = ReconnectingWorker(queue_names=["default"], interval=0, batch=True,
                                backend_name="default", startup_delay=False, max_tasks=None,
                                worker_id="stop-test", excluded_queue_names=[])  # fmt: skip
    worker.running_task = True  # inside a task
    second = _SecondStop()
    tasks_logger = logging.getLogger("django_tasks_db")
    handlers = {number: signal.getsignal(number) for number in WORKER_SIGNALS}
    tasks_logger.addHandler(second)
    try:
        worker.configure_signals()
        with pytest.raises(SystemExit) as stopped:
            signal.raise_signal(signal.SIGTERM)
    finally:
        tasks_logger.removeHandler(second)
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert stopped.value.code == 1 and second.sent
    assert "terminating current task" in second.lines[-1], second.lines
