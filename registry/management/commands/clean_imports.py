"""Fail abandoned import jobs and remove upload directories no import job needs any more."""

from django.core.management.base import BaseCommand

from registry.importers.jobs import clean_imports


class Command(BaseCommand):
    help = (
        "Fail the import jobs whose worker died or went silent (the job kernel's sweep), then "
        "remove the stored uploads of jobs committed, failed or cancelled more than a day ago, of "
        "uploads older than IMPORT_KEEP_DAYS, and directories no job owns; a running job's upload "
        "is never touched. Run it periodically (cron, systemd timer)."
    )

    def handle(self, *args, **options):
        report = clean_imports()
        self.stdout.write(
            f"{report['abandoned']} abandoned jobs failed, {report['finished']} finished, "
            f"{report['old']} old, {report['orphans']} orphaned upload directories removed"
        )
