"""Remove upload directories no import job needs any more."""

from django.core.management.base import BaseCommand

from registry.importers.jobs import clean_imports


class Command(BaseCommand):
    help = (
        "Remove the stored uploads of import jobs committed or failed more than a day ago, of "
        "uploads older than IMPORT_KEEP_DAYS, and directories no job owns; a running job's upload "
        "is never touched. Run it periodically (cron, systemd timer)."
    )

    def handle(self, *args, **options):
        report = clean_imports()
        self.stdout.write(
            f"{report['finished']} finished, {report['old']} old, "
            f"{report['orphans']} orphaned upload directories removed"
        )
