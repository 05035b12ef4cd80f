"""The job kernel (common/jobs.py) on real PostGIS: enqueue with the transaction, claim by one worker
of several, throttled progress, cancel, and the sweep of jobs nothing will finish.

The kernel is exercised through the project's two job models: ExportJob (one running state) and
ImportJob (two: a dry run validates, a commit commits).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.apps import apps
from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from common import jobs
from common.jobs import JobState
from exports.jobs import export_in_background
from exports.models import ExportJob
from registry.models.imports import ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(db) -> User:
    return User.objects.create_user("kernel-test", password="pw-for-tests")


def export_job(requester: User, **fields) -> ExportJob:
    return ExportJob.objects.create(requester=requester, parameters={}, estimate=0, **fields)


def import_job(requester: User, **fields) -> ImportJob:
    token = f"{ImportJob.objects.count() + 1:032x}"
    return ImportJob.objects.create(requester=requester, token=token, original_name="x", **fields)


def wait_for(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# --------------------------------------------------------------------------- one vocabulary


def test_every_job_model_stores_the_kernels_states():
    models = [m for m in apps.get_models() if issubclass(m, jobs.Job)]
    assert {ExportJob, ImportJob} <= set(models)
    for model in models:
        stored = {value for value, _ in model._meta.get_field("state").choices}
        kernel = {JobState.QUEUED, JobState.FAILED, JobState.CANCELLED, *model.RUNNING_STATES}
        assert kernel <= stored, model
        assert model._meta.get_field("state").max_length >= max(map(len, stored))


# --------------------------------------------------------------------------- enqueue


class Rollback(Exception):
    pass


def test_the_task_is_queued_with_the_job_or_not_at_all(requester):
    job = export_job(requester, state=JobState.FAILED, error="earlier")
    with pytest.raises(Rollback), transaction.atomic():
        jobs.enqueue(job, export_in_background, job.pk)
        assert DBTaskResult.objects.filter(id=job.task_id).exists()
        raise Rollback
    assert not DBTaskResult.objects.exists()
    assert ExportJob.objects.get(pk=job.pk).state == JobState.FAILED

    jobs.enqueue(job, export_in_background, job.pk)
    job.refresh_from_db()
    assert (job.state, job.error, job.worker) == (JobState.QUEUED, "", "")
    assert job.heartbeat_at is not None
    task = DBTaskResult.objects.get(id=job.task_id)
    assert task.status == TaskResultStatus.READY and task.args_kwargs["args"] == [job.pk]


def test_a_queue_outside_the_database_gets_the_task_after_the_commit(
    requester, django_capture_on_commit_callbacks
):
    job = export_job(requester)
    dummy = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with override_settings(TASKS=dummy):
        with django_capture_on_commit_callbacks() as callbacks:
            jobs.enqueue(job, export_in_background, job.pk)
        assert ExportJob.objects.get(pk=job.pk).task_id == ""  # nothing handed over yet
        assert len(callbacks) == 1
        callbacks[0]()
        results = export_in_background.get_backend().results
    job.refresh_from_db()
    assert [str(result.id) for result in results] == [job.task_id]
    assert not DBTaskResult.objects.exists()


# --------------------------------------------------------------------------- claim


@pytest.mark.django_db(transaction=True)
def test_of_workers_claiming_one_job_at_once_one_wins(requester):
    job = export_job(requester)
    workers = 4
    start = threading.Barrier(workers)

    def take(_) -> int | None:
        try:
            start.wait(timeout=30)
            claimed = jobs.claim(ExportJob, job.pk)
            return claimed.pk if claimed else None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        taken = list(pool.map(take, range(workers)))
    assert sorted(taken, key=str) == [job.pk] + [None] * (workers - 1)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.worker == jobs.this_process()
    assert job.started_at == job.heartbeat_at is not None


def test_a_claim_takes_only_a_queued_job_into_the_state_asked(requester):
    job = import_job(requester, state=ImportJob.State.QUEUED, rows_done=7, error="earlier")
    claimed = jobs.claim(ImportJob.objects.select_related("requester"), job.pk, state="committing")
    assert (claimed.state, claimed.rows_done, claimed.error) == ("committing", 0, "")
    assert jobs.claim(ImportJob, job.pk) is None


# --------------------------------------------------------------------------- progress
# The writer's thread has a connection of its own: these tests commit what it must see.


@pytest.mark.django_db(transaction=True)
def test_progress_is_throttled_and_the_last_report_kept(requester):
    job = export_job(requester, state=JobState.RUNNING)
    now = [100.0]
    writer = jobs.ProgressWriter(job, every=0.5, clock=lambda: now[0])
    for done in range(1, 1001):  # all within one window: the first is written, the rest wait
        writer(done, 1000)
    assert writer.writes == 1
    writer.close()  # the last report goes through
    assert writer.writes == 2
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (1000, 1000) and job.heartbeat_at


@pytest.mark.django_db(transaction=True)
def test_progress_after_the_window_is_written(requester):
    job = export_job(requester, state=JobState.RUNNING)
    now = [100.0]
    writer = jobs.ProgressWriter(job, every=0.5, clock=lambda: now[0])
    writer(1, 10)
    wait_for(lambda: ExportJob.objects.get(pk=job.pk).rows_done == 1, what="the first write")
    now[0] += 0.5
    wait_for(lambda: (writer(2, 10), writer.writes)[1] == 2, what="the second write")
    writer.close()
    assert ExportJob.objects.get(pk=job.pk).rows_done == 2


# --------------------------------------------------------------------------- cancel, finish, fail


def test_a_cancelled_queued_job_is_never_run(requester):
    job = export_job(requester)
    assert jobs.cancel(job)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.finished_at
    assert jobs.claim(ExportJob, job.pk) is None
    assert not jobs.cancel(job)  # it had ended


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_running_job_stops_at_its_next_report(requester):
    job = jobs.claim(ImportJob, import_job(requester, state="queued").pk, state="validating")
    writer = jobs.ProgressWriter(job, every=0)
    assert jobs.cancel(job)

    def stopped() -> bool:
        try:
            writer(1, 10)
        except jobs.JobStopped:
            return True
        return False

    wait_for(stopped, what="the worker to notice")
    writer.close()
    # Its outcome, or a failure, no longer moves it; a committed outcome is recorded regardless.
    assert not jobs.finish(job, "validated") and not jobs.fail(job, "late")
    job.refresh_from_db()
    assert (job.state, job.rows_done) == (JobState.CANCELLED, 0)
    assert jobs.finish(job, "committed", force=True) and job.state == "committed"


def test_finish_records_the_outcome_of_a_running_job(requester):
    job = jobs.claim(ExportJob, export_job(requester).pk)
    assert jobs.finish(job, "done", file_path="1/1.gpkg", rows_done=5)
    job.refresh_from_db()
    assert (job.state, job.file_path, job.rows_done) == ("done", "1/1.gpkg", 5)
    assert job.finished_at and not jobs.fail(job, "too late")


# --------------------------------------------------------------------------- the sweep


def ended_process() -> str:
    """host:pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{jobs.this_process().rpartition(':')[0]}:{child.pid}"


def test_the_sweep_fails_what_nothing_will_finish(requester, settings):
    settings.JOB_STALLED_AFTER = dt.timedelta(minutes=30)
    now = timezone.now()
    long_ago, lately = now - dt.timedelta(minutes=31), now - dt.timedelta(minutes=29)
    job = import_job  # ImportJob: two running states
    silent = job(requester, state="committing", worker="elsewhere:1", heartbeat_at=long_ago)
    dead = job(requester, state="validating", worker=ended_process(), heartbeat_at=now)
    alive = job(requester, state="validating", worker=jobs.this_process(), heartbeat_at=lately)
    unqueued = job(requester, state="queued", heartbeat_at=long_ago)
    fresh = job(requester, state="queued", heartbeat_at=lately)
    tasks = {}
    for name, status, started in [
        ("failed_task", TaskResultStatus.FAILED, long_ago),
        ("stuck_task", TaskResultStatus.RUNNING, long_ago),
        ("running_task", TaskResultStatus.RUNNING, lately),
        ("ready_task", TaskResultStatus.READY, None),
    ]:
        queued = job(requester, state="queued", heartbeat_at=long_ago)
        jobs.enqueue(queued, export_in_background, queued.pk)
        DBTaskResult.objects.filter(id=queued.task_id).update(status=status, started_at=started)
        tasks[name] = queued
    ended = job(requester, state="validated", heartbeat_at=long_ago)

    failed = jobs.sweep(ImportJob, abandoned="abandoned", lost="lost")
    expected = {silent: "abandoned", dead: "abandoned", unqueued: "abandoned"}
    expected |= {tasks["failed_task"]: "lost", tasks["stuck_task"]: "lost"}
    assert sorted(failed) == sorted(j.pk for j in expected)
    for swept, message in expected.items():
        swept.refresh_from_db()
        assert (swept.state, swept.error) == (JobState.FAILED, message)
        assert swept.finished_at is not None
    for kept in [alive, fresh, tasks["running_task"], tasks["ready_task"], ended]:
        assert ImportJob.objects.get(pk=kept.pk).state == kept.state
    assert jobs.sweep(ImportJob, abandoned="abandoned", lost="lost") == []


def test_the_stale_threshold_is_a_setting(requester, settings):
    job = export_job(requester, state=JobState.RUNNING, worker="elsewhere:1")
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    settings.JOB_STALLED_AFTER = dt.timedelta(hours=2)
    assert jobs.sweep(ExportJob, abandoned="a", lost="l") == []
    assert jobs.sweep(
        ExportJob, abandoned="a", lost="l", stalled_after=dt.timedelta(minutes=59)
    ) == [job.pk]
