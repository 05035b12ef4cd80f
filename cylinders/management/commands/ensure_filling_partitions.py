"""Create the monthly partitions of the filling records ahead of time (run monthly, e.g. by cron)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cylinders.services import ensure_partitions


class Command(BaseCommand):
    help = "Create the filling-record partitions from this month (or --from) for --months months."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument(
            "--from", dest="first", help="first month, YYYY-MM (default: this month)"
        )

    def handle(self, *args, months, first, **options):
        if not 1 <= months <= 240:
            raise CommandError("--months must be 1–240")
        try:
            start = dt.date.fromisoformat(f"{first}-01") if first else timezone.localdate()
        except ValueError:
            raise CommandError("--from must be YYYY-MM") from None
        made = ensure_partitions(start.replace(day=1), months)
        self.stdout.write(f"{made} new monthly partition(s)")
