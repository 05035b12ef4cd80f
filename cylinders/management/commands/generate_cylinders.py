"""Synthetic cylinders, stations and fillings in the loaded demo registry (cylinders.synthetic)."""

from django.core.management.base import BaseCommand, CommandError

from cylinders.synthetic import generate


class Command(BaseCommand):
    help = "Generate gas cylinders, filling stations and recent fillings under a division prefix."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", default="64")
        parser.add_argument("--cylinders", type=int, default=3000)
        parser.add_argument("--days", type=int, default=30, help="days of fillings, up to today")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, prefix, cylinders, days, seed, **options):
        if cylinders <= 0 or days <= 0:
            raise CommandError("--cylinders and --days must be positive")
        try:
            report = generate(prefix=prefix, cylinders=cylinders, days=days, seed=seed)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"stations {report.stations:,} · cylinders {report.cylinders:,} · fillings "
            f"{report.fillings:,} · violations {report.violations:,}"
        )
