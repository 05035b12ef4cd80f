"""The special-equipment catalogue (特种设备目录, 2014) as a read-only lookup table.

Pure Python: no Django models and no database. The rows live in ``data/catalogue.csv``;
this module loads them once and answers questions about codes (kind of a code, successor of a
retired code, certificate kind character).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils.translation import gettext

from common.i18n import in_language

if TYPE_CHECKING:
    from registry.validators import Finding

CSV_PATH = Path(__file__).resolve().parent / "data" / "catalogue.csv"
LEVELS = ("kind", "class", "variety")
GEOMETRIES = ("point", "line")
CODE_PATTERN = re.compile(r"[0-9A-Z]{4}")

# Use registration certificate (使用登记证) kind characters, per kind (TSG 08-2017); classes
# listed in the override table use their own character. 7000 and F000 are product categories
# and are never use-registered, so they have none.
CERTIFICATE_KIND_CHARS = {
    "1000": "锅",
    "2000": "容",
    "3000": "梯",
    "4000": "起",
    "5000": "车",
    "6000": "游",
    "8000": "管",
    "9000": "索",
}
CERTIFICATE_CLASS_CHARS = {"2300": "瓶"}


class CatalogueError(ValueError):
    """A code or catalogue row the catalogue cannot make sense of."""


class UnknownCode(CatalogueError):
    """A code that is neither in the 2014 catalogue nor a known retired code."""

    def __init__(self, code: str, finding: Finding) -> None:
        super().__init__(finding.message)
        self.code = code
        self.finding = finding


@dataclass(frozen=True)
class Entry:
    """One catalogue row: a kind (X000), class (XX00) or variety (XXX0), current or retired."""

    code: str
    parent: str
    level: str
    name_zh: str
    name_en: str
    registrable: bool
    geometry: str
    retired: bool
    replaced_by: str
    note: str

    @property
    def label(self) -> str:
        return f"{self.code} {self.name_zh}"


def _parse_bool(value: str, *, code: str, column: str) -> bool:
    match value.strip().lower():
        case "true":
            return True
        case "false":
            return False
    raise CatalogueError(f"catalogue row {code}: {column} must be true or false, got {value!r}")


def _entry_from_row(row: dict[str, str]) -> Entry:
    code = row["code"].strip()
    if not CODE_PATTERN.fullmatch(code):
        raise CatalogueError(f"catalogue code {code!r} is not 4 characters of 0-9/A-Z")
    entry = Entry(
        code=code,
        parent=row["parent"].strip(),
        level=row["level"].strip(),
        name_zh=row["name_zh"].strip(),
        name_en=row["name_en"].strip(),
        registrable=_parse_bool(row["registrable"], code=code, column="registrable"),
        geometry=row["geometry"].strip(),
        retired=_parse_bool(row["retired"], code=code, column="retired"),
        replaced_by=row["replaced_by"].strip(),
        note=row["note"].strip(),
    )
    if entry.level not in LEVELS:
        raise CatalogueError(f"catalogue row {code}: level must be one of {LEVELS}")
    if entry.geometry not in GEOMETRIES:
        raise CatalogueError(f"catalogue row {code}: geometry must be one of {GEOMETRIES}")
    return entry


@cache
def entries() -> dict[str, Entry]:
    """Every catalogue row keyed by code, current and retired, in file order."""
    table: dict[str, Entry] = {}
    with CSV_PATH.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            entry = _entry_from_row(row)
            if entry.code in table:
                raise CatalogueError(f"catalogue code {entry.code} appears twice")
            table[entry.code] = entry
    for entry in table.values():
        if entry.parent and entry.parent not in table:
            raise CatalogueError(f"catalogue row {entry.code}: parent {entry.parent} is missing")
        if entry.replaced_by and entry.replaced_by not in table:
            raise CatalogueError(
                f"catalogue row {entry.code}: successor {entry.replaced_by} is missing"
            )
    return table


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()


def get(code: str) -> Entry | None:
    return entries().get(normalise_code(code))


def children(code: str) -> tuple[Entry, ...]:
    """Current (non-retired) entries whose parent is ``code``."""
    code = normalise_code(code)
    return tuple(e for e in entries().values() if e.parent == code and not e.retired)


def kinds() -> tuple[Entry, ...]:
    return tuple(e for e in entries().values() if e.level == "kind")


def kind_of(code: str) -> str:
    """The X000 kind code of any code: '3110' → '3000', '23T0' → '2000', 'F220' → 'F000'.

    A catalogue code follows its parent chain, so 7310 安全阀 (listed under 安全附件) gives
    'F000'; a code outside the catalogue falls back to its first character.
    """
    code = normalise_code(code)
    table = entries()
    entry = table.get(code)
    seen: set[str] = set()
    while entry is not None and entry.parent:
        if entry.code in seen:
            raise CatalogueError(f"catalogue parent chain loops at {entry.code}")
        seen.add(entry.code)
        entry = table.get(entry.parent)
    if entry is not None and entry.level == "kind":
        return entry.code
    if code and f"{code[0]}000" in table:
        return f"{code[0]}000"
    raise CatalogueError(f"{code!r} belongs to no kind of the special-equipment catalogue")


def is_leaf(code: str) -> bool:
    """True when the code has no current sub-entries (a variety, or a class without varieties)."""
    return get(code) is not None and not children(code)


def resolve(code: str) -> tuple[Entry, Finding | None]:
    """The current entry for ``code`` and, when the code was not itself current, a warning.

    - a current code: (entry, None)
    - a retired code with a successor: (successor, warning naming both)
    - a retired code without a successor: (the retired entry, warning saying it left the catalogue)
    - an unknown variety XXY0 under a class XX00 that has no varieties in 2014 (legacy data
      holds e.g. 4D10, 6110): (the class, warning)
    - anything else: raises UnknownCode, whose ``finding`` is an error Finding.
    """
    from registry.validators import Finding

    code = normalise_code(code)
    table = entries()
    entry = table.get(code)
    if entry is not None and not entry.retired:
        return entry, None
    if entry is not None and entry.replaced_by:
        successor = table[entry.replaced_by]
        return successor, Finding(
            field="variety_code",
            rule="catalogue.retired",
            message=(
                f"品种代码 {code} 已停用，对应 2014 年目录 {successor.label} / "
                f"code {code} is retired; the 2014 catalogue code is {successor.code} "
                f"({successor.name_en})"
            ),
            severity="warning",
            suggestion=successor.code,
        )
    if entry is not None:
        return entry, Finding(
            field="variety_code",
            rule="catalogue.retired_no_successor",
            message=(
                f"品种代码 {entry.label} 已移出 2014 年特种设备目录，无对应代码 / "
                f"code {code} ({entry.name_en}) was removed from the 2014 catalogue "
                "and has no successor"
            ),
            severity="warning",
        )
    parent_class = table.get(f"{code[:2]}00") if CODE_PATTERN.fullmatch(code) else None
    if (
        parent_class is not None
        and code[2] != "0"
        and parent_class.level == "class"
        and not parent_class.retired
        and not children(parent_class.code)
    ):
        return parent_class, Finding(
            field="variety_code",
            rule="catalogue.variety_not_listed",
            message=(
                f"品种代码 {code} 不在目录中，按类别 {parent_class.label} 处理 / "
                f"variety {code} is not in the catalogue; treated as class "
                f"{parent_class.code} ({parent_class.name_en}), which has no varieties"
            ),
            severity="warning",
            suggestion=parent_class.code,
        )
    raise UnknownCode(
        code,
        Finding(
            field="variety_code",
            rule="catalogue.unknown",
            message=(
                f"品种代码 {code or '（空）'} 不在特种设备目录中 / "
                f"code {code or '(empty)'} is not in the special-equipment catalogue"
            ),
            severity="error",
        ),
    )


def certificate_kind_chars() -> frozenset[str]:
    return frozenset(CERTIFICATE_KIND_CHARS.values()) | frozenset(CERTIFICATE_CLASS_CHARS.values())


def certificate_kind_char(variety_code: str) -> str:
    """The 使用登记证 kind character for a variety: '3110' → '梯', '2310' → '瓶'.

    Retired codes are resolved to their successor first. Raises CatalogueError for unknown
    codes and for product categories (7000, F000), which are never use-registered.
    """
    entry, _ = resolve(variety_code)
    table = entries()
    node: Entry | None = entry
    while node is not None:
        if node.code in CERTIFICATE_CLASS_CHARS:
            return CERTIFICATE_CLASS_CHARS[node.code]
        node = table.get(node.parent) if node.parent else None
    kind = kind_of(entry.code)
    if kind not in CERTIFICATE_KIND_CHARS:
        raise CatalogueError(
            f"{entry.label} 属于不办理使用登记的产品类别 / "
            f"{entry.code} ({entry.name_en}) is a product category and has no use registration"
        )
    return CERTIFICATE_KIND_CHARS[kind]


# --------------------------------------------------------------------------- technical parameters

PARAMETERS_CSV = Path(__file__).resolve().parent / "data" / "parameters.csv"


@dataclass(frozen=True)
class Parameter:
    """A technical parameter of a kind's devices (`Equipment.params` key): its label and unit."""

    kind: str
    key: str
    label_zh: str
    label_en: str
    unit_zh: str  # the same as unit_en where the unit is a symbol (MPa, t/h)
    unit_en: str
    type: str  # number, integer, text or boolean

    @property
    def label(self) -> str:
        """The label in the request's language (the catalogue keeps both)."""
        return in_language(self.label_zh, self.label_en)

    def show(self, value: object) -> str:
        if self.type == "boolean" and isinstance(value, bool):
            return gettext("是") if value else gettext("否")
        if self.type in ("number", "integer") and isinstance(value, int | float):
            shown = f"{value:g}"
            unit = in_language(self.unit_zh, self.unit_en)
            return f"{shown} {unit}" if unit else shown
        return str(value)


@cache
def parameters() -> dict[tuple[str, str], Parameter]:
    with PARAMETERS_CSV.open(encoding="utf-8", newline="") as handle:
        return {(row["kind"], row["key"]): Parameter(**row) for row in csv.DictReader(handle)}


def labelled_parameters(kind: str, params: dict) -> list[tuple[str, str]]:
    """A device's parameters as (label, value with unit): the kind's defined ones in the table's
    order, then any other key as it was received (an import may carry keys we do not define)."""
    defined = [p for (k, _), p in parameters().items() if k == kind and p.key in params]
    shown = [(p.label, p.show(params[p.key])) for p in defined]
    known = {p.key for p in defined}
    return shown + [(key, str(params[key])) for key in sorted(params) if key not in known]
