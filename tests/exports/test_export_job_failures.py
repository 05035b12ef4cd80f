"""Export jobs whose worker stopped (issue 17): failed when their state is read and at the next
job's claim, a few heartbeats after the last, not half an hour later. The heartbeat column is
written into the past to move time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common import jobs
from exports.jobs import ABANDONED, export_in_background
from exports.models import ExportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings.EXPORT_ROOT


def silent_for(beats: float) -> dt.datetime:
    return timezone.now() - beats * settings.JOB_HEARTBEAT


def running(user, *, beats_ago: float, worker: str = "other-host:4242") -> ExportJob:
    """A job a worker on another host runs (its process cannot be looked up from here)."""
    return ExportJob.objects.create(
        requester=user,
        parameters={"layer": "equipment", "format": "csv"},
        estimate=10,
        state="running",
        worker=worker,
        started_at=silent_for(beats_ago + 1),
        heartbeat_at=silent_for(beats_ago),
    )


def status_of(user, job: ExportJob) -> dict:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("export-job", args=[job.pk]))
    assert response.status_code == 200, response.content.decode()
    return response.json()


def test_reading_a_job_whose_worker_went_silent_shows_it_failed(users, export_root):
    user = users["xingqing"]
    dead = running(user, beats_ago=5)
    alive = running(user, beats_ago=1)
    assert status_of(user, dead)["state"] == "failed"
    dead.refresh_from_db()
    assert dead.error == ABANDONED and dead.finished_at is not None
    assert status_of(user, alive)["state"] == "running"


def test_reading_ones_jobs_leaves_another_users_silent_job_to_them(users, export_root):
    theirs = running(users["xixia"], beats_ago=5)
    status_of(users["xingqing"], running(users["xingqing"], beats_ago=1))
    assert ExportJob.objects.get(pk=theirs.pk).state == "running"


def test_the_next_job_fails_a_silent_one_before_it_runs(users, export_root):
    user = users["xingqing"]
    dead = running(user, beats_ago=5)
    job = ExportJob.objects.create(requester=user, parameters={"layer": "nope"}, estimate=0)
    jobs.enqueue(job, export_in_background, job.pk)
    export_in_background.call(job.pk)
    dead.refresh_from_db()
    assert (dead.state, dead.error) == ("failed", ABANDONED)
    job.refresh_from_db()
    assert job.state == "failed" and job.worker == jobs.this_process()  # it ran, here
