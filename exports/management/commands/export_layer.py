"""Export a map layer, as a user's jurisdiction and the map's filters select it, to a GIS file."""

import signal
import sys
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from tqdm import tqdm

from accounts.models import User
from exports.core import download_names, export_layer
from exports.options import FORMATS, LAYER_TITLES, MAX_POLYGON_BYTES, ExportError, parse_request

OPTIONS = {"user", "layer", "format", "crs", "region", "bbox", "polygon"}


def _exit_on_sigterm(signum, frame):
    # SystemExit unwinds like any exception: the export's temporary directory is removed.
    sys.exit(128 + signum)


class Command(BaseCommand):
    help = (
        "Export a layer of the map (equipment, overdue, units, accidents, resources, or the region "
        "statistics of its choropleth) for a user's jurisdiction, with the map's filters and an "
        "optional area, as GeoPackage, Shapefile, GeoJSON, KML, CSV or XLSX in an allow-listed "
        "coordinate system."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", required=True, help="username whose jurisdiction scopes the export"
        )
        parser.add_argument("--layer", required=True, help=f"one of {', '.join(LAYER_TITLES)}")
        parser.add_argument(
            "--format", default="gpkg", help=f"one of {', '.join(FORMATS)} (default gpkg)"
        )
        parser.add_argument(
            "--crs",
            default="wgs84",
            help="wgs84 (default), cgcs2000, webmercator, gcj02, gk25 … gk45 (CGCS2000 "
            "Gauss-Krüger zones, EPSG:4513–4533), or one of those EPSG codes",
        )
        parser.add_argument(
            "--region", help="division-code prefix (2–6 digits) inside the jurisdiction"
        )
        parser.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat in WGS84 degrees")
        parser.add_argument(
            "--polygon", type=Path, help="file holding a GeoJSON Polygon/MultiPolygon in WGS84"
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a map filter of the layer, e.g. kind=3000,4000 or status=in_use; regions take the "
            "choropleth's (equipment filters, window, accident_from, accident_to) (repeatable)",
        )
        parser.add_argument(
            "--output",
            type=Path,
            help="file to write (replaced if present), or a directory for the suggested name "
            "(default: the current directory)",
        )

    def handle(self, *args, **options):
        user = self._user(options["user"])
        try:
            request = parse_request(
                user,
                layer=options["layer"],
                format=options["format"],
                crs=options["crs"],
                filters=self._filters(options["filter"]),
                region=options["region"],
                bbox=options["bbox"],
                polygon=self._polygon(options["polygon"]),
            )
        except ExportError as error:
            raise CommandError(self._explain(error)) from None
        name, _ = download_names(
            user, request.layer, request.query, request.area, request.format, request.target
        )
        output = options["output"] or Path.cwd()
        if output.is_dir():
            output = output / name
        bar = tqdm(
            unit=" rows",
            file=self.stderr._out,
            disable=options["verbosity"] == 0,
            desc=f"{request.layer} → {request.format.name}",
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            result = export_layer(
                user,
                request.layer,
                request.query,
                request.area,
                request.format,
                request.target,
                output,
                progress=progress,
            )
        except ExportError as error:
            raise CommandError(self._explain(error)) from None
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.stdout.write(
            f"{result.features:,} features → {result.path} in {result.seconds:.1f} s "
            f"({result.rows_per_second:,.0f} rows/s); "
            f"{result.format.title}, {result.target.label} (EPSG:{result.target.srid})"
        )

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).select_related("agency").first()
        if user is None:
            raise CommandError(f"--user: 没有用户 / no user named {username!r}")
        if not user.is_active:
            raise CommandError(f"--user: 用户已停用 / user {username!r} is inactive")
        return user

    def _filters(self, items: list[str]) -> QueryDict:
        filters = QueryDict(mutable=True)
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"--filter: 应为 NAME=VALUE / expected NAME=VALUE, got {item!r}")
            filters.appendlist(name.strip(), value)
        return filters

    def _polygon(self, path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            with path.open("rb") as handle:
                return handle.read(MAX_POLYGON_BYTES + 1)
        except OSError as error:
            raise CommandError(
                f"--polygon: 无法读取 / cannot read {path}: {error.strerror}"
            ) from None

    @staticmethod
    def _explain(error: ExportError) -> str:
        """One line per problem, under the option that carries it (map filters under --filter)."""
        lines = []
        for name, message in error.errors.items():
            option = f"--{name}" if name in OPTIONS else f"--filter {name}"
            lines.append(f"{option}: {message}")
        return "\n".join(lines)
