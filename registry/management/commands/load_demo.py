"""Prepare the demo: boundaries of the demo province, a synthetic registry, and one login per level and role."""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.demo import DEMO_PASSWORD, demo_accounts, ensure_demo_users
from geo.divisions import PROVINCE_ABBREVIATIONS
from geo.models import Region
from registry.models import Accident, Equipment
from registry.synthetic.national import generate_national_accidents


class Command(BaseCommand):
    help = "Load the demo province (boundaries, registry, users) unless already loaded; print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--province", default="64", help="two-digit province code (default 64, Ningxia)"
        )
        parser.add_argument(
            "--county", default="640104", help="the county of the county-level demo users"
        )
        parser.add_argument("--devices", type=int, default=30_000)
        parser.add_argument("--seed", type=int, default=2026)
        # Opt-in: every province's boundaries take about 1½ minutes to load, and with them the
        # national user's home map draws every province (measured 45 s a page on the demo machine).
        parser.add_argument(
            "--national",
            action="store_true",
            help="also load the other provinces' boundaries and a national accident history in them",
        )

    def handle(self, *args, province, county, devices, seed, national=False, **options):
        verbosity = options["verbosity"]
        if not Region.objects.counties().within_prefix(province).exists():
            call_command(
                "load_boundaries", cnmaps=[province], verbosity=verbosity, stdout=self.stdout
            )
            # Before the registry: its agencies' offices are at their regions' seats.
            call_command("load_seats", prefix=[province], stdout=self.stdout, stderr=self.stderr)
        if Equipment.objects.within_prefix(province).exists():
            self.stderr.write(f"demo registry for {province} already loaded: kept as it is")
        else:
            call_command(
                "generate_demo",
                prefix=province,
                devices=devices,
                seed=seed,
                verbosity=verbosity,
                stdout=self.stdout,
            )
        if national:
            self._national(province, seed, verbosity)
        accounts = demo_accounts(province + "0000", county[:4] + "00", county)
        ensure_demo_users(accounts)
        call_command("generate_licences", prefix=province, county=county, stdout=self.stdout)
        # The analysis desk reads its measures precomputed: count the loaded registry once, and
        # derive the last nine year ends' overdue snapshots, so today's indicators have a trend.
        call_command("refresh_measures", all=True, backfill_years=9, stdout=self.stdout)
        regions = {
            r.code: r.name
            for r in Region.objects.filter(
                code__in=[a.region_code for a in accounts if a.region_code]
            )
        }
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for account in accounts:
            where = regions.get(account.region_code, "全国 / national")
            self.stdout.write(f"  {account.username:10} {where:12} {account.description}")

    def _national(self, province: str, seed: int, verbosity: int) -> None:
        """The other provinces' boundaries and a national accident history in them (accidents only)."""
        others = [code for code in PROVINCE_ABBREVIATIONS if code != province and code < "71"]
        if not Region.objects.counties().exclude(code__startswith=province).exists():
            call_command("load_boundaries", cnmaps=others, verbosity=verbosity, stdout=self.stdout)
            call_command("load_seats", prefix=others, stdout=self.stdout, stderr=self.stderr)
        if Accident.objects.exclude(region__code__startswith=province).exists():
            self.stderr.write("national accident history already loaded: kept as it is")
            return
        written = generate_national_accidents(
            exclude=province, seed=seed, today=timezone.localdate()
        )
        self.stdout.write(f"national accident history: {written:,} accidents in other provinces")
