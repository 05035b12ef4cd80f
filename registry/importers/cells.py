"""A file's cells as the values a data element wants: text, codes, dates, numbers.

CSV cells are strings; XLSX cells come typed (a code typed into Excel is a number, a date a
datetime); GDAL gives dates as ISO strings. These functions take any of them. Parsers return the
value or raise `CellError` with the rule and a message; the importer turns that into a report line.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache

_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
# Excel's day zero for serial dates (1900 system, after its 1900-02-29 bug).
EXCEL_EPOCH = dt.date(1899, 12, 30)


class CellError(ValueError):
    def __init__(self, rule: str, message: str, suggestion: str = ""):
        super().__init__(message)
        self.rule, self.message, self.suggestion = rule, message, suggestion


def text(value) -> str:
    """The cell as trimmed text; '' for an empty cell. Whole numbers lose Excel's '.0'."""
    if value.__class__ is str:  # every CSV cell: first, as an import reads millions of them
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def code(value) -> str:
    """An identifier: full-width characters folded to half-width, spaces removed, upper case.

    A code Excel stored as a number past 15 digits has lost digits: `CellError`, so the report
    says to store the column as text rather than importing a wrong code."""
    if isinstance(value, float) and not math.isnan(value) and abs(value) >= 1e15:
        raise CellError(
            "cell.number_code",
            "代码被 Excel 存成了数字，超过15位的数字已失真 / the code was stored by Excel as a "
            "number and lost digits past the 15th",
            "将该列设为文本格式后重新导出 / format the column as text and export again",
        )
    folded = text(value)
    if folded.isascii():  # NFKC leaves ASCII as it is
        return folded.replace(" ", "").upper()
    return _fold(folded)


@lru_cache(maxsize=65536)
def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).replace(" ", "").upper()


def date(value) -> dt.date | None:
    """A date from ISO, 2024/3/5, 2024.03.05, 2024年3月5日, 20240305, a datetime or an Excel serial."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # 9999-12-31
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise _bad_date(value)
    return _parse_date(str(value).strip())


@lru_cache(maxsize=65536)
def _parse_date(value: str) -> dt.date | None:
    if not value:
        return None
    folded = unicodedata.normalize("NFKC", value)
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(folded)
        if match:
            try:
                return dt.date(*(int(part) for part in match.groups()))
            except ValueError:
                break
    raise _bad_date(value)


def _bad_date(value) -> CellError:
    return CellError(
        "cell.date",
        f"无法识别的日期 {value!r} / not a date: {value!r}",
        "YYYY-MM-DD",
    )


def integer(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = float(text(value))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not number.is_integer():
        raise CellError("cell.integer", f"应为整数 / not a whole number: {value!r}")
    return int(number)


def number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        result = float(value) if isinstance(value, int | float | str) else float(text(value))
    except ValueError:
        result = math.nan
    if not math.isfinite(result):
        raise CellError("cell.number", f"应为数字 / not a number: {value!r}")
    return result
