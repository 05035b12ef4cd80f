"""Exports as jobs: estimated, recorded, run, and kept for their requester until they expire.

Every export the page starts is an `ExportJob` (`request_export`). One whose estimate is small runs
in the request and is downloaded at once; a larger one is queued for the background worker
(django-tasks' database queue, `manage.py db_worker`). Both run through `run_export`, that is
through `export_layer`, into the job's own directory under settings.EXPORT_ROOT, and every outcome
is written on the job: done with a file, or failed with a message a user can read.

The lifecycle (queue, claim, progress, cancel, the sweep of dead jobs) is the job kernel's,
common/jobs.py; this module keeps what an export does. Files leave nothing behind: a failed or
cancelled job's directory is removed at once; `clean_exports` removes expired files, the
directories of jobs whose process was killed (the worker keeps an export's scratch files in the
job's directory, see `export_in_background`) and stale scratch directories of exports killed inside
a web request. See docs/export-jobs.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from accounts import audit
from accounts.models import User
from common import db, jobs
from exports.core import (
    CHUNK_ROWS,
    TEMP_PREFIX,
    check_size,
    count_rows,
    download_names,
    export_layer,
)
from exports.models import ExportJob
from exports.options import ExportError, jurisdiction
from exports.submission import parse_parameters

logger = logging.getLogger(__name__)

State = ExportJob.State
SCRATCH = "scratch"

# Rough cost of a row by format: (bytes in the file, rows written a second), measured exporting
# the equipment layer of 20,000 generated devices of one province on the 2-core reference machine
# (the Shapefile is zipped). Enough to tell a user "about 7 MB, a few seconds" before they start;
# other layers have fewer columns: smaller files, and as fast or faster.
COST_PER_ROW = {
    "gpkg": (370, 45_000),
    "shp": (100, 40_000),
    "geojson": (790, 40_000),
    "kml": (1_360, 40_000),
    "csv": (300, 30_000),
    "xlsx": (150, 4_000),
}
STARTUP_SECONDS = 0.3


# Progress is reported once a chunk: smaller chunks than export_layer's own, down to this many rows
# (no slower, measured), so that a job of 20,000 rows moves its bar ten times rather than twice.
MIN_CHUNK_ROWS = 2_000
PROGRESS_STEPS = 50


def progress_chunk(rows: int) -> int:
    return max(MIN_CHUNK_ROWS, min(CHUNK_ROWS, rows // PROGRESS_STEPS))


@dataclass(frozen=True)
class Estimate:
    """What an export would hold and cost, before it starts."""

    rows: int
    bytes: int
    seconds: float
    background: bool  # too large for one request: it becomes a background job
    file_name: str


def estimate_export(user: User, parameters: dict[str, Any]) -> Estimate:
    """Rows (the map's count for the same filters and area), rough size and time, the file name."""
    request = parse_parameters(user, parameters)
    rows = count_rows(user, request.layer, request.query, request.area)
    check_size(request.format, rows)  # an XLSX too long for Excel is refused now, not in the job
    name, _ = download_names(
        user, request.layer, request.query, request.area, request.format, request.target
    )
    size, speed = COST_PER_ROW[request.format.name]
    return Estimate(
        rows=rows,
        bytes=rows * size,
        seconds=STARTUP_SECONDS + rows / speed,
        background=rows >= settings.EXPORT_DIRECT_MAX_ROWS,
        file_name=name,
    )


# --------------------------------------------------------------------------- where files live


def _region_prefix(user: User, region: str | None) -> str:
    """The audit's region: the jurisdiction narrowed by the export's region, if they overlap."""
    scope = jurisdiction(user)
    narrowed = scope.narrowed(region) if region else scope
    return "" if narrowed is None else narrowed.prefix


def job_directory(job_id: int) -> Path:
    """Everything one job writes: its file, and while the worker runs it, its scratch files."""
    return Path(settings.EXPORT_ROOT) / str(job_id)


def job_file(job: ExportJob) -> Path:
    return Path(settings.EXPORT_ROOT) / job.file_path


def _remove_files(job_id: int) -> None:
    shutil.rmtree(job_directory(job_id), ignore_errors=True)


# --------------------------------------------------------------------------- services


@transaction.atomic
def request_export(
    user: User, parameters: dict[str, Any], *, background: bool = False
) -> ExportJob:
    """Check the parameters and record the export as queued; one too large for a request (or
    asked to run in the background) is queued for the worker in the same transaction, so a job
    is never recorded without its task, nor a task left without its job."""
    estimate = estimate_export(user, parameters)
    if user.export_jobs.active().count() >= settings.EXPORT_MAX_ACTIVE_JOBS:
        raise ExportError(
            {
                "export": f"已有 {settings.EXPORT_MAX_ACTIVE_JOBS} 个导出在进行，请等其完成 / "
                f"{settings.EXPORT_MAX_ACTIVE_JOBS} of your exports are still running: wait "
                "for one to finish"
            }
        )
    job = ExportJob.objects.create(requester=user, parameters=parameters, estimate=estimate.rows)
    if background or estimate.background:
        jobs.enqueue(job, export_in_background, job.pk)
    region = _region_prefix(user, parameters.get("region"))
    audit.record(user, "export.requested", job, region_code=region)
    return job


def run_export(job_id: int, *, scratch: Path | None = None) -> ExportJob | None:
    """Run a queued job to its end, done or failed; None if it is not queued (already run,
    cancelled, or gone). `scratch`: where export_layer's scratch files go (the worker's choice, see
    `export_in_background`). A KeyboardInterrupt or SystemExit (the worker told to stop) fails
    the job, then goes on up."""
    job = jobs.claim(ExportJob.objects.select_related("requester__agency"), job_id)
    if job is None:
        return None
    progress = jobs.ProgressWriter(job)
    try:
        request = parse_parameters(job.requester, job.parameters)
        destination = job_directory(job.pk) / f"{job.pk}{request.format.extension}"
        with _scratch_files_in(scratch) if scratch else contextlib.nullcontext():
            result = export_layer(
                job.requester,
                request.layer,
                request.query,
                request.area,
                request.format,
                request.target,
                destination,
                progress=progress,
                chunk_rows=progress_chunk(job.estimate),
            )
    except jobs.JobStopped:  # cancelled, or taken for dead: its state says so already
        _remove_files(job.pk)
        job.refresh_from_db()
        return job
    except ExportError as error:
        return fail_export(job, "; ".join(f"{k}: {v}" for k, v in error.errors.items()))
    except Exception as error:
        logger.exception("export job %s failed", job.pk)
        if db.statement_cancelled(error):
            return fail_export(job, db.timeout_message())
        # The class tells support where to look; the message may hold server paths: log only.
        return fail_export(
            job,
            f"导出出错（{type(error).__name__}），详情见服务器日志中的导出任务 {job.pk} / the "
            f"export failed ({type(error).__name__}): the server log has the details under "
            f"export job {job.pk}",
        )
    except BaseException:
        # The last report first: written after the failure, it would wait on the job row that
        # this connection has just updated.
        progress.close()
        fail_export(job, "导出被中止 / the export was stopped before it ended: start it again")
        raise
    finally:
        progress.close()
    finished = timezone.now()
    recorded = jobs.finish(
        job,
        State.DONE,
        file_path=str(destination.relative_to(settings.EXPORT_ROOT)),
        file_name=result.filename,
        ascii_file_name=result.ascii_filename,
        file_size=destination.stat().st_size,
        rows_done=result.features,
        rows_total=result.features,
        finished_at=finished,
        heartbeat_at=finished,
        expires_at=finished + settings.EXPORT_EXPIRES_AFTER,
    )
    if not recorded:  # cancelled, or a cleaner took it for dead meanwhile: nothing of it is kept
        _remove_files(job.pk)
    job.refresh_from_db()
    return job


def fail_export(job: ExportJob, message: str) -> ExportJob:
    """Record why a job failed and remove whatever it wrote."""
    _remove_files(job.pk)
    if not jobs.fail(job, message, file_path=""):
        job.refresh_from_db()  # it had ended already (cancelled, or failed by a cleaner)
    return job


@transaction.atomic
def cancel_export(job: ExportJob, *, acting_user: User) -> bool:
    """Take back a queued or running export; False if it had ended already. A running one stops at
    its next progress report and its worker removes what it wrote."""
    if not jobs.cancel(job):
        return False
    region = _region_prefix(job.requester, job.parameters.get("region"))
    audit.record(acting_user, "export.cancelled", job, region_code=region)
    return True


def expire_exports(*, requester: User | None = None, now: dt.datetime | None = None) -> int:
    """Delete the files of done jobs past their expiry and mark them expired. For a requester
    (before their jobs are shown), their jobs whose worker stopped are failed too: a killed
    export reads as failed within a few heartbeats, not at the next clean."""
    if requester is not None:
        fail_abandoned_exports(now=now, requester=requester)
    done = ExportJob.objects.filter(state=State.DONE, expires_at__lte=now or timezone.now())
    if requester is not None:
        done = done.filter(requester=requester)
    expired = 0
    for job in done.only("pk"):
        _remove_files(job.pk)
        expired += ExportJob.objects.filter(pk=job.pk, state=State.DONE).update(
            state=State.EXPIRED, file_path=""
        )
    return expired


ABANDONED = (
    "导出进程已中止（被终止或崩溃），请重新导出 / the process running this export ended before "
    "it did (killed or crashed): start the export again"
)
LOST = "后台任务未能运行此导出，请重新导出 / the background worker lost this export: start it again"


def fail_abandoned_exports(*, now: dt.datetime | None = None, requester: User | None = None) -> int:
    """Fail the jobs (of `requester`, if given) nothing will finish (the kernel's sweep, with
    EXPORT_STALLED_AFTER: a worker killed, crashed, hung or cut off from the database, a web
    request cut off, a task the queue lost) and remove their directories, half-written and
    scratch files included."""
    failed = jobs.sweep(
        ExportJob,
        abandoned=ABANDONED,
        lost=LOST,
        stalled_after=settings.EXPORT_STALLED_AFTER,
        now=now,
        among=None if requester is None else ExportJob.objects.filter(requester=requester),
    )
    for pk in failed:
        _remove_files(pk)
    return len(failed)


def _stale(path: Path, before: float) -> bool:
    """Nothing in the directory (or the directory itself) was written since `before`."""
    times = [path.lstat().st_mtime]
    for root, _, files in os.walk(path):
        times += [(Path(root) / name).lstat().st_mtime for name in files]
    return max(times) < before


def clean_exports(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Everything that should no longer be on disk: expired files, abandoned jobs, the directories
    of failed, expired or deleted jobs, and scratch directories of exports killed in a request
    (in the system's temporary folder, untouched for EXPORT_SCRATCH_STALE_AFTER)."""
    now = now or timezone.now()
    report = {
        "expired": expire_exports(now=now),
        "abandoned": fail_abandoned_exports(now=now),
        "orphans": 0,
    }
    root = Path(settings.EXPORT_ROOT)
    if root.is_dir():
        keep = {
            str(pk)
            for pk in ExportJob.objects.filter(
                state__in=[*ExportJob.active_states(), State.DONE]
            ).values_list("pk", flat=True)
        }
        for entry in root.iterdir():
            if entry.is_dir() and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
                report["orphans"] += 1
    # Not EXPORT_STALLED_AFTER (a few heartbeats): a live request's export may leave its scratch
    # files untouched longer while one statement runs.
    before = (now - settings.EXPORT_SCRATCH_STALE_AFTER).timestamp()
    for entry in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):  # another cleaner was faster
            if entry.is_dir() and _stale(entry, before):
                shutil.rmtree(entry, ignore_errors=True)
                report["orphans"] += 1
    return report


# --------------------------------------------------------------------------- the worker


@contextlib.contextmanager
def _scratch_files_in(directory: Path) -> Iterator[None]:
    # export_layer makes its scratch directory where `tempfile` says. The worker runs one task at
    # a time in its one thread, so pointing `tempfile` at the job's own directory for the run puts
    # a killed run's scratch files where `fail_abandoned_exports` removes them with the job's.
    # (A web server's threads would race on this process-wide setting: requests do not do it.)
    directory.mkdir(parents=True, exist_ok=True)
    previous, tempfile.tempdir = tempfile.tempdir, str(directory)
    try:
        yield
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(directory, ignore_errors=True)


@task()
def export_in_background(job_id: int) -> None:
    """The worker's entry for a queued export: old jobs expire and dead ones fail first, then
    this one runs with its scratch files inside its own directory, its transactions under the
    job bounds (JOB_STATEMENT_TIMEOUT), not a request's."""
    started = time.monotonic()
    expire_exports()
    fail_abandoned_exports()
    with db.long_statements():
        job = run_export(job_id, scratch=job_directory(job_id) / SCRATCH)
    if job is not None:
        logger.info("export job %s %s in %.1f s", job.pk, job.state, time.monotonic() - started)
