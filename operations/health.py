"""What a load balancer asks: is the process alive (liveness), and can it serve (readiness: the
database, each replica within its lag bound, a job worker connected, room for exports)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

# The worker's connections carry this name (manage.py sets PGAPPNAME for run_worker, db_worker).
WORKER_APPLICATION_NAME = "segis-worker"

# Seconds the replica's last replayed transaction is behind, or 0 when it has replayed all it has
# received (an idle primary sends nothing new, so the replay time alone would grow for ever).
REPLICA_LAG_SQL = """
    SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
"""


def database() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def replica_lag(alias: str) -> float | None:
    """Seconds behind the primary; None when the alias is not a standby at all."""
    with connections[alias].cursor() as cursor:
        cursor.execute(REPLICA_LAG_SQL)
        lag = cursor.fetchone()[0]
    return None if lag is None else float(lag)


def replicas() -> list[str]:
    """The replica aliases (DATABASE_REPLICA_URLS makes `replica`, `replica2`, …)."""
    return [alias for alias in connections.settings if alias.startswith("replica")]


def replica_ready(alias: str) -> bool:
    """Up, a standby, and within the lag bound; an unreachable one is not (and its connection is
    dropped, so the next look opens a new one)."""
    try:
        lag = replica_lag(alias)
    except DatabaseError as error:
        connections[alias].close()
        logger.warning("replica %s unreachable: %s", alias, str(error).strip().splitlines()[:1])
        return False
    return lag is not None and lag <= settings.READY_REPLICA_MAX_LAG.total_seconds()


def worker() -> bool:
    """A job worker holds a connection to this database (it polls the queue through it)."""
    if not settings.READY_REQUIRES_WORKER:
        return True
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = %s "
            "AND datname = current_database())",
            [WORKER_APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def export_space() -> bool:
    """The export directory exists, may be written, and has the free space set aside."""
    root = Path(settings.EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    return os.access(root, os.W_OK) and free >= settings.READY_MIN_FREE_EXPORT_BYTES


def checks() -> dict[str, Callable[[], bool]]:
    """What readiness requires. A replica only where READY_REQUIRES_REPLICAS says so (a host of a
    read pool): elsewhere reads fall back to the primary, so a lost replica leaves a host able to
    serve, and the router logs the replica it skips."""
    found: dict[str, Callable[[], bool]] = {"database": database}
    if settings.READY_REQUIRES_REPLICAS:
        for alias in replicas():
            found[alias] = lambda alias=alias: replica_ready(alias)
    found |= {"worker": worker, "export_space": export_space}
    return found


def failing() -> list[str]:
    """The names of the checks that fail now; each failure is logged with its reason (the
    probe's answer says nothing of them)."""
    failed = []
    for name, check in checks().items():
        try:
            ok = check()
        except (DatabaseError, OSError) as error:
            logger.warning("readiness: %s failed: %s", name, str(error).strip().splitlines()[:1])
            ok = False
        else:
            if not ok:
                logger.warning("readiness: %s not ready", name)
        if not ok:
            failed.append(name)
    return failed
