"""Import jobs bounded and watched (issue 17): uploads and runs per user, rows per file, and a
dry run or commit whose worker stopped failed a few heartbeats later, not half an hour later.
The heartbeat column is written into the past to move time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from registry.importers import jobs
from registry.models import Equipment
from registry.models.imports import ImportFinding, ImportJob
from tests.registry.importers.equipment_rows import MAPPING, csv_file, device_row

pytestmark = pytest.mark.django_db

API = "/api/imports/"


@pytest.fixture
def client(users) -> Client:
    client = Client()
    client.force_login(users["xingqing"])
    return client


def upload(client: Client, rows: int = 1):
    return client.post(
        API, {"file": csv_file([device_row(k) for k in range(rows)]), "dataset": "equipment"}
    )


def uploaded(client: Client, rows: int = 1) -> dict:
    response = upload(client, rows)
    assert response.status_code == 201, response.content.decode()
    job = response.json()
    mapped = client.post(
        job["urls"]["mapping"], {"mapping": MAPPING}, content_type="application/json"
    )
    assert mapped.status_code == 200, mapped.content.decode()
    return job


def run_worker() -> None:
    """The queued tasks as django-tasks-db's worker runs them, inside the test's transaction."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
                    startup_delay=False, max_tasks=None, worker_id="pytest",
                    excluded_queue_names=[])  # fmt: skip
    while (task := DBTaskResult.objects.ready().get_locked()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)


def refused(response, field: str) -> dict:
    assert response.status_code == 429, response.content.decode()
    [problem] = response.json()["errors"][field]
    return problem


# --------------------------------------------------------------------------- limits


def test_uploads_past_the_open_limit_are_refused_and_nothing_is_stored(
    client, settings, import_root
):
    settings.IMPORT_MAX_OPEN_UPLOADS = 2
    first, _ = uploaded(client), uploaded(client)
    stored = sorted(import_root.iterdir())
    problem = refused(upload(client), "file")
    assert problem["rule"] == "limit.open_uploads" and "2" in problem["message"]
    assert ImportJob.objects.count() == 2 and sorted(import_root.iterdir()) == stored
    # An upload that ended (here: failed) no longer holds a place.
    ImportJob.objects.filter(pk=first["id"]).update(state=ImportJob.State.FAILED)
    assert upload(client).status_code == 201


def test_uploads_older_than_their_files_do_not_count(client, settings):
    settings.IMPORT_MAX_OPEN_UPLOADS = 1
    old = uploaded(client)
    kept = timezone.now() - dt.timedelta(days=settings.IMPORT_KEEP_DAYS, hours=1)
    ImportJob.objects.filter(pk=old["id"]).update(created_at=kept)
    assert upload(client).status_code == 201


def test_runs_past_the_active_limit_are_refused_and_not_queued(client, settings):
    settings.IMPORT_MAX_ACTIVE_RUNS = 1
    first, second = uploaded(client), uploaded(client)
    assert client.post(first["urls"]["validate"]).status_code == 202  # queued: no worker yet
    problem = refused(client.post(second["urls"]["validate"]), "job")
    assert problem["rule"] == "limit.active_runs" and "1" in problem["message"]
    assert ImportJob.objects.get(pk=second["id"]).state == ImportJob.State.UPLOADED
    run_worker()  # the first ends: the second may go
    assert client.post(second["urls"]["validate"]).status_code == 202


def test_the_limit_is_checked_by_the_service_too(users, settings):
    settings.IMPORT_MAX_OPEN_UPLOADS = 0
    with pytest.raises(jobs.LimitReached) as error:
        jobs.create_job(users["xingqing"], csv_file([device_row(1)]), "a.csv")
    assert error.value.status == 429
    assert error.value.as_dict()["file"][0]["rule"] == "limit.open_uploads"


@pytest.mark.parametrize(("rows", "limit", "state"), [(3, 2, "failed"), (3, 3, "validated")])
def test_a_file_past_the_row_limit_fails_its_dry_run_naming_it(
    client, settings, rows, limit, state
):
    settings.IMPORT_MAX_ROWS = limit
    job = uploaded(client, rows)
    assert client.post(job["urls"]["validate"]).status_code == 202
    run_worker()
    done = ImportJob.objects.get(pk=job["id"])
    assert done.state == state, done.error
    if state == "failed":
        assert f"{limit} 行" in done.error and f"more than {limit} rows" in done.error
        assert not ImportFinding.objects.filter(job=done).exists()
    assert not Equipment.objects.exists()  # a dry run writes nothing either way


# --------------------------------------------------------------------------- a stopped worker


def silent_job(user, *, beats_ago: float, state: str = "committing") -> ImportJob:
    """A run a worker on another host holds (its process cannot be looked up from here)."""
    token = f"{ImportJob.objects.count() + 1:032x}"
    return ImportJob.objects.create(
        requester=user, token=token, original_name="a.csv", state=state, worker="other-host:7",
        started_at=timezone.now() - (beats_ago + 1) * settings.JOB_HEARTBEAT,
        heartbeat_at=timezone.now() - beats_ago * settings.JOB_HEARTBEAT,
    )  # fmt: skip


def test_a_commit_whose_worker_went_silent_fails_when_its_user_reads_their_jobs(users):
    user = users["xingqing"]
    dead, alive = silent_job(user, beats_ago=5), silent_job(user, beats_ago=1)
    theirs = silent_job(users["xixia"], beats_ago=5)
    assert jobs.fail_abandoned_imports(requester=user) == 1
    dead.refresh_from_db()
    assert (dead.state, dead.error) == ("failed", jobs.ABANDONED)
    assert ImportJob.objects.get(pk=alive.pk).state == "committing"
    assert ImportJob.objects.get(pk=theirs.pk).state == "committing"  # theirs to read


def test_the_next_run_fails_a_silent_one_before_it_starts(client, users):
    dead = silent_job(users["xixia"], beats_ago=5, state="validating")
    job = uploaded(client)
    assert client.post(job["urls"]["validate"]).status_code == 202
    run_worker()
    assert ImportJob.objects.get(pk=dead.pk).state == "failed"
    assert ImportJob.objects.get(pk=job["id"]).state == "validated"
