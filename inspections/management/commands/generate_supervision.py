"""Synthetic supervisory inspections and an inspection body's feed batch (inspections.synthetic)."""

from django.core.management.base import BaseCommand, CommandError

from inspections.synthetic import generate


class Command(BaseCommand):
    help = "Generate supervisory inspections for the loaded demo devices and a body's feed batch."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", default="64")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, prefix, seed, **options):
        try:
            report = generate(prefix=prefix, seed=seed)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"supervisory inspections {report.supervisory:,} · devices missing one "
            f"{report.missing:,} · feed accepted {report.accepted:,} · refused {report.refused:,}"
            + (f" · the body's login {report.member}" if report.member else "")
        )
