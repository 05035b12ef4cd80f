"""Back up the database and the kept files into a directory, with a manifest (docs/backup.md)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from operations.backup import BackupError, make_backup


class Command(BaseCommand):
    help = (
        "Dump the database (pg_dump, custom format, one snapshot) and copy the valid exports and "
        "the uploads into DEST (new or empty; default var/backups/<UTC time>), with manifest.json: "
        "row counts per table, sha256 of every file, versions and times."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("dest", nargs="?", help="directory to write (new or empty)")

    def handle(self, *args, dest: str | None, verbosity: int, **options) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = Path(dest) if dest else Path(settings.VAR_DIR) / "backups" / stamp
        started = time.monotonic()
        say = (lambda step: print(f"backup: {step}", file=sys.stderr)) if verbosity else None
        try:
            manifest = make_backup(target, progress=say or (lambda _: None))
        except BackupError as error:
            raise CommandError(str(error)) from error
        except subprocess.CalledProcessError as error:
            raise CommandError(
                f"{error.cmd[0]} failed: {error.stderr.decode(errors='replace')}"
            ) from error
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            json.dumps(
                {
                    "backup": str(target),
                    "tables": len(manifest["tables"]),
                    "rows": rows,
                    "files": len(manifest["files"]),
                    "dump_bytes": manifest["dump"]["size"],
                    "seconds": round(time.monotonic() - started, 3),
                    "timings_s": manifest["timings_s"],
                }
            )
        )
