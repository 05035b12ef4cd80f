"""Imports as jobs: an upload becomes an ImportJob; dry runs and the commit run in the worker.

`create_job` stores the file (intake), reads its columns and proposes a mapping (the one saved
for the same source first). `set_mapping` records the user's choice, checked before any row is
read. `request_run` queues a dry run or a commit for the background worker (django-tasks' database
queue, `manage.py db_worker`); a commit is refused unless the last dry run used the same mapping,
CRS, layer and encoding and found no error. `run_import_job` runs one through `pipeline.run_import`
(which re-validates every row inside the commit's transaction), writes progress from a thread of
its own, and records the outcome (summary, findings) in one transaction: a job is never left half
written. `clean_imports` removes upload directories no longer needed. The lifecycle (queue, claim,
progress, cancel, the sweep of dead jobs) is the job kernel's, common/jobs.py. See docs/import.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone
from django_tasks import task

from accounts import audit, policy
from accounts.models import User
from common import db, jobs
from geo import crs
from registry.synthetic.copy import copy_rows

from ..models.imports import Dataset, ImportFinding, ImportJob, SavedMapping
from ..validators import ERROR, Finding
from . import datasets
from .elements import elements_of
from .errors import IntakeError, refuse
from .intake import StoredUpload, discard_upload, load_upload, store_upload
from .limits import import_root
from .mapping import check_mapping, suggest_mapping
from .pipeline import ImportOutcome, ImportRequest, run_import
from .readers import DBF_ENCODINGS, GDAL_FORMATS, open_rows

# Sent after a committed import's transaction ends (`job`): what is derived from the registry
# catches up (the analysis desk's measures).
import_committed = Signal()

logger = logging.getLogger(__name__)

State = ImportJob.State
RUNNING = ImportJob.active_states()  # queued, validating, committing
# The systems a file's coordinates may be declared in (Web Mercator is a display system only).
# A layer's authority code, as the CRS it declares.
LAYER_CRSS = {"EPSG:4326": crs.CRS.WGS84, "EPSG:4490": crs.CRS.CGCS2000}
# Directories of finished jobs are kept this long (the user may still run the file again).
FINISHED_KEPT = dt.timedelta(days=1)
# A directory without a job younger than this is an upload still being recorded.
ORPHAN_GRACE = dt.timedelta(hours=1)
FINDING_COLUMNS = ("job_id", "row", "column", "value", "rule", "severity", "message", "suggestion")
# An upload in these states holds nothing open: its file goes with the next clean.
ENDED = (State.COMMITTED, State.FAILED, State.CANCELLED)


class LimitReached(IntakeError):
    """A user at one of their import limits (IMPORT_MAX_OPEN_UPLOADS, IMPORT_MAX_ACTIVE_RUNS):
    nothing was stored or queued. Too many requests (429), not a wrong one: one of their jobs
    ending lifts it."""

    status = 429


def _at_limit(field: str, rule: str, message: str, suggestion: str = "") -> NoReturn:
    raise LimitReached([Finding(field, rule, message, ERROR, suggestion)])


def check_open_uploads(user: User) -> None:
    """Refuse a new upload while the user has IMPORT_MAX_OPEN_UPLOADS files neither committed,
    failed nor cancelled (and still kept: IMPORT_KEEP_DAYS)."""
    limit = settings.IMPORT_MAX_OPEN_UPLOADS
    kept = timezone.now() - dt.timedelta(days=settings.IMPORT_KEEP_DAYS)
    open_uploads = ImportJob.objects.filter(requester=user, created_at__gte=kept)
    if open_uploads.exclude(state__in=ENDED).count() >= limit:
        _at_limit(
            "file",
            "limit.open_uploads",
            f"您已有 {limit} 个上传的文件尚未入库或取消（上限），请先处理或取消其中一个 / {limit} of "
            "your uploads are neither committed nor cancelled (the limit): finish or cancel one "
            "first",
        )


def check_active_runs(user: User, *, besides: ImportJob) -> None:
    """Refuse to queue a dry run or commit while IMPORT_MAX_ACTIVE_RUNS of the user's are queued or
    running: one user's files do not fill the worker's queue ahead of everyone else's."""
    limit = settings.IMPORT_MAX_ACTIVE_RUNS
    active = ImportJob.objects.filter(requester=user, state__in=RUNNING).exclude(pk=besides.pk)
    if active.count() >= limit:
        _at_limit(
            "job",
            "limit.active_runs",
            f"您已有 {limit} 个试运行或入库在排队或进行（上限），请等其中一个完成 / {limit} of your "
            "dry runs or commits are queued or running (the limit): wait for one to finish",
        )


def rows_bounded(
    progress: Callable[[int, int | None], None], limit: int | None = None
) -> Callable[[int, int | None], None]:
    """The run's progress reports, refusing the file once it is past IMPORT_MAX_ROWS rows (the
    rows are counted as they are read: the run stops there, its transaction rolled back)."""
    limit = settings.IMPORT_MAX_ROWS if limit is None else limit

    def report(done: int, total: int | None = None) -> None:
        if done > limit or (total or 0) > limit:
            refuse(
                "file",
                "limit.rows",
                f"文件超过 {limit} 行（上限），未写入任何数据，请拆分为多个文件 / the file has more "
                f"than {limit} rows (the limit): nothing was written; split it into several files",
            )
        progress(done, total)

    return report


def may_import(user: User) -> bool:
    """Supervisors and administrators with a jurisdiction import files (accounts/policy.py)."""
    return policy.may(user, policy.Action.IMPORT)


# --------------------------------------------------------------------------- upload and mapping


def create_job(
    user: User,
    data: bytes | IO[bytes],
    original_name: str,
    *,
    dataset: str = Dataset.EQUIPMENT,
    source: str = "",
) -> ImportJob:
    """Store an uploaded file and record it as a job, with its columns and a proposed mapping."""
    dataset = _dataset(dataset)
    source = (source or "").strip()[:64]
    check_open_uploads(user)  # before the file is stored
    upload = store_upload(data, original_name)
    try:
        with open_rows(upload) as rows:
            columns, layer_crs = list(rows.columns), rows.crs
        saved = saved_mapping(user, source, dataset)
        declared = LAYER_CRSS.get(layer_crs or "")
        with transaction.atomic():
            # Again under the uploader's row lock: two uploads at once do not both pass.
            list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
            check_open_uploads(user)
            job = ImportJob.objects.create(
                requester=user,
                token=upload.token,
                original_name=original_name[:255],
                format=upload.format,
                encoding=upload.encoding or "",
                size=upload.size,
                dataset=dataset,
                source=source,
                mapping=suggest_mapping(columns, dataset, saved.mapping if saved else None),
                source_crs=declared.value if declared else (saved.source_crs if saved else "wgs84"),
                summary={"file": _file_facts(upload, columns, layer_crs)},
            )
            audit.record(user, "import.uploaded", job, after=_audited(job))
    except BaseException:
        discard_upload(upload)
        raise
    return job


def saved_mapping(user: User, source: str, dataset: str) -> SavedMapping | None:
    if not source:
        return None
    return SavedMapping.objects.filter(
        agency=getattr(user, "agency", None), source=source, dataset=dataset
    ).first()


def _file_facts(upload: StoredUpload, columns: list[str], layer_crs: str | None) -> dict[str, Any]:
    return {
        "columns": columns,
        "crs": layer_crs,
        "notices": [
            {"field": n.field, "rule": n.rule, "message": n.message, "suggestion": n.suggestion}
            for n in upload.notices
        ],
    }


def file_facts(job: ImportJob) -> dict[str, Any]:
    return job.summary.get("file", {"columns": [], "crs": None, "notices": []})


@transaction.atomic
def set_mapping(
    job: ImportJob,
    *,
    mapping: Any,
    source_crs: Any = None,
    layer: Any = None,
    encoding: Any = None,
) -> ImportJob:
    """Record the user's mapping, CRS, layer and encoding; a changed choice needs a new dry run."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _not_running(job)
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        refuse("mapping", "mapping.shape", "列映射须为 数据项→列名 / mapping: {element: column}")
    mapping = {name: column for name, column in mapping.items() if column}
    declared = _source_crs(source_crs if source_crs not in (None, "") else job.source_crs)
    layer = str(layer or "")[:128]
    encoding = str(encoding or "").lower()
    if encoding and encoding not in DBF_ENCODINGS:
        refuse(
            "encoding",
            "encoding.unknown",
            f"不支持的编码 {encoding!r} / unknown encoding",
            "utf-8, gbk, gb18030",
        )
    facts = file_facts(job)
    if layer != job.layer or encoding != job.dbf_encoding:
        upload = load_upload(job.token)
        with open_rows(upload, layer=layer or None, encoding=encoding or None) as rows:
            facts = {**facts, "columns": list(rows.columns), "crs": rows.crs}
    problems = check_mapping(
        mapping, facts["columns"], job.dataset, has_geometry=job.format in GDAL_FORMATS
    )
    if problems:
        raise IntakeError(problems)
    job.mapping, job.source_crs, job.layer, job.dbf_encoding = (
        mapping,
        declared.value,
        layer,
        encoding,
    )
    job.summary = {"file": facts}
    job.state, job.validated_at, job.error = State.UPLOADED, None, ""
    job.rows_done, job.rows_total = 0, None
    job.save()
    job.findings.all().delete()
    return job


def _dataset(value: Any) -> str:
    try:
        return datasets.known(value)
    except ValueError:
        choices = ", ".join(datasets.names())
        refuse("dataset", "dataset.unknown", f"未知的数据类别 / unknown dataset {value!r}", choices)


def _source_crs(value: Any) -> crs.CRS:
    try:
        return crs.parse(value, crs.Surface.IMPORT).system
    except (crs.UnknownCRS, TypeError, AttributeError):
        refuse(
            "source_crs",
            "crs.unknown",
            f"不支持的坐标系 {value!r} / unknown coordinate system",
            "wgs84, cgcs2000, gcj02（高德 / Amap）, bd09（百度 / Baidu）",
        )


def _not_running(job: ImportJob) -> None:
    if job.state in RUNNING:
        refuse(
            "state", "job.running", "任务正在运行，请等待其完成 / the job is running: wait for it"
        )


# --------------------------------------------------------------------------- dry run and commit


def _chosen(job: ImportJob) -> dict[str, Any]:
    """What a dry run ran with: a commit must run with the same."""
    return {
        "mapping": job.mapping,
        "source_crs": job.source_crs,
        "layer": job.layer,
        "encoding": job.dbf_encoding,
    }


def commit_refusal(job: ImportJob) -> str | None:
    """Why the job may not be committed now, or None."""
    summary = job.summary
    if job.state == State.COMMITTED:
        return "已入库 / already committed"
    if job.state != State.VALIDATED or summary.get("validated_with") != _chosen(job):
        return "请先用当前的列映射和坐标系试运行 / run a dry run with this mapping and CRS first"
    if summary.get("errors", 1):
        return (
            f"试运行发现 {summary.get('errors')} 个错误，请修正文件后重新上传 / the dry run found "
            f"{summary.get('errors')} errors: correct the file and upload it again"
        )
    return None


@transaction.atomic
def request_run(job: ImportJob, *, commit: bool, acting_user: User) -> ImportJob:
    """Queue a dry run (or the commit) for the worker, in the transaction that records it."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _not_running(job)
    if commit and (reason := commit_refusal(job)):
        refuse("commit", "commit.refused", reason)
    if not commit and job.state == State.COMMITTED:
        refuse("state", "job.committed", "已入库 / already committed")
    problems = check_mapping(
        job.mapping,
        file_facts(job)["columns"],
        job.dataset,
        has_geometry=job.format in GDAL_FORMATS,
    )
    if problems:
        raise IntakeError(problems)
    # Under the requester's row lock: two requests at once do not both pass the limit.
    list(User.objects.select_for_update().filter(pk=job.requester_id).values_list("pk"))
    check_active_runs(job.requester, besides=job)
    jobs.enqueue(job, import_in_background, job.pk, commit)
    return job


@transaction.atomic
def cancel_import(job: ImportJob, *, acting_user: User) -> bool:
    """Take back a queued or running dry run or commit; False if it had ended already. A running
    one stops at its next progress report, its transaction rolled back: nothing is written."""
    if not jobs.cancel(job):
        return False
    audit.record(acting_user, "import.cancelled", job, after=_audited(job))
    return True


def run_import_job(job_id: int, commit: bool) -> ImportJob | None:
    """Run a queued job to its end (validated, committed or failed); None if it is not queued."""
    running = State.COMMITTING if commit else State.VALIDATING
    job = jobs.claim(ImportJob.objects.select_related("requester__agency"), job_id, state=running)
    if job is None:
        return None
    progress = jobs.ProgressWriter(job)
    try:
        upload = load_upload(job.token)
        request = ImportRequest(
            dataset=job.dataset,
            mapping=job.mapping,
            source_crs=crs.CRS.parse(job.source_crs),
            layer=job.layer or None,
            encoding=job.dbf_encoding or None,
        )
        outcome = run_import(
            upload,
            request,
            acting_user=job.requester,
            commit=commit,
            progress=rows_bounded(progress),
        )
    except jobs.JobStopped:  # cancelled, or taken for dead: its state says so already
        job.refresh_from_db()
        return job
    except IntakeError as error:
        return fail_import(job, "; ".join(f.message for f in error.findings))
    except Exception as error:
        logger.exception("import job %s failed", job.pk)
        if db.statement_cancelled(error):
            return fail_import(job, db.timeout_message())
        return fail_import(
            job,
            f"导入出错（{type(error).__name__}），详情见服务器日志中的导入任务 {job.pk} / the import "
            f"failed ({type(error).__name__}): the server log has the details under import job "
            f"{job.pk}",
        )
    except BaseException:
        progress.close()  # before the failure is written: see exports.jobs.run_export
        fail_import(job, "导入被中止 / the import was stopped before it ended: run it again")
        raise
    finally:
        progress.close()
    return record_outcome(job, outcome, commit=commit)


@transaction.atomic
def record_outcome(job: ImportJob, outcome: ImportOutcome, *, commit: bool) -> ImportJob:
    """The summary, the findings and the new state, all at once."""
    now = timezone.now()
    summary = {**outcome.summary(), "file": file_facts(job), "validated_with": _chosen(job)}
    if outcome.committed:
        state, moment, action = State.COMMITTED, {"committed_at": now}, "import.committed"
    else:
        # A commit that met an error (the data changed since the dry run) wrote nothing: its
        # report is the new dry run.
        state, moment, action = State.VALIDATED, {"validated_at": now}, "import.validated"
    # Committed rows are in: that is recorded even over a cancel or a sweep that came too late;
    # a dry run's report is not.
    recorded = jobs.finish(
        job,
        state,
        force=outcome.committed,
        summary=summary,
        rows_done=outcome.rows,
        rows_total=outcome.rows,
        finished_at=now,
        heartbeat_at=now,
        **moment,
    )
    if not recorded:
        job.refresh_from_db()
        return job
    job.findings.all().delete()
    store_findings(job, outcome)
    if not commit:
        _save_mapping(job)
    audit.record(job.requester, action, job, after=_audited(job))
    if outcome.committed:
        transaction.on_commit(lambda: import_committed.send(ImportJob, job=job))
    return job


def store_findings(job: ImportJob, outcome: ImportOutcome) -> int:
    """All findings in one COPY: 100,000 of them take about a second."""
    return copy_rows(
        ImportFinding._meta.db_table,
        [f'"{name}"' for name in FINDING_COLUMNS],
        (
            (job.pk, f.row, f.column[:128], f.value[:200], f.rule[:64], f.severity, f.message,
             f.suggestion[:200])
            for f in outcome.findings
        ),
    )  # fmt: skip


def _save_mapping(job: ImportJob) -> None:
    if not job.source:
        return
    SavedMapping.objects.update_or_create(
        agency=job.requester.agency,
        source=job.source,
        dataset=job.dataset,
        defaults={
            "mapping": job.mapping,
            "source_crs": job.source_crs,
            "updated_by": job.requester,
        },
    )


def fail_import(job: ImportJob, message: str) -> ImportJob:
    """Record why a job failed; whatever the run wrote was rolled back with its transaction."""
    with transaction.atomic():
        if jobs.fail(job, message):
            audit.record(job.requester, "import.failed", job, after=_audited(job))
        else:
            job.refresh_from_db()  # it had ended already (cancelled, or failed by a cleaner)
    return job


def _audited(job: ImportJob) -> dict[str, Any]:
    """What the audit keeps of a job: not its file facts (columns) nor its mapping twice."""
    return {
        "state": job.state,
        "original_name": job.original_name,
        "format": job.format,
        "dataset": job.dataset,
        "source": job.source,
        "mapping": job.mapping,
        "source_crs": job.source_crs,
        "summary": {k: v for k, v in job.summary.items() if k not in ("file", "validated_with")},
        "error": job.error,
    }


ABANDONED = (
    "导入进程已中止（被终止或崩溃），请重新运行 / the process running this import ended before it "
    "did (killed or crashed): run it again"
)
LOST = "后台任务未能运行此导入，请重新运行 / the background worker lost this import: run it again"


def fail_abandoned_imports(*, now: dt.datetime | None = None, requester: User | None = None) -> int:
    """Fail the jobs (of `requester`, if given: before their jobs are shown) nothing will finish
    (the kernel's sweep, with JOB_STALLED_AFTER, a few missed heartbeats: a worker killed, hung or
    cut off from the database, a task the queue lost). A run's writes were in its transaction:
    nothing of it is left but the state, failed here."""
    among = None if requester is None else ImportJob.objects.filter(requester=requester)
    return len(jobs.sweep(ImportJob, abandoned=ABANDONED, lost=LOST, now=now, among=among))


@task()
def import_in_background(job_id: int, commit: bool) -> None:
    """The worker's entry for a queued dry run or commit; jobs abandoned by a dead worker fail first.
    Its transactions run under the job bounds (JOB_STATEMENT_TIMEOUT), not a request's."""
    started = time.monotonic()
    fail_abandoned_imports()
    with db.long_statements():
        job = run_import_job(job_id, commit)
    if job is not None:
        logger.info("import job %s %s in %.1f s", job.pk, job.state, time.monotonic() - started)


# --------------------------------------------------------------------------- cleaning


def clean_imports(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Fail abandoned jobs, then remove the upload directories no longer needed: of jobs committed,
    failed or cancelled more than a day ago, of uploads older than IMPORT_KEEP_DAYS, and
    directories no job owns. A running job's directory is never touched."""
    now = now or timezone.now()
    keep_days = dt.timedelta(days=getattr(settings, "IMPORT_KEEP_DAYS", 7))
    root = import_root()
    report = {"abandoned": fail_abandoned_imports(now=now), "finished": 0, "old": 0, "orphans": 0}
    if not root.is_dir():
        return report
    idle = ImportJob.objects.exclude(state__in=RUNNING)
    ended = Coalesce("finished_at", "committed_at", "heartbeat_at", "created_at")
    finished = idle.annotate(ended=ended).filter(
        state__in=[State.COMMITTED, State.FAILED, State.CANCELLED], ended__lt=now - FINISHED_KEPT
    )
    old = idle.filter(created_at__lt=now - keep_days).exclude(pk__in=finished.values("pk"))
    for key, queryset in (("finished", finished), ("old", old)):
        for token in queryset.values_list("token", flat=True):
            # Checked again at the last moment: a user may have started a dry run meanwhile.
            if not ImportJob.objects.filter(token=token, state__in=RUNNING).exists():
                report[key] += _remove(root / token)
    tokens = set(ImportJob.objects.values_list("token", flat=True))
    grace = (now - ORPHAN_GRACE).timestamp()
    for entry in root.iterdir():
        if entry.is_dir() and entry.name not in tokens and entry.stat().st_mtime < grace:
            report["orphans"] += _remove(entry)
    return report


def _remove(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    shutil.rmtree(directory, ignore_errors=True)
    return 1


def elements_for(dataset: str) -> list[dict[str, Any]]:
    """The data elements of a dataset as the mapping form lists them."""
    return [
        {"name": e.name, "label": e.label, "required": e.required, "kind": e.kind}
        for e in elements_of(dataset)
    ]


__all__ = [
    "cancel_import",
    "clean_imports",
    "create_job",
    "elements_for",
    "import_in_background",
    "may_import",
    "request_run",
    "run_import_job",
    "set_mapping",
]
