"""A streaming replica for real (scripts/replica.sh): rows written on a throwaway primary are read on
its standby once it has caught up, through a `replica` database alias, inside a read-only request;
a standby stopped, or behind by more than the bound, sends the reads back to the primary."""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connections

from operations import health, replicas
from registry.models import Equipment
from tests.conftest import free_port
from tests.operations.clusters import BIN, Cluster, needs_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_server


@pytest.fixture
def standby(primary, workdir):
    cluster = Cluster(workdir / "standby", free_port())
    env = os.environ | {"PGHOST": "127.0.0.1", "PGPORT": str(primary.port), "PG_BIN": str(BIN)}
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "replica.sh"), "start", str(cluster.data), str(cluster.port)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    yield cluster
    cluster.stop()


@pytest.fixture
def replica_alias(standby, settings, django_db_blocker):
    """A `replica` alias at the standby, as DATABASE_REPLICA_URLS makes one; reads allowed."""
    config = copy.deepcopy(connections.settings["default"])
    config |= {"NAME": "postgres", "HOST": "127.0.0.1", "PORT": standby.port, "USER": "postgres"}
    config |= {"PASSWORD": "", "OPTIONS": {}}
    connections.settings["replica"] = config
    settings.REPLICA_CHECK_SECONDS = 0  # look at the standby on every read
    with django_db_blocker.unblock():
        yield "replica"
        connections["replica"].close()
    del connections["replica"]
    del connections.settings["replica"]


def replica_count() -> int | None:
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM device")
            return cursor.fetchone()[0]
    except Exception:  # noqa: BLE001  the table may not have arrived yet
        connections["replica"].close()
        return None


def test_reads_go_to_the_standby_and_back_to_the_primary_when_it_stops(
    primary, standby, replica_alias, settings
):
    primary.sql("CREATE TABLE device (id int PRIMARY KEY)")
    primary.sql("INSERT INTO device SELECT generate_series(1, 100)")
    deadline = time.monotonic() + 120
    while replica_count() != 100:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.1)

    assert 0 <= health.replica_lag("replica") <= settings.READY_REPLICA_MAX_LAG.total_seconds()
    with replicas.reading():
        assert replicas.read_alias() == "replica"
        assert replicas.ReplicaRouter().db_for_read(Equipment) == "replica"
        with replicas.read_connection().cursor() as cursor:
            cursor.execute("SELECT count(*), pg_is_in_recovery() FROM device")
            assert cursor.fetchone() == (100, True)
    # Outside a read-only request, and for every write, the primary.
    assert replicas.read_alias() == "default"
    assert replicas.ReplicaRouter().db_for_write(Equipment) == "default"
    assert replicas.ReplicaRouter().allow_migrate("replica", "registry") is False

    settings.READY_REPLICA_MAX_LAG = dt.timedelta(seconds=-1)  # any lag is too much
    with replicas.reading():
        assert replicas.read_alias() == "default"
    settings.READY_REPLICA_MAX_LAG = dt.timedelta(seconds=30)

    # Readiness requires it only where the host must serve from it (a read pool's).
    assert "replica" not in health.checks()
    settings.READY_REQUIRES_REPLICAS = True
    assert "replica" in health.checks()

    standby.stop()
    assert not health.checks()["replica"]()  # the read pool's host is then not ready
    with replicas.reading():
        assert replicas.read_alias() == "default"
    assert not replicas.ready("replica")
