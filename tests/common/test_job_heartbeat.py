"""The job kernel's heartbeat (common/jobs.py): a running job beats whether or not its rows move,
and one silent for a few beats is failed by the sweep. Time is moved by writing the heartbeat
column into the past, never by waiting for it to age."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from common import jobs
from common.jobs import JobState
from exports.models import ExportJob

pytestmark = pytest.mark.django_db(transaction=True)  # the writer's thread reads committed rows


@pytest.fixture
def requester(transactional_db) -> User:
    return User.objects.create_user("heartbeat-test", password="pw-for-tests")


def wait_for(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def long_ago() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=1)


def running(requester: User, **fields) -> ExportJob:
    return ExportJob.objects.create(
        requester=requester, parameters={}, estimate=0, state=JobState.RUNNING, **fields
    )


def test_the_default_silence_is_a_few_heartbeats():
    assert dt.timedelta(seconds=10) >= settings.JOB_HEARTBEAT
    assert settings.JOB_STALLED_AFTER == 4 * settings.JOB_HEARTBEAT


def test_a_running_job_beats_without_reporting_progress(requester):
    job = running(requester, worker=jobs.this_process(), heartbeat_at=long_ago())
    writer = jobs.ProgressWriter(job, heartbeat=0.05)
    try:
        wait_for(
            lambda: ExportJob.objects.get(pk=job.pk).heartbeat_at > long_ago(), what="a heartbeat"
        )
    finally:
        writer.close()
    assert writer.beats >= 1 and writer.writes == 0
    job.refresh_from_db()
    assert (job.state, job.rows_done) == (JobState.RUNNING, 0)  # a beat is not progress
    assert not writer._beater.is_alive()  # the beats end with the writer


def test_a_beat_notices_a_cancel_before_any_report(requester):
    job = running(requester, worker=jobs.this_process(), heartbeat_at=timezone.now())
    writer = jobs.ProgressWriter(job, heartbeat=0.05)
    try:
        assert jobs.cancel(job)
        wait_for(lambda: writer._stopped, what="a beat to see the cancel")
        with pytest.raises(jobs.JobStopped):
            writer(1, 10)
    finally:
        writer.close()


def test_a_job_silent_for_four_beats_is_swept_and_a_beating_one_is_not(requester):
    beat = settings.JOB_HEARTBEAT
    now = timezone.now()
    # Both in this (live) process, so only their silence can tell them apart.
    silent = running(requester, worker=jobs.this_process(), heartbeat_at=now - 4 * beat - beat / 2)
    beating = running(requester, worker=jobs.this_process(), heartbeat_at=now - beat)
    assert jobs.sweep(ExportJob, abandoned="worker stopped", lost="lost", now=now) == [silent.pk]
    silent.refresh_from_db()
    assert (silent.state, silent.error) == (JobState.FAILED, "worker stopped")
    assert ExportJob.objects.get(pk=beating.pk).state == JobState.RUNNING


def test_a_sweep_among_some_jobs_leaves_the_others(requester):
    other = User.objects.create_user("heartbeat-other", password="pw-for-tests")
    mine = running(requester, worker="elsewhere:1", heartbeat_at=long_ago())
    theirs = running(other, worker="elsewhere:1", heartbeat_at=long_ago())
    among = ExportJob.objects.filter(requester=requester)
    assert jobs.sweep(ExportJob, abandoned="a", lost="l", among=among) == [mine.pk]
    assert ExportJob.objects.get(pk=theirs.pk).state == JobState.RUNNING
