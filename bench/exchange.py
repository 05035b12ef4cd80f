"""Benchmark: the change log and the change feed (registry/exchange, docs/exchange.md).

    .venv/bin/python bench/exchange.py                    # 200,000 devices
    .venv/bin/python bench/exchange.py --devices 50000
    .venv/bin/python bench/exchange.py --record-only      # the recording rate alone

1. A provincial database (bench_exchange_province) is filled by the synthetic generator under
   Ningxia (64), written without the log; then every unit and device is recorded with
   `changelog.record_rows` in one transaction, as the importer's commit does: recording rate.
2. A national database (bench_exchange_national) is a copy with the registry emptied; the province
   is served by `manage.py runserver` on loopback and the nation pulls the whole feed over HTTP
   with `pull` (pages of --page entries): apply rate, entries/s end to end (fetch, verify the
   chain, apply, cursor). Results go to stdout with the machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import load_registry, use_database  # noqa: E402

PROVINCE, NATIONAL = "bench_exchange_province", "bench_exchange_national"
REGISTRY_TABLES = (
    "registry_changeentry, registry_changeloghead, registry_exchangelink, "
    "registry_exchangeconflict, registry_exchangepeer, registry_certificate, registry_person, "
    "registry_inspection, registry_lifecycleevent, registry_accident, registry_emergencyresource, "
    "registry_equipment, registry_unit"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--record-only", action="store_true", help="skip the pull")
    args = parser.parse_args()

    # No pool: the national database is copied from the provincial one, which needs it unused.
    os.environ["DATABASE_POOL"] = "0"
    use_database(PROVINCE, recreate=True)
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.machine import describe
    from registry.exchange import changelog
    from registry.models import Equipment, Unit

    load_registry("64", args.devices)
    units = list(Unit.objects.values_list("pk", flat=True))
    devices = list(Equipment.objects.values_list("pk", flat=True))
    with transaction.atomic():
        started = time.perf_counter()
        changelog.record_rows(Unit, units, changelog.ChangeOperation.CREATE)
        unit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        changelog.record_rows(Equipment, devices, changelog.ChangeOperation.CREATE)
        device_seconds = time.perf_counter() - started
    print(
        f"record_rows: {len(units):,} units in {unit_seconds:.2f} s; {len(devices):,} devices in "
        f"{device_seconds:.2f} s = {len(devices) / device_seconds:,.0f} rows/s"
    )
    if args.record_only:
        print(describe())
        return
    from io import StringIO

    out = StringIO()
    call_command("issue_exchange_token", stdout=out)
    token = out.getvalue().strip()

    settings_dict = connection.settings_dict
    connection.close()
    import psycopg

    admin = psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{NATIONAL}"')
    admin.execute(f'CREATE DATABASE "{NATIONAL}" TEMPLATE "{PROVINCE}"')
    admin.close()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_POOL": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings_dict["NAME"] = NATIONAL
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {REGISTRY_TABLES} CASCADE")
        from registry.exchange.pull import pull
        from registry.models.exchange import ExchangePeer

        peer = ExchangePeer.objects.create(
            code="640000", base_url=f"http://127.0.0.1:{port}", token=token
        )
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        result = pull(peer, limit=args.page)
        print(
            f"pull over HTTP, pages of {args.page:,}: {result.applied:,} applied, "
            f"{result.conflicts:,} conflicts in {result.seconds:.1f} s = {result.rate:,.0f} entries/s "
            f"[{result.state}]"
        )
    finally:
        server.kill()
        server.wait()
    print(describe())


if __name__ == "__main__":
    main()
