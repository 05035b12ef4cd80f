"""On a provincial instance: the account the national instance reads the change feed as, and its token."""

from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Role, User
from accounts.tokens import issue_api_token
from geo.models import Level
from registry.exchange import keys

# A year, not the 90 days of a person's token: nobody visits the token page for a service account,
# so its token ends only when an operator reissues it, and a yearly reissue is a task one plans
# for while a leaked token still stops working within the year.
DEFAULT_DAYS = 365
MAX_DAYS = 3650  # a token must still expire: ten years at most


class Command(BaseCommand):
    help = (
        "Create (or reuse) the national service account USERNAME, allowed to read the change "
        "feed and nothing else, and print a new API token for it (the old one stops working). "
        "Give the token to the national instance's add_exchange_peer. The token alone goes to "
        "stdout; its expiry and the key reminder go to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="national-exchange")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_DAYS,
            help=f"days the token is valid (default {DEFAULT_DAYS}; at most {MAX_DAYS})",
        )

    def handle(self, *args, username, days, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}, not {days}")
        token = self.issue(username, days)
        # stdout holds the token only, so `TOKEN=$(manage.py issue_exchange_token)` keeps working.
        self.stdout.write(token.key)
        expires = timezone.localtime(token.expires_at)
        self.stderr.write(
            f"令牌到期 / the token expires: {expires:%Y-%m-%d %H:%M %Z} ({days} days). Issue a new "
            "one before then and give it to the nation's add_exchange_peer, or its pulls stop "
            "with HTTP 401."
        )
        self.stderr.write(self.key_reminder(username))

    @staticmethod
    def key_reminder(username: str) -> str:
        """Pages are signed with the key shared with the reader: without it the feed answers 503."""
        try:
            held = keys.key_for(username) is not None
        except ImproperlyConfigured as error:
            return f"{keys.ENV} is malformed here: {error}"
        if held:
            return (
                f"{keys.ENV} holds a key for “{username}”: the nation needs the same key under "
                "this province's code."
            )
        return (
            f'提醒 / Reminder: set {keys.ENV}="{username}=<base64 key>" here and the same key '
            'as "<province code>=<base64 key>" on the nation (docs/exchange.md); until then '
            "the feed answers 503."
        )

    @transaction.atomic
    def issue(self, username: str, days: int):
        agency = Agency.objects.filter(level=Level.NATIONAL).first() or Agency.objects.create(
            level=Level.NATIONAL, name="国家数据交换 / national exchange"
        )
        user, created = User.objects.get_or_create(
            username=username, defaults={"agency": agency, "role": Role.ENTERPRISE}
        )
        if created:
            user.set_unusable_password()
            user.save()
        # The enterprise role carries no permission: this account reads the feed and nothing else.
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="registry", codename="read_change_feed")
        )
        return issue_api_token(user, days=days)
