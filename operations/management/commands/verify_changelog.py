"""Check this database's change log: gap-free sequence, every hash chained, the head at its end."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from registry.exchange import feed
from registry.exchange.pull import verify
from registry.models.exchange import GENESIS_HASH, ChangeLogHead, ExchangePeer

PAGE = 5000


class Command(BaseCommand):
    help = (
        "Verify the change log's hash chain from its first entry with the national side's own "
        "verifier (after a restore: DATABASE_URL=… manage.py verify_changelog). Exit 1 on a gap, "
        "a wrong hash or a head that does not match the last entry."
    )

    def handle(self, *args, **options) -> None:
        # The verifier reads a peer's cursor; an unsaved one starting at the genesis stands in.
        peer = ExchangePeer(applied_seq=0, last_hash=GENESIS_HASH)
        while True:
            entries = feed.page(peer.applied_seq, PAGE)["entries"]
            good, stop = verify(peer, entries)
            if good:
                peer.applied_seq, peer.last_hash = good[-1]["seq"], good[-1]["hash"]
            if stop is not None:
                raise CommandError(f"{stop.state}: {stop.message}")
            if len(entries) < PAGE:
                break
        head = ChangeLogHead.objects.filter(pk=1).values_list("last_seq", "last_hash").first()
        if (head or (0, GENESIS_HASH)) != (peer.applied_seq, peer.last_hash):
            raise CommandError(
                f"日志头 {head} 与最后条目不符 / the head {head} is not the last entry "
                f"({peer.applied_seq}, {peer.last_hash})"
            )
        self.stdout.write(f"change log verified: {peer.applied_seq} entries, head {peer.last_hash}")
