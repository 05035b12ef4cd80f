"""Import a file into the registry from the command line: a dry run unless --commit."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from geo import crs
from registry.exceptions import RegistryError
from registry.importers import datasets, report
from registry.importers.intake import discard_upload, store_upload
from registry.importers.mapping import suggest_mapping
from registry.importers.pipeline import ImportOutcome, ImportRequest, run_import
from registry.importers.readers import open_rows
from registry.models.imports import Dataset, SavedMapping


class Command(BaseCommand):
    help = (
        "Validate a file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) against the registry "
        "and, with --commit, write it: all rows or none. Without --map the columns are matched by "
        "their headers. Exits with status 1 when the file has errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dataset", default=Dataset.EQUIPMENT, choices=datasets.names())
        parser.add_argument("--source", default="", help="the data's source (its saved mapping)")
        parser.add_argument("--crs", default="wgs84", help="wgs84, cgcs2000, gcj02 or bd09")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="ELEMENT=COLUMN",
            help="map a data element to a column (repeatable); the others are suggested",
        )
        parser.add_argument("--layer", default=None, help="sheet or layer name")
        parser.add_argument("--encoding", default=None, help="a Shapefile .dbf's encoding")
        parser.add_argument("--user", default=None, help="act as this user (their jurisdiction)")
        parser.add_argument(
            "--commit", action="store_true", help="write the rows (default: dry run)"
        )
        parser.add_argument("--report", type=Path, default=None, help="write the findings as CSV")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        user = self._user(options["user"])
        try:
            source_crs = crs.CRS.parse(options["crs"])
        except crs.UnknownCRS as error:
            raise CommandError(str(error)) from error
        with path.open("rb") as data:
            upload = store_upload(data, path.name)
        try:
            outcome = self._run(upload, options, user, source_crs)
        except RegistryError as error:
            raise CommandError(_problems(error)) from error
        finally:
            discard_upload(upload)
        if options["report"]:
            _write_report(options["report"], outcome)
        verb = "committed" if outcome.committed else "dry run"
        self.stdout.write(f"{verb}: {outcome.headline()}")
        self.stdout.write(
            f"{outcome.rows} rows, {outcome.errors} errors, {outcome.warnings} warnings, "
            f"{outcome.rows_per_second:.0f} rows/s ({outcome.seconds:.1f} s)"
        )
        if outcome.errors:
            for finding in outcome.findings[:10]:
                if finding.severity == "error":
                    self.stdout.write(
                        f"  row {finding.row} {finding.column}: {finding.message}"
                        + (f" ({finding.suggestion})" if finding.suggestion else "")
                    )
            sys.exit(1)

    def _run(self, upload, options, user, source_crs) -> ImportOutcome:
        dataset = options["dataset"]
        with open_rows(upload, layer=options["layer"], encoding=options["encoding"]) as rows:
            columns = rows.columns
        given = dict(_pair(item) for item in options["map"])
        saved = SavedMapping.objects.filter(
            agency=getattr(user, "agency", None), source=options["source"], dataset=dataset
        ).first()
        suggested = suggest_mapping(columns, dataset, saved.mapping if saved else None)
        mapping = {**{k: v for k, v in suggested.items() if v not in given.values()}, **given}
        self.stdout.write("mapping: " + ", ".join(f"{k}={v}" for k, v in mapping.items()))
        request = ImportRequest(
            dataset=dataset,
            mapping=mapping,
            source_crs=source_crs,
            layer=options["layer"],
            encoding=options["encoding"],
        )
        bar = tqdm(desc="rows", unit=" rows", file=sys.stderr, disable=None)

        def progress(done: int, total: int | None) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        try:
            return run_import(
                upload, request, acting_user=user, commit=options["commit"], progress=progress
            )
        finally:
            bar.close()

    def _user(self, username: str | None) -> User | None:
        if username is None:
            return None
        try:
            return User.objects.select_related("agency").get(username=username)
        except User.DoesNotExist as error:
            raise CommandError(f"no such user: {username}") from error


def _pair(item: str) -> tuple[str, str]:
    element, sep, column = item.partition("=")
    if not sep or not element.strip():
        raise CommandError(f"--map wants ELEMENT=COLUMN, not {item!r}")
    return element.strip(), column.strip()


def _problems(error: RegistryError) -> str:
    return "; ".join(
        f"{field}: {item['message']}" for field, items in error.as_dict().items() for item in items
    )


def _write_report(path: Path, outcome: ImportOutcome) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(report.HEADER)
        for f in outcome.findings:
            writer.writerow(
                [f.row, f.column, f.value, report.SEVERITIES.get(f.severity, f.severity), f.rule,
                 f.message, f.suggestion]
            )  # fmt: skip
