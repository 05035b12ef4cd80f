"""Throwaway PostgreSQL clusters for the recovery and replica tests: Debian's server binaries in a
temporary directory on a free port, run as the postgres system user when the tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port


def server_binaries() -> Path | None:
    majors = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()),
        key=lambda p: int(p.name),
    )
    found = [p / "bin" for p in majors if (p / "bin" / "pg_ctl").exists()]
    return found[-1] if found else None


BIN = server_binaries()
needs_server = pytest.mark.skipif(
    BIN is None,
    reason="PostgreSQL's server binaries are not installed (./segis setup installs them)",
)


def as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """The server refuses to run as root: root runs it as the postgres system user."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, **kwargs)


class Cluster:
    def __init__(self, data: Path, port: int):
        self.data, self.port = data, port

    def sql(self, statement: str) -> str:
        return as_postgres(
            str(BIN / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-Atqc", statement,
        ).stdout.strip()  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")


def start(data: Path, port: int) -> None:
    as_postgres(
        str(BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {data}", "start",
    )  # fmt: skip


@pytest.fixture
def workdir():
    # Not pytest's tmp_path: the postgres user must reach it (/tmp/pytest-of-root is root's).
    path = Path(tempfile.mkdtemp(prefix="segis-pitr-"))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def primary(workdir):
    data = workdir / "primary"
    as_postgres(
        str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
    )
    cluster = Cluster(data, free_port())
    start(data, cluster.port)
    yield cluster
    cluster.stop()
