"""The English catalogues (docs/i18n.md): extract every translatable string into
locale/en/LC_MESSAGES/{django,djangojs}.po, or --check that they hold an English text for each.

The code's source language is Chinese (msgids are Chinese); English comes from the catalogues,
compiled to .mo by the set-up."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

LANGUAGE = "en"
# Not the application's text: the environment, tests, benchmarks, docs and vendored libraries.
# "locale" too: makemessages would otherwise put a locale/ it walks past ahead of LOCALE_PATHS.
IGNORE = [".venv", "var", "node_modules", "tests", "bench", "docs", "scripts", "locale"]
DOMAINS = {
    "django": IGNORE + ["static/*"],
    "djangojs": IGNORE + ["static/vendor/*", "*.min.js"],
}


def extract(locale_dir: Path) -> None:
    """makemessages for both domains into locale_dir (merged with the .po files already there)."""
    with override_settings(LOCALE_PATHS=[str(locale_dir)]):
        for domain, ignore in DOMAINS.items():
            call_command(
                "makemessages",
                locale=[LANGUAGE],
                domain=domain,
                ignore_patterns=ignore,
                no_obsolete=True,
                add_location="file",
                verbosity=0,
            )


def untranslated(catalogue: Path, reference: Path) -> str:
    """What msgcmp finds: a msgid of the fresh extraction missing from the catalogue, or there
    without its English (fuzzy counts as missing). Empty when the catalogue is complete."""
    msgcmp = shutil.which("msgcmp")
    if msgcmp is None:
        raise CommandError("msgcmp not found: install gettext (scripts/setup.sh does)")
    result = subprocess.run(
        [msgcmp, str(catalogue), str(reference)], capture_output=True, text=True, check=False
    )
    return "" if result.returncode == 0 else result.stderr.strip()


class Command(BaseCommand):
    help = (
        "Extract the translatable strings into locale/en (or --check the catalogues are complete)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; fail when a string has no English in the catalogues",
        )

    def handle(self, *args, check: bool, **options):
        locale = Path(settings.LOCALE_PATHS[0])
        if not check:
            extract(locale)
            self.stdout.write(f"updated {locale}/{LANGUAGE}/LC_MESSAGES: translate the new entries")
            return
        problems = []
        # Beside locale/ in the project's root: makemessages files each source under the first
        # locale path whose parent holds it, so a directory elsewhere would not receive anything.
        with tempfile.TemporaryDirectory(dir=locale.parent, prefix=".messages-check-") as tmp:
            extract(Path(tmp))
            for domain in DOMAINS:
                found = untranslated(
                    locale / LANGUAGE / "LC_MESSAGES" / f"{domain}.po",
                    Path(tmp) / LANGUAGE / "LC_MESSAGES" / f"{domain}.po",
                )
                if found:
                    problems.append(f"{domain}:\n{found}")
        if problems:
            raise CommandError("strings without English:\n" + "\n".join(problems))
        self.stdout.write("every string has its English")
