"""Register (or update) a province this national instance pulls changes from."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from geo.models import Region
from registry.exchange import keys
from registry.models.exchange import ExchangePeer


class Command(BaseCommand):
    help = (
        "Add or update the province CODE served at URL, with the API token the province issued "
        "(issue_exchange_token on the provincial instance)."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="the province's division code, e.g. 640000")
        parser.add_argument("url", help="the provincial instance's base URL")
        parser.add_argument("token", help="the API token the province issued to this instance")

    def handle(self, *args, code, url, token, **options):
        if len(code) != 6 or not code.endswith("0000") or not code.isdigit():
            raise CommandError(f"{code} is not a province code (two digits then 0000)")
        name = Region.objects.filter(code=code).values_list("name", flat=True).first() or ""
        peer, created = ExchangePeer.objects.update_or_create(
            code=code, defaults={"base_url": url, "token": token, "name": name}
        )
        self.stdout.write(f"{'added' if created else 'updated'} exchange peer {peer}")
        self.stdout.write(self.key_reminder(code))
        self.stdout.write(
            "The token expires when the province's issue_exchange_token said (365 days by "
            "default): run this command again with the new one before then."
        )

    @staticmethod
    def key_reminder(code: str) -> str:
        """No key shared with the province: the pull refuses to start (docs/exchange.md)."""
        try:
            held = keys.key_for(code) is not None
        except ImproperlyConfigured as error:
            return f"{keys.ENV} is malformed here: {error}"
        if held:
            return f"{keys.ENV} holds a key for {code}: pages will be checked with it."
        return (
            f'提醒 / Reminder: no key for {code}: set {keys.ENV}="{code}=<base64 key>" (the key '
            "the province holds under its reader's name) before pulling; until then the pull "
            "stops with state error."
        )
