"""Remove what exports no longer need: expired files, jobs whose process died, stale scratch files."""

from django.core.management.base import BaseCommand

from exports.jobs import clean_exports


class Command(BaseCommand):
    help = (
        "Expire done exports past their expiry (their files are deleted), fail the jobs whose "
        "process was killed or stalled (their partial and scratch files are deleted), and remove "
        "directories no job owns. Run it at worker start and periodically (cron, systemd timer)."
    )

    def handle(self, *args, **options):
        report = clean_exports()
        self.stdout.write(
            f"{report['expired']} expired, {report['abandoned']} abandoned jobs failed, "
            f"{report['orphans']} orphaned directories removed"
        )
