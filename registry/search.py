"""Finding devices and units as people type: exact codes, then code prefixes, then parts of text.

One search, used by the map's search box, the registry API (`/api/search/`, the units list's
`search`) and the response desk's unit lookup. Three tiers, best first, each bounded and read
from an index:

1. an exact identifier (device, registration, certificate or 96333 code; a unit's credit code):
   when one matches, it is the answer, alone;
2. a code that starts with the text — a range on each code's own B-tree, read in code order, so
   "3110" stops after `limit` devices however many elevators there are;
3. a part of a code, an address or a unit's name — the trigram index over one search text per
   row (`SEARCH_TEXT`), only when the first two found fewer than `limit`, and only from
   `MIN_PART` characters. At most `CANDIDATES` rows are read;
   they are ranked here (where the text occurs, how much of the row it is), and `more` says
   that others were left unread so the page can ask for a longer text.

Every tier starts from `visible_to(user)`: the jurisdiction is the first filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.models import BooleanField, Func, TextField, Value

from .exceptions import RegistryError
from .models import Equipment, Unit
from .validators import Finding, normalise_certificate_number

MAX_TEXT = 100
MAX_LIMIT = 50
CANDIDATES = 200
GIN_SAMPLE = 2000
# The shortest part searched for: a trigram for devices (a shorter pattern has none to look up and
# would read every device); units, far fewer, are searched from two characters (a Chinese name's
# "电梯" is a real search).
MIN_PART = {"registry_equipment": 3, "registry_unit": 2}
EQUIPMENT_CODES = ("device_code", "registration_code", "certificate_number", "rescue_id")

# The expressions the trigram indexes are built on, `{t}` standing for the table's name (a query
# qualifies the columns: joined units have an address too; registry/migrations/0011_search.py
# writes them out unqualified, and tests/registry/test_search.py fails when the planner cannot
# match the two). Upper-cased so that codes match in any case; Chinese text is unchanged by upper().
SEARCH_TEXT = {
    "registry_equipment": (
        "upper(coalesce({t}device_code, '') || ' ' || {t}registration_code || ' ' || "
        "{t}certificate_number || ' ' || {t}rescue_id || ' ' || {t}address)"
    ),
    "registry_unit": "upper({t}name || ' ' || {t}credit_code || ' ' || {t}address)",
}

# A code's characters past its prefix sort before this one (the database collates by code point).
_AFTER_PREFIX = "\U0010ffff"


class _SearchText(Func):
    output_field = TextField()

    def __init__(self, table: str):
        self.template = SEARCH_TEXT[table].replace("{t}", f'"{table}".')
        super().__init__()


class _Like(Func):
    """`text LIKE pattern`, with the index's own expression on the left (no cast around it)."""

    arg_joiner = " LIKE "
    template = "(%(expressions)s)"
    output_field = BooleanField()


@dataclass
class Found:
    equipment: list[Equipment] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    # Rows beyond CANDIDATES were left unread: a longer text finds them.
    more: bool = False


def _refused(field_name: str, rule: str, message: str) -> RegistryError:
    return RegistryError([Finding(field_name, rule, message, "error")])


def clean_text(text: str | None, field_name: str = "q") -> str:
    """The text as searched: spaces collapsed; 1 to MAX_TEXT characters."""
    term = " ".join((text or "").split())
    if not term:
        raise _refused(
            field_name, f"{field_name}.empty", "请输入搜索内容 / give something to search for"
        )
    if len(term) > MAX_TEXT:
        raise _refused(
            field_name,
            f"{field_name}.length",
            f"搜索内容最多{MAX_TEXT}个字 / search for at most {MAX_TEXT} characters",
        )
    return term


def clean_limit(value: str | int | None, field_name: str = "limit", default: int = 10) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise _refused(
            field_name,
            f"{field_name}.range",
            f"条数应为1–{MAX_LIMIT} / {field_name} is a whole number from 1 to {MAX_LIMIT}",
        )
    return limit


def search(user, text: str, limit: int = 10) -> Found:
    """Devices and units of the user's jurisdiction matching the text, best first."""
    term = clean_text(text)
    code = normalise_certificate_number(term)
    devices = Equipment.objects.visible_to(user).select_related("variety", "use_unit")
    units = Unit.objects.visible_to(user)
    # A whole code asks for its record: answered alone, without reading prefixes and parts.
    exact = Found(list(devices.by_code(code)[:limit]), list(units.filter(credit_code=code)[:limit]))
    if exact.equipment or exact.units:
        return exact
    found = Found()
    found.equipment, more_equipment = equipment_matches(devices, term, limit, exact=False)
    found.units, more_units = unit_matches(units, term, limit)
    found.more = more_equipment or more_units
    return found


def equipment_matches(
    queryset, term: str, limit: int, *, exact: bool = True
) -> tuple[list[Equipment], bool]:
    code = normalise_certificate_number(term)
    tiers = [queryset.by_code(code)[:limit]] if code and exact else []
    tiers += [_starting(queryset, column, code, limit) for column in EQUIPMENT_CODES if code]
    return _ranked(queryset, "registry_equipment", term, tiers, limit, _equipment_text)


def unit_matches(queryset, term: str, limit: int) -> tuple[list[Unit], bool]:
    code = normalise_certificate_number(term)
    tiers = [
        queryset.filter(credit_code=code)[:limit],
        _starting(queryset, "credit_code", code, limit),
    ]
    return _ranked(queryset, "registry_unit", term, tiers if code else [], limit, _unit_text)


def units_containing(queryset, term: str):
    """The units whose name, credit code or address holds the text (the third tier's condition)."""
    return queryset.filter(_Like(_SearchText("registry_unit"), Value(_pattern(term))))


def _pattern(term: str) -> str:
    escaped = term.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _starting(queryset, column: str, code: str, limit: int):
    # The range reads the column's B-tree in order and stops at `limit`; LIKE keeps it exact.
    return queryset.filter(
        **{
            f"{column}__gte": code,
            f"{column}__lt": code + _AFTER_PREFIX,
            f"{column}__startswith": code,
        }
    ).order_by(column)[:limit]


def _ranked(
    queryset, table: str, term: str, tiers: Iterable, limit: int, text_of
) -> tuple[list, bool]:
    rows: dict[int, object] = {}
    for tier in tiers:
        for row in tier:
            rows.setdefault(row.pk, row)
        if len(rows) >= limit:
            return list(rows.values())[:limit], False
    more = False
    part = term.upper()
    if len(part) >= MIN_PART[table]:
        # No ORDER BY (the models' default would walk the name or id index, filtering row by
        # row): the candidates come from the trigram index in any order and are ranked here.
        holding = (
            queryset.filter(_Like(_SearchText(table), Value(_pattern(part))))
            .exclude(pk__in=list(rows))
            .order_by()[: CANDIDATES + 1]
        )
        # A common part ("320", "区长城") is held by millions of rows, and a GIN scan collects them
        # all before LIMIT: a sample of GIN_SAMPLE is enough to fill a page. A jurisdiction's own
        # rows may be few in a national sample, so a short answer asks again without it.
        with transaction.atomic(using=queryset.db), connections[queryset.db].cursor() as cursor:
            cursor.execute("SET LOCAL gin_fuzzy_search_limit = %s", [GIN_SAMPLE])
            candidates = list(holding)
        if len(candidates) < limit:
            candidates = list(holding.all())
        more = len(candidates) > CANDIDATES
        # Best first: the text at the start of a field, then the shortest field holding it.
        candidates = sorted(candidates[:CANDIDATES], key=lambda row: _closeness(text_of(row), part))
        for row in candidates:
            rows.setdefault(row.pk, row)
    return list(rows.values())[:limit], more


def _closeness(fields: Iterable[str], part: str) -> tuple[int, int, int]:
    best = (2, 0, 0)
    for value in fields:
        upper = (value or "").upper()
        at = upper.find(part)
        if at >= 0:
            best = min(best, (0 if at == 0 else 1, len(upper), at))
    return best


def _equipment_text(device: Equipment) -> list[str]:
    return [*(getattr(device, column) or "" for column in EQUIPMENT_CODES), device.address]


def _unit_text(unit: Unit) -> list[str]:
    return [unit.name, unit.credit_code, unit.address]
