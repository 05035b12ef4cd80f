"""Issue or revoke an inspection body's feed key (an administrator's act, audited)."""

from django.core.management.base import BaseCommand, CommandError

from inspections import services
from inspections.models import FeedAccount


class Command(BaseCommand):
    help = "Issue (shown once) or revoke the feed key of the inspection body with this credit code."

    def add_arguments(self, parser):
        parser.add_argument("credit_code")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, credit_code, revoke, **options):
        account = (
            FeedAccount.objects.select_related("body").filter(body__credit_code=credit_code).first()
        )
        if account is None:
            raise CommandError(
                f"no feed account for {credit_code}: open one first (docs/inspections.md)"
            )
        if revoke:
            count = services.revoke_feed_token(account, acting_user=None)
            self.stdout.write(f"revoked {count} key(s) of {account.body.name}")
            return
        key = services.issue_feed_token(account, acting_user=None)
        self.stdout.write(key)
        self.stderr.write(f"key of {account.body.name}: shown once, only its digest is kept")
