"""Issue QR tokens in bulk (every device in use under a division, that has none), or reissue or
revoke one device's token."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from public import services
from public.card import ENDED
from registry.models import Equipment


class Command(BaseCommand):
    help = "Issue public QR tokens in bulk, or reissue/revoke one device's token."

    def add_arguments(self, parser):
        parser.add_argument("--region", default="", help="division-code prefix (default: all)")
        parser.add_argument("--reissue", metavar="CODE", help="a device code: a new token")
        parser.add_argument("--revoke", metavar="CODE", help="a device code: its label stops")
        parser.add_argument("--dry-run", action="store_true", help="count, write nothing")

    def handle(self, *args, region: str, reissue, revoke, dry_run: bool, **options):
        for code, verb in ((reissue, services.reissue_token), (revoke, services.revoke_token)):
            if code:
                device = Equipment.objects.by_code(code).first()
                if device is None:
                    raise CommandError(f"no device {code!r}")
                if not dry_run:
                    verb(device, acting_user=None)
                self.stdout.write(f"{verb.__name__} {code}")
                return
        devices = (
            Equipment.objects.within_prefix(region)
            .exclude(status__in=ENDED)
            .filter(public_token__isnull=True)
            .order_by("pk")
        )
        count = devices.count()
        if not dry_run:
            for start in range(0, count, 1000):
                services.ensure_tokens(list(devices[:1000]), acting_user=None)
                self.stderr.write(f"{min(start + 1000, count)}/{count}")
        self.stdout.write(f"{count} tokens {'to issue' if dry_run else 'issued'}")
