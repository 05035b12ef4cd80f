"""Demo licences, findings and applications in the loaded demo registry (licensing.synthetic)."""

from django.core.management.base import BaseCommand

from licensing.synthetic import generate


class Command(BaseCommand):
    help = "Licence the demo registry's makers, installers and filling stations (a few not)."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", default="64")
        parser.add_argument("--county", default="640104")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, prefix, county, seed, **options):
        report = generate(prefix=prefix, county=county, seed=seed)
        self.stdout.write(
            f"licences {report.licences:,} · units {report.units:,} · unlicensed "
            f"{report.unlicensed_units:,} · applications {report.applications:,} · findings "
            f"{report.findings:,}, acted on {report.acted:,}"
        )
