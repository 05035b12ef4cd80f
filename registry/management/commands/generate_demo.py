"""Generate a reproducible synthetic registry inside loaded county boundaries, with COPY."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from registry.synthetic import generate


class Command(BaseCommand):
    help = "Generate devices, units, inspections, history, personnel, accidents and resources (seeded, COPY-loaded)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prefix",
            default="64",
            help="division-code prefix of the loaded counties to fill (default 64, Ningxia)",
        )
        parser.add_argument(
            "--devices", type=int, default=30_000, help="number of devices (default 30,000)"
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--cylinders",
            type=int,
            default=None,
            help="gas cylinders with their stations and fillings (default: devices ÷ 10; 0: none)",
        )
        parser.add_argument(
            "--no-supervision", dest="supervision", action="store_false",
            help="no supervisory inspections or inspection body's feed batch (inspections app)",
        )  # fmt: skip

    def handle(self, *args, prefix, devices, seed, cylinders=None, **options):
        if devices <= 0:
            raise CommandError("--devices must be positive")
        try:
            report = generate(
                prefix=prefix, devices=devices, seed=seed, progress=options["verbosity"] > 0
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        for table, rows in sorted(report.rows.items()):
            self.stdout.write(f"{table:32} {rows:>10,}")
        total = sum(report.rows.values())
        self.stdout.write(
            f"{'total':32} {total:>10,} rows in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)"
        )
        # The cylinders app sits above the registry: reached by its command's name, not imported.
        cylinders = devices // 10 if cylinders is None else cylinders
        if cylinders > 0:
            call_command("generate_cylinders", prefix=prefix, cylinders=cylinders, seed=seed,
                         stdout=self.stdout)  # fmt: skip
        if options.get("supervision", True):
            call_command("generate_supervision", prefix=prefix, seed=seed, stdout=self.stdout)
