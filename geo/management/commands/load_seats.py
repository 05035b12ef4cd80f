"""Load seats of government (驻地) into the region table: the bundled AMap seats, or an operator's CSV."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from geo import crs
from geo.seats import BUNDLED, BUNDLED_CRS, MAX_OUTSIDE_M, SeatError, read_seats, set_seats


class Command(BaseCommand):
    help = (
        "Set Region.seat from a CSV (code, name, longitude, latitude); without a file, the bundled "
        "AMap seats in GCJ-02 (geo/data/NOTICE.md). Seats far outside their region are refused."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", nargs="?", type=Path, help="seat file (default: the bundled one)"
        )
        parser.add_argument(
            "--crs",
            dest="source_crs",
            help="the file's coordinate system: wgs84 (default for a file), cgcs2000, gcj02, bd09",
        )
        parser.add_argument(
            "--prefix",
            nargs="+",
            default=[""],
            metavar="PREFIX",
            help="only these division-code prefixes",
        )

    def handle(self, *args, path=None, source_crs=None, prefix, **options):
        if path is None and source_crs:
            raise CommandError("--crs is for a file of your own: the bundled seats are GCJ-02")
        try:
            if path is None:
                path, file_crs = BUNDLED, BUNDLED_CRS
            else:
                file_crs = crs.CRS.parse(source_crs or "wgs84")
            report = set_seats(read_seats(path), source_crs=file_crs, prefixes=prefix)
        except (SeatError, crs.UnknownCRS) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"seats: {report.set} set, {len(report.refused)} refused, "
            f"{len(report.without_region)} for regions not loaded"
        )
        for code, name, metres in report.refused:
            self.stderr.write(
                f"  refused {code} {name}: {metres / 1000:.1f} km outside its region "
                f"(more than {MAX_OUTSIDE_M / 1000:.0f} km)"
            )
