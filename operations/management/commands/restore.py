"""Restore a backup into a new database and a new directory, and verify it (docs/backup.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore SOURCE (a `backup` directory) into a NEW database of this server and a NEW "
        "directory, then check the row counts and file checksums against the manifest and the "
        "change log's hash chain. Any mismatch is an error (exit 1) and what was restored is "
        "removed, unless --keep-failed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="the backup directory")
        parser.add_argument("--database", required=True, help="name of the database to create")
        parser.add_argument(
            "--files-to", required=True, help="directory for the files (new or empty)"
        )
        parser.add_argument(
            "--keep-failed", action="store_true", help="keep a failed restore to look at"
        )

    def handle(self, *args, source, database, files_to, keep_failed, verbosity, **options) -> None:
        started = time.monotonic()
        say = (
            (lambda step: print(f"restore: {step}", file=sys.stderr))
            if verbosity
            else (lambda _: None)
        )
        try:
            timings = restore_backup(
                Path(source),
                database=database,
                files_to=Path(files_to),
                keep_failed=keep_failed,
                progress=say,
            )
        except BackupError as error:
            raise CommandError(
                "恢复未通过校验 / restore failed verification:\n" + str(error)
            ) from error
        self.stdout.write(
            json.dumps(
                {
                    "restored": database,
                    "files_to": files_to,
                    "verified": True,
                    "seconds": round(time.monotonic() - started, 3),
                    "timings_s": timings,
                }
            )
        )
