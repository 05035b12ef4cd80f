"""The batch re-check of the filling rules over past fillings (cylinders.services.recheck_fillings)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cylinders.reads import day_bounds
from cylinders.services import recheck_fillings


class Command(BaseCommand):
    help = "Apply the filling rules again to the last --days days of fillings; add new violations."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1)

    def handle(self, *args, days, **options):
        if days <= 0:
            raise CommandError("--days must be positive")
        today = timezone.localdate()
        since = day_bounds(today - dt.timedelta(days=days - 1))[0]
        result = recheck_fillings(since, day_bounds(today)[1])
        self.stdout.write(
            f"violations added {result['violations_added']:,} · cylinder statuses changed "
            f"{result['statuses_changed']:,}"
        )
