"""Benchmark: the national data set at a chosen size, in a database of its own.

    .venv/bin/python bench/national.py --devices 230000        # 1 % of the nation
    .venv/bin/python bench/national.py --devices 23000000      # the nation (hours; ≈ disk below)

Creates (or empties) `segis_bench_national`, migrates, runs `generate_national` (every province's
boundaries and seats, devices by urban population, `--history-years` of inspections), and prints
rows/s per province, the database's size, its size per million devices and the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=230_000)
    parser.add_argument("--history-years", type=int, default=3)
    parser.add_argument("--database", default="segis_bench_national")
    args = parser.parse_args()

    from bench.database import use_database

    use_database(args.database, recreate=True)
    from django.core.management import call_command
    from django.db import connection

    from bench.machine import describe

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command(
        "generate_national", devices=args.devices, history_years=args.history_years, verbosity=1
    )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE n_live_tup > 0"
            " ORDER BY n_live_tup DESC LIMIT 8"
        )
        tables = cursor.fetchall()
    for table, rows in tables:
        print(f"  {table:32} {rows:>12,}")
    print(
        f"{args.devices:,} devices in {seconds:.0f} s (boundaries and seats included); "
        f"database {size / 2**30:.2f} GiB = {size / 2**30 / (args.devices / 1e6):.2f} GiB per million devices"
    )
    print(f"machine: {describe()}")


if __name__ == "__main__":
    main()
