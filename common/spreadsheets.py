"""Text bound for a spreadsheet (CSV or XLSX, exports and reports alike): a cell that Excel or
LibreOffice would run as a formula (=HYPERLINK(…), +cmd|…) is written as plain text."""

from __future__ import annotations

import re
from typing import Any

from django.utils.functional import Promise

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset(FORMULA_PREFIXES)
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula, made plain text; a label translated
    lazily (column heads kept in tables, docs/i18n.md) as the text of the request's language."""
    if isinstance(value, Promise):
        value = str(value)
    formula = isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
    return "'" + value if formula and not PLAIN_NUMBER.fullmatch(value) else value


def neutralised(values: list[str | None]) -> list[str | None]:
    """A column of text, neutralised: most cells start with no formula character and are kept
    as they are without a call."""
    return [neutralise(v) if v and v[0] in FORMULA_FIRST else v for v in values]
