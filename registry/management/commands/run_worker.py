"""Run the task queue's worker (django-tasks' db_worker) and keep it running through database outages."""

from __future__ import annotations

import logging
import os
import time
from types import FrameType

from django.core.management.base import CommandError
from django.db import DatabaseError, connections
from django.db.utils import InterfaceError, OperationalError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# Seconds between attempts to reach the database again: doubling from the first to the last.
FIRST_RETRY, LAST_RETRY = 1.0, 30.0


class ReconnectingWorker(db_worker.Worker):
    """db_worker's worker, which ends on the first database error it meets outside a task (the
    server restarted, the network went): this one drops its connections, waits and polls again.
    The task it was running then is recorded as failed once the database is back; its job (an
    export, an import) is failed by the job sweep, its heartbeat having stopped. A second stop
    signal always ends the running task (`shutdown`)."""

    def __init__(self, *, retry_max: float = LAST_RETRY, **options):
        super().__init__(**options)
        self.retry_max = retry_max
        self.outages = 0
        self.stop_signals = 0

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        """A first TERM or Ctrl-C lets the running task finish, a second ends it.

        db_worker's handler logs the first signal before it records it, and CPython runs a handler
        again inside one still running: a second signal sent once the line is out could land in
        between, be taken for a first one, and leave a task blocked in a statement running for
        good. Counted first (no call before it, so no handler can run in between), a second signal
        always ends the task, whenever it comes."""
        self.stop_signals += 1
        if self.stop_signals > 1:
            self.running = False
        super().shutdown(signum, frame)

    def run(self) -> None:
        delay, outage = FIRST_RETRY, None
        while True:
            started = time.monotonic()
            try:
                if outage is not None:
                    self.fail_interrupted(outage)
                return super().run()
            except (OperationalError, InterfaceError) as error:
                outage = error
                self.outages += 1
                if time.monotonic() - started > self.retry_max:
                    delay = FIRST_RETRY  # it worked for a while: a new outage
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                logger.warning(
                    "数据库不可用 / database unavailable (%s): retrying in %g s", reason, delay
                )
                for connection in connections.all(initialized_only=True):
                    try:
                        connection.close()
                    except DatabaseError:
                        connection.connection = None  # dead already: a new one comes on next use
                # A TERM or Ctrl-C now ends the worker at once (no task is running).
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                self.startup_delay = False

    def fail_interrupted(self, error: BaseException) -> int:
        """Record as failed the task this worker was running when the database went (the queue
        still says running, and no one else will ever end it); how many there were."""
        interrupted = DBTaskResult.objects.filter(
            status=TaskResultStatus.RUNNING, worker_ids__contains=[self.worker_id]
        )
        count = 0
        for result in interrupted:
            result.set_failed(error)
            count += 1
        return count


class Command(db_worker.Command):
    help = (
        "Run the background worker (exports, import dry runs and commits) as `db_worker` does, "
        "with the same options, but survive the database going away: on a connection error it "
        "waits (1 s, doubling up to --retry-max) and reconnects instead of exiting."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--retry-max",
            type=float,
            default=LAST_RETRY,
            help="Longest wait between attempts to reach the database, in seconds (default: 30)",
        )

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        retry_max: float,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ReconnectingWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
            retry_max=retry_max,
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
