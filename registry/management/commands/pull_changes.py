"""Pull each province's change feed and apply it to this (national) instance."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from registry.exchange.pull import pull
from registry.models.exchange import ExchangePeer, PullState


class Command(BaseCommand):
    help = (
        "Pull and apply the change feed of every province (or --peer CODE) after the cursor "
        "already applied. Stops a province at the first gap, broken hash or failed request, "
        "keeping what was applied before it; run again to resume. With --loop SECONDS, a pass "
        "every SECONDS until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--peer", metavar="CODE", help="only this province (division code)")
        parser.add_argument("--limit", type=int, help="entries per page")
        parser.add_argument(
            "--loop", type=float, metavar="SECONDS", help="repeat a pass every SECONDS"
        )

    def handle(self, *args, peer=None, limit=None, loop=None, **options):
        if loop is not None and loop <= 0:
            raise CommandError("--loop takes a positive number of seconds")
        peers = ExchangePeer.objects.all()
        if peer:
            peers = peers.filter(code=peer)
            if not peers.exists():
                raise CommandError(f"no exchange peer {peer} (add one with add_exchange_peer)")
        failed = False
        while True:
            for each in peers:
                bar = tqdm(
                    desc=f"{each.code}",
                    unit="entry",
                    file=sys.stderr,
                    initial=each.applied_seq,
                    disable=options["verbosity"] == 0,
                )

                def progress(applied, last, bar=bar):
                    bar.total = max(last, applied)
                    bar.update(applied - bar.n)

                result = pull(each, limit=limit, progress=progress)
                bar.close()
                self.stdout.write(result.summary())
                failed = failed or result.state != PullState.OK
            if loop is None:
                break
            time.sleep(loop)
        if failed:
            raise CommandError("a province's pull stopped early: see the summary above")
