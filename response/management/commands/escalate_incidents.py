"""Time out unanswered dispatches past their deadline and ask the next 96333 tier."""

import time

from django.core.management.base import BaseCommand, CommandError

from response.dispatch import escalate_due


class Command(BaseCommand):
    help = (
        "One pass: every ask past its deadline unanswered is timed out and the next tier is asked. "
        "With --loop SECONDS, a pass every SECONDS until stopped. Safe to run twice at once: each "
        "incident is escalated under its row lock."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", type=float, metavar="SECONDS", help="repeat a pass every SECONDS"
        )

    def handle(self, *args, loop=None, **options):
        if loop is not None and loop <= 0:
            raise CommandError("--loop takes a positive number of seconds")
        while True:
            asked = escalate_due()
            if asked or options["verbosity"] > 1:
                self.stdout.write(
                    f"{len(asked)} escalated: "
                    + ", ".join(f"incident {d.incident_id} → {d.tier}" for d in asked)
                )
            if loop is None:
                return
            time.sleep(loop)
