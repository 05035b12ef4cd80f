"""PostgreSQL's own tools (pg_dump, pg_restore) pointed at a database of the settings, and plain
connections to another database of the same server (one being restored, the maintenance one)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def _settings(using: str = DEFAULT_DB_ALIAS) -> dict:
    return settings.DATABASES[using]


def libpq_env(database: str | None = None, *, using: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """The environment that points libpq's tools at `database` (default: the alias's own) with
    the alias's role: the password goes in the environment, never on a command line."""
    db = _settings(using)
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", db.get("HOST")),
        ("PGPORT", db.get("PORT")),
        ("PGUSER", db.get("USER")),
        ("PGPASSWORD", db.get("PASSWORD")),
        ("PGDATABASE", database or db["NAME"]),
    ):
        if value:
            env[key] = str(value)
    return env


def connect(database: str, *, using: str = DEFAULT_DB_ALIAS, **kwargs) -> psycopg.Connection:
    """A connection of the alias's role to another database of the same server."""
    db = _settings(using)
    params = {
        "dbname": database,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v}, **kwargs)


def url(database: str, *, using: str = DEFAULT_DB_ALIAS) -> str:
    """The alias's URL with another database name (for a child process's DATABASE_URL)."""
    db = _settings(using)
    user = quote(db.get("USER") or "", safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgis://{auth}{host}{port}/{quote(database, safe='')}"


def tool(name: str, server_major: int) -> str:
    """The server's own major of a client tool (pg_dump refuses a newer server; Debian installs
    each major beside the others), else the one on PATH."""
    own = DEBIAN_BINARIES / str(server_major) / "bin" / name
    if own.exists():
        return str(own)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} 未安装 / {name} is not installed (apt install postgresql-client)"
        )
    return found


def version(binary: str) -> str:
    return subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
