"""Recount the map's pre-counted grid cells from the equipment table, or check them (--check)."""

import time

from django.core.management.base import BaseCommand, CommandError

from maps import cells


class Command(BaseCommand):
    help = (
        "Recount the equipment grid cells behind the low-zoom map tiles (writers wait meanwhile); "
        "with --check, only compare them with the table and fail on a difference."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="compare only; exit 1 when they differ"
        )

    def handle(self, *args, check, **options):
        started = time.perf_counter()
        if check:
            wrong = cells.differences()
            if wrong:
                lines = "\n".join(
                    f"  level {w[0]} depth {w[1]} region {w[2] or '-'} cell ({w[3]}, {w[4]}) "
                    f"{w[5]} {w[7]}: stored {w[8]}, actual {w[9]}"
                    for w in wrong
                )
                raise CommandError(
                    f"网格计数与设备表不一致 / the cells differ from the table "
                    f"(first {len(wrong)}):\n{lines}\nrun rebuild_tile_cells to recount"
                )
            self.stdout.write("网格计数一致 / the cells agree with the table")
            return
        count = cells.rebuild()
        self.stdout.write(f"{count:,} cells recounted in {time.perf_counter() - started:.1f} s")
