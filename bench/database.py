"""A benchmark database of its own, filled by the synthetic registry generator."""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_database(database: str, *, recreate: bool) -> None:
    """Point Django at a benchmark database of its own on the configured server (new, or as left)."""
    import environ

    env = environ.Env()
    environ.Env.read_env(ROOT / "var" / "env", overwrite=False)
    base = env.db_url("DATABASE_URL", default="postgis://postgres@127.0.0.1:5432/segis")
    if recreate:
        import psycopg

        admin = psycopg.connect(
            host=base["HOST"],
            port=base["PORT"] or 5432,
            user=base["USER"],
            password=base["PASSWORD"],
            dbname="postgres",
            autocommit=True,
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
        admin.close()
    os.environ["DATABASE_URL"] = (
        f"postgis://{base['USER']}:{base['PASSWORD']}@{base['HOST']}:{base['PORT'] or 5432}/{database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    # Timed as served: no debug SQL log; the test Client calls itself "testserver"; connections
    # as production keeps them (config.settings.prod: each worker its own, no pool checkout).
    os.environ.setdefault("DATABASE_POOL", "false")
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
    # Loading millions of rows runs COPYs and index builds far past a request's 30 s bound, and
    # holds its transaction while the next batch is generated.
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
    os.environ.setdefault("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", "0")
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    import django

    django.setup()


def load_registry(prefix: str, devices: int):
    """Migrate, load the boundaries under the prefix and generate the registry; print and return the report."""
    from django.core.management import call_command

    from registry.synthetic import generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("load_boundaries", cnmaps=[prefix], verbosity=0)
    boundaries = time.perf_counter() - started
    report = generate(prefix=prefix, devices=devices, seed=2026)
    print(f"boundaries under {prefix}: {boundaries:.1f} s")
    print(
        f"load {devices:,} devices: {sum(report.rows.values()):,} rows in {report.seconds:.1f} s "
        f"= {report.rows_per_second:,.0f} rows/s ({devices / report.seconds:,.0f} devices/s)"
    )
    return report
