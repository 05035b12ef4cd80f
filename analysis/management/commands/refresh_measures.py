"""Recompute the analysis desk's precomputed measures (analysis/precomputed.py)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analysis import precomputed


class Command(BaseCommand):
    help = (
        "Recompute the desk's measures of the counties marked stale or counted to another day "
        "(on a timer, after imports); --all: every county and today's overdue snapshot "
        "(nightly, after loading data); --county: those counties."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="every county")
        which.add_argument(
            "--county", action="append", default=[], help="a 6-digit region code (repeatable)"
        )
        parser.add_argument("--today", help="count as of this day (YYYY-MM-DD; default today)")
        parser.add_argument(
            "--backfill-years",
            type=int,
            metavar="N",
            help="also derive the overdue snapshots of the last N years' ends from the inspection "
            "records (days before the first snapshot; a taken snapshot is kept)",
        )

    def handle(self, *args, all=False, county=(), today=None, backfill_years=None, **options):
        try:
            day = dt.date.fromisoformat(today) if today else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"--today: {error}") from None
        bad = [c for c in county if not (len(c) == 6 and c.isascii() and c.isdigit())]
        if bad:
            raise CommandError(f"--county: not a 6-digit region code: {', '.join(bad)}")
        if all:
            done = precomputed.refresh(None, day)
        elif county:
            done = precomputed.refresh(county, day)
        else:
            done = precomputed.catch_up("", day, limit=None)
        if backfill_years:
            ends = [dt.date(day.year - n, 12, 31) for n in range(1, backfill_years + 1)]
            written = precomputed.backfill(ends)
            self.stdout.write(f"{written:,} derived snapshots for {ends[-1]}–{ends[0]}")
        self.stdout.write(
            f"{done.counties:,} counties recomputed as of {day} ({done.rows:,} county-year rows) "
            f"in {done.seconds:.1f} s"
        )
