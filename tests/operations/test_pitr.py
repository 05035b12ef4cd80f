"""Point-in-time recovery for real (scripts/pitr.sh): a throwaway PostgreSQL cluster archives its
WAL, a base backup is taken, rows are added, a mistaken bulk delete runs, and a cluster recovered to
the moment before it has every row back. No Django database: a cluster of its own on a free port."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.operations.clusters import BIN, Cluster, needs_server

ROOT = Path(__file__).resolve().parents[2]
PITR = ROOT / "scripts" / "pitr.sh"
pytestmark = needs_server


def pitr(*args: str, cluster: Cluster, archive: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "PGDATA": str(cluster.data), "PGPORT": str(cluster.port), "SEGIS_WAL_ARCHIVE": str(archive),
        "PG_BIN": str(BIN),
    }  # fmt: skip
    return subprocess.run(
        ["bash", str(PITR), *args], env=env, check=True, capture_output=True, text=True
    )


def test_recovery_to_before_a_mistaken_bulk_delete_finds_the_rows_back(primary, workdir):
    archive = workdir / "archive"
    pitr("enable", cluster=primary, archive=archive)
    assert primary.sql("SHOW archive_mode") == "on"
    primary.sql("CREATE TABLE device (id int PRIMARY KEY, code text NOT NULL)")
    primary.sql("INSERT INTO device SELECT i, 'D' || i FROM generate_series(1, 1000) i")
    pitr("base", str(workdir / "base"), cluster=primary, archive=archive)
    # Written after the base backup: only the archived WAL brings these back.
    primary.sql("INSERT INTO device SELECT i, 'D' || i FROM generate_series(1001, 1500) i")
    before = primary.sql("SELECT clock_timestamp()")
    primary.sql("DELETE FROM device WHERE id % 2 = 0")  # the mistake
    assert primary.sql("SELECT count(*) FROM device") == "750"
    # Close the segment and wait until the archiver has it.
    segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
    for _ in range(600):
        if (archive / segment).exists():
            break
        primary.sql("SELECT pg_sleep(0.1)")
    assert (archive / segment).exists(), "the archiver did not archive the last segment"

    recovered = Cluster(workdir / "recovered", free_port())
    try:
        pitr("recover", str(workdir / "base"), before, str(recovered.data), str(recovered.port),
             cluster=primary, archive=archive)  # fmt: skip
        assert recovered.sql("SELECT count(*), sum(id) FROM device") == f"1500|{1500 * 1501 // 2}"
        assert recovered.sql("SELECT pg_is_in_recovery()") == "f"  # promoted: writable again
        assert primary.sql("SELECT count(*) FROM device") == "750"  # the damaged one untouched
    finally:
        recovered.stop()


def test_recover_refuses_an_existing_directory(primary, workdir):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        pitr("recover", str(primary.data), "2026-01-01 00:00:00+00", str(primary.data), "1",
             cluster=primary, archive=workdir / "archive")  # fmt: skip
    assert "exists already" in failed.value.stderr
