"""One lifecycle for background jobs (exports, imports) over django-tasks' database queue.

A job is a row of a model built on `Job` and a task in the queue (`manage.py db_worker` runs it).
Each kind's module queues it (`enqueue`), runs it in the worker (`claim`, a `ProgressWriter`, then
`finish` or `fail`) and keeps what the kind itself does; `cancel` takes a job back, and `sweep`
fails the jobs nothing will finish (their worker died or went silent, the queue lost their task).

Every write that moves a job is conditional on the state it leaves: of a worker, a sweeper and a
user acting at once, the first wins and the others change nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# Progress is written at most this often: the pages poll about once a second.
PROGRESS_SECONDS = 0.5


class JobState(models.TextChoices):
    """The states the kernel moves a job between. A kind stores these values, may name its running
    states its own way (`Job.RUNNING_STATES`) and adds its outcomes (done, committed …)."""

    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class Job(models.Model):
    """What every background job records: state, progress, the worker running it, error, times."""

    # The states in which a worker holds the job (an import names its dry run and commit apart).
    RUNNING_STATES: ClassVar[tuple[str, ...]] = (JobState.RUNNING,)

    # Kinds redeclare it with their own choices and default.
    state = models.CharField(
        _("状态"), max_length=12, choices=JobState.choices, default=JobState.QUEUED
    )
    rows_done = models.PositiveIntegerField(_("已处理行数"), default=0)
    rows_total = models.PositiveIntegerField(_("总行数"), null=True, blank=True)
    error = models.TextField(_("错误信息"), blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="the queue's task result")
    worker = models.CharField(
        max_length=128, blank=True, help_text="host:pid of the process running the job"
    )
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life: queued, claimed, progress"
    )
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def active_states(cls) -> tuple[str, ...]:
        """Queued or running: a job someone will still work on."""
        return (JobState.QUEUED, *cls.RUNNING_STATES)


J = TypeVar("J", bound=Job)


class JobStopped(Exception):
    """The job left its running state under its worker (cancelled, or failed by a sweep)."""


def this_process() -> str:
    """host:pid, as a job records the process running it."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --------------------------------------------------------------------------- queue and claim


def enqueue(job: Job, task: Any, *args: Any) -> None:
    """Queue the job and its task so that the worker sees the task only once the job is committed.
    django-tasks-db's queue is a table of this database: its row is written in this transaction,
    so both commit or neither. Another backend is handed the task after the commit."""
    db = router.db_for_write(type(job))
    fields = {"state": JobState.QUEUED, "error": "", "rows_done": 0, "worker": "", "task_id": ""}
    fields |= {"started_at": None, "finished_at": None, "heartbeat_at": timezone.now()}
    with transaction.atomic(using=db):
        if _queue_in(task, db):
            fields["task_id"] = str(task.enqueue(*args).id)
        else:
            later = functools.partial(_enqueue_committed, type(job), job.pk, task, args)
            transaction.on_commit(later, using=db)
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=list(fields))


def _queue_in(task: Any, db: str) -> bool:
    return (
        isinstance(task.get_backend(), DatabaseBackend) and router.db_for_write(DBTaskResult) == db
    )


def _enqueue_committed(model: type[Job], pk: int, task: Any, args: tuple) -> None:
    task_id = str(task.enqueue(*args).id)
    model._default_manager.filter(pk=pk, state=JobState.QUEUED, task_id="").update(task_id=task_id)


def claim(jobs: QuerySet[J] | type[J], pk: int, *, state: str | None = None) -> J | None:
    """Take a queued job for this process, recording host:pid; the job (read through `jobs`), or
    None when it is not queued. One UPDATE: of two workers claiming at once, one wins."""
    jobs = jobs._default_manager.all() if isinstance(jobs, type) else jobs
    model = jobs.model
    now = timezone.now()
    claimed = model._default_manager.filter(pk=pk, state=JobState.QUEUED).update(
        state=state or model.RUNNING_STATES[0],
        worker=this_process(),
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        rows_done=0,
        error="",
    )
    return jobs.get(pk=pk) if claimed else None


# --------------------------------------------------------------------------- the end of a run


def _move(job: Job, leaving: tuple[str, ...] | None, fields: dict[str, Any]) -> bool:
    """Write `fields` on the job if it is still in one of the states `leaving` (any when None);
    the instance follows when it was written."""
    jobs = type(job)._default_manager.filter(pk=job.pk)
    if leaving is not None:
        jobs = jobs.filter(state__in=leaving)
    if not jobs.update(**fields):
        return False
    for name, value in fields.items():
        setattr(job, name, value)
    return True


def finish(job: Job, state: str, *, force: bool = False, **fields: Any) -> bool:
    """Record the run's outcome if the job is still running: a cancel or a sweep that took it
    meanwhile keeps its word. `force`: record it anyway (what the run did is already committed)."""
    now = timezone.now()
    leaving = None if force else type(job).RUNNING_STATES
    return _move(job, leaving, {"state": state, "finished_at": now, "heartbeat_at": now, **fields})


def fail(job: Job, message: str, **fields: Any) -> bool:
    """Record why a queued or running job failed; False if it had ended already."""
    values = {"state": JobState.FAILED, "error": message, "finished_at": timezone.now(), **fields}
    return _move(job, type(job).active_states(), values)


def cancel(job: Job) -> bool:
    """Take back a queued or running job: a queued task then finds nothing to run, a running one
    stops at its next progress report (`JobStopped`). False if the job had ended already."""
    values = {"state": JobState.CANCELLED, "finished_at": timezone.now()}
    return _move(job, type(job).active_states(), values)


# --------------------------------------------------------------------------- progress


class ProgressWriter:
    """Writes a running job's progress and its heartbeat from a thread of its own: a job that works
    in one long transaction would otherwise stay invisible to the polling page until it ends.
    Progress: at most one write every `every` seconds, none while the last is still being written;
    the last report always goes through on `close`. Heartbeat: every `heartbeat` seconds
    (JOB_HEARTBEAT) until `close`, reports or not. Once a write finds the job no longer running,
    the next report raises JobStopped in the job's own thread."""

    def __init__(
        self,
        job: Job,
        *,
        every: float = PROGRESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float | None = None,
    ):
        self.model, self.pk, self.state = type(job), job.pk, job.state
        self.every, self.clock = every, clock
        self.writes = 0  # sent to the thread
        self.beats = 0  # heartbeats alone, sent to the thread
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-progress")
        self._pending: Future | None = None
        self._last = float("-inf")
        self._latest: tuple[int, int | None] | None = None
        self._closed = False
        self._stopped = False  # a write saw the job in another state
        # The heartbeat says the process lives even while one statement or one GDAL call runs
        # for minutes without a report: a silent job is then a dead one (the sweep, JOB_STALLED_AFTER).
        beat = settings.JOB_HEARTBEAT.total_seconds() if heartbeat is None else heartbeat
        self._halt = threading.Event()
        self._beater = threading.Thread(
            target=self._beat, args=(beat,), name="job-heartbeat", daemon=True
        )
        self._beater.start()

    def __call__(self, done: int, total: int | None = None) -> None:
        self._latest = (done, total)
        if self._stopped:
            raise JobStopped(f"{self.model.__name__} {self.pk} is no longer {self.state}")
        idle = self._pending is None or self._pending.done()
        now = self.clock()
        if idle and now - self._last >= self.every:
            self._last = now
            self._send(done, total)

    def _send(self, done: int, total: int | None) -> None:
        self.writes += 1
        self._pending = self._executor.submit(self._write, rows_done=done, rows_total=total)

    def _beat(self, every: float) -> None:
        pending: Future | None = None
        while not self._halt.wait(every):
            if pending is None or pending.done():  # one at a time: a slow write is not piled on
                self.beats += 1
                pending = self._executor.submit(self._write)

    def _write(self, **fields: Any) -> bool | None:
        """Whether the job was still running: False once it is seen in another state, None when
        that cannot be told (the database failed, or the job is not visible from this thread's
        connection, e.g. not committed yet)."""
        jobs = self.model._default_manager.filter(pk=self.pk)
        try:
            if jobs.filter(state=self.state).update(heartbeat_at=timezone.now(), **fields):
                return True
            if jobs.exists():
                self._stopped = True
                return False
            return None
        except DatabaseError:
            logger.exception("progress of %s %s not recorded", self.model.__name__, self.pk)
            return None

    def close(self) -> None:
        """Stop the heartbeat, write the last report, wait for it, then close the thread's
        connection (once)."""
        if self._closed:
            return
        self._closed = True
        self._halt.set()
        self._beater.join()
        if self._latest is not None:
            self._send(*self._latest)
        self._executor.submit(connections.close_all)
        self._executor.shutdown(wait=True)


# --------------------------------------------------------------------------- the sweep


def process_gone(worker: str) -> bool:
    """Whether the process named host:pid has ended; False when it cannot be told from here."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def sweep(
    model: type[Job],
    *,
    abandoned: str,
    lost: str,
    stalled_after: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    among: QuerySet | None = None,
) -> list[int]:
    """Fail the jobs nothing will finish and answer their keys (their kind removes what they left).
    `abandoned`: running in a process that has ended (looked up on this host), or silent for
    `stalled_after` (settings.JOB_STALLED_AFTER, a few missed heartbeats: a worker killed on
    another host, hung, or cut off from the database); queued without a task that long (the request
    meant to run it ended). `lost`: queued for a task the queue has finished, or started that long
    ago, without running the job. `among`: only these jobs (one user's, one job: a read of them)."""
    now = now or timezone.now()
    stalled = now - (stalled_after or settings.JOB_STALLED_AFTER)
    base = model._default_manager.all() if among is None else among
    jobs = base.annotate(seen=Coalesce("heartbeat_at", "started_at", "created_at"))
    running = jobs.filter(state__in=model.RUNNING_STATES)
    dead = [
        (pk, state)
        for pk, state, worker, seen in running.values_list("pk", "state", "worker", "seen")
        if seen < stalled or process_gone(worker)
    ]
    dead += jobs.filter(state=JobState.QUEUED, task_id="", seen__lt=stalled).values_list(
        "pk", "state"
    )
    queued = base.filter(state=JobState.QUEUED).exclude(task_id="")
    tasks = DBTaskResult.objects.filter(id__in=list(queued.values_list("task_id", flat=True)))
    gone = tasks.filter(
        Q(status__in=[TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL])
        | Q(status=TaskResultStatus.RUNNING, started_at__lt=stalled)
    )
    gone_ids = [str(task_id) for task_id in gone.values_list("id", flat=True)]
    failed = []
    for (pk, state), message in [
        *((entry, abandoned) for entry in dead),
        *(
            (entry, lost)
            for entry in queued.filter(task_id__in=gone_ids).values_list("pk", "state")
        ),
    ]:
        # Conditional on the state it was seen in: a job that moved on meanwhile keeps its end.
        fields = {"state": JobState.FAILED, "error": message, "finished_at": now}
        if model._default_manager.filter(pk=pk, state=state).update(**fields):
            failed.append(pk)
    return failed
