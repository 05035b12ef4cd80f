"""On a provincial instance: the account the national instance reads the change feed as, and its token."""

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Agency, Role, User
from accounts.tokens import issue_api_token
from geo.models import Level


class Command(BaseCommand):
    help = (
        "Create (or reuse) the national service account USERNAME, allowed to read the change "
        "feed and nothing else, and print a new API token for it (the old one stops working). "
        "Give the token to the national instance's add_exchange_peer."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="national-exchange")

    @transaction.atomic
    def handle(self, *args, username, **options):
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
        self.stdout.write(issue_api_token(user).key)
