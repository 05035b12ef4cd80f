"""Finding devices and units as people type: exact codes, then code prefixes, then parts of text.

One search, used by the map's search box, the registry API (`/api/search/`, the units list's
`search`) and the response desk's unit lookup. Three tiers, best first, each bounded and read
from an index:

1. an exact identifier (device, registration, certificate or 96333 code; a unit's credit code):
   when one matches, it is the answer, alone;
2. a code that starts with the text — a range on each code's own B-tree, read in code order, so
   "3110" stops after `limit` devices however many elevators there are;
3. a part of a code, an address or a unit's name (`FIELDS`), from `MIN_PART` characters, only
   when the first two found fewer than `limit`. Read in two steps, each bounded:
   a. the jurisdiction's first `SCAN_ROWS` rows in division-code order, from a covering B-tree
      (region_id with the searched fields included, migration registry 0013): an index-only scan
      whose cost is the rows read, not how common the text's characters are. A county's rows are
      all read, so its answer is complete; a common text anywhere fills the page from the first
      rows read;
   b. only when that found fewer than `limit` and the jurisdiction has more rows: the trigram
      index over one search text per row (`SEARCH_TEXT`, migration 0011), over the whole
      jurisdiction — the text is then rare, and a rare text has a short trigram answer.
   Digit runs are why: every code of a province holds its division digits, so the trigrams of
   "3205" or of a whole code are held by millions of rows, and a GIN scan intersects those lists
   whole before any LIMIT (docs/performance.md, "Search"). At most `CANDIDATES` rows are kept;
   they are ranked here (where the text occurs, how much of the field it is), and `more` says that
   others were left unread so the page can ask for a longer text.

Every tier starts from `visible_to(user)`: the jurisdiction is the first filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import BooleanField, Func, TextField, Value

from geo.divisions import LEVEL_OF_WIDTH, Level
from geo.scoping import Scope

from .exceptions import RegistryError
from .models import Equipment, Unit
from .validators import Finding, normalise_certificate_number

MAX_TEXT = 100
MAX_LIMIT = 50
CANDIDATES = 200
# Rows of the jurisdiction read through the covering index before the trigram index is asked: more
# than a county holds (the bench's largest, of 2 million devices in 95 counties, holds 34,000), so
# a county's search is one index-only scan; a province's reads this many first (the cost of a
# text found nowhere: docs/performance.md, "Search").
SCAN_ROWS = 40_000
# The shortest part searched for: a trigram for devices (a shorter pattern has none to look up and
# would read every device); units, far fewer, are searched from two characters (a Chinese name's
# "电梯" is a real search).
MIN_PART = {"registry_equipment": 3, "registry_unit": 2}
EQUIPMENT_CODES = ("device_code", "registration_code", "certificate_number", "rescue_id")


@dataclass(frozen=True)
class _Fields:
    """The columns part of which is searched: codes, stored upper-case (the validators write them
    so, and the exact tier compares them as stored), and free text, upper-cased in the comparison
    when the text has letters with a case (upper() is most of the cost of reading a row)."""

    codes: tuple[str, ...]
    texts: tuple[str, ...]
    # Whether the codes are most of a row's text (a device's four), so that a part of digits is
    # scanned for in any jurisdiction, not only in a county.
    codes_first: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.codes + self.texts


# Every one of them is included in the table's covering index (migration 0013), so the scan reads
# no table rows; tests/registry/test_search.py fails when a query here names one it lacks.
FIELDS = {
    "registry_equipment": _Fields(EQUIPMENT_CODES, ("address",), codes_first=True),
    "registry_unit": _Fields(("credit_code",), ("name", "address")),
}

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

# Three characters in a row without a digit: a trigram that is not in every code.
_NO_DIGITS = re.compile(r"\D{3}")
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
    found.equipment, more_equipment = equipment_matches(
        devices, term, limit, exact=False, within=user
    )
    found.units, more_units = unit_matches(units, term, limit, within=user)
    found.more = more_equipment or more_units
    return found


def equipment_matches(
    queryset, term: str, limit: int, *, exact: bool = True, within=None
) -> tuple[list[Equipment], bool]:
    """`within`: the user (or Scope) whose jurisdiction the queryset is, when the caller knows it:
    a county's rows are then read whole before any index on text (`_holding`)."""
    code = normalise_certificate_number(term)
    tiers = [queryset.by_code(code)] if code and exact else []
    tiers += [_starting(queryset, column, code) for column in EQUIPMENT_CODES if code]
    return _ranked(queryset, "registry_equipment", term, tiers, limit, _is_county(within))


def unit_matches(queryset, term: str, limit: int, *, within=None) -> tuple[list[Unit], bool]:
    code = normalise_certificate_number(term)
    tiers = [queryset.filter(credit_code=code), _starting(queryset, "credit_code", code)]
    return _ranked(
        queryset, "registry_unit", term, tiers if code else [], limit, _is_county(within)
    )


def _is_county(within) -> bool:
    prefix = Scope.of(within).prefix if within is not None else None
    return prefix is not None and LEVEL_OF_WIDTH.get(len(prefix)) == Level.COUNTY


def units_containing(queryset, term: str):
    """The units whose name, credit code or address holds the text (the third tier's condition)."""
    return queryset.filter(_Like(_SearchText("registry_unit"), Value(_pattern(term))))


def _pattern(term: str) -> str:
    escaped = term.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _starting(queryset, column: str, code: str):
    # The range reads the column's B-tree in order and stops at the LIMIT; LIKE keeps it exact.
    return queryset.filter(
        **{
            f"{column}__gte": code,
            f"{column}__lt": code + _AFTER_PREFIX,
            f"{column}__startswith": code,
        }
    ).order_by(column)


def _ranked(
    queryset, table: str, term: str, tiers: list, limit: int, county: bool
) -> tuple[list, bool]:
    """The rows of the tiers, then of the part tier, best first; whether others were unread.
    Each step is one statement (on a busy server every round trip costs more than the reads):
    the tiers' first `limit` keys each, in one UNION ALL; the part tier; the chosen rows."""
    chosen: list[int] = []
    if tiers:
        firsts = [tier.values_list("pk", flat=True)[:limit] for tier in tiers]
        # UNION ALL appends each part's rows in turn, each in its own order, and under the LIMIT
        # the parts after the one that fills the page are not run at all.
        chosen = list(dict.fromkeys(firsts[0].union(*firsts[1:], all=True)[:limit]))
    more = False
    part = term.upper()
    if len(chosen) < limit and len(part) >= MIN_PART[table]:
        candidates, more = _holding(queryset, table, part, limit, county)
        # Best first: the text at the start of a field, then the shortest field holding it.
        candidates.sort(key=lambda row: _closeness(row[1:], part))
        chosen += [row[0] for row in candidates if row[0] not in chosen]
    chosen = chosen[:limit]
    fetched = {row.pk: row for row in queryset.filter(pk__in=chosen).order_by()} if chosen else {}
    return [fetched[pk] for pk in chosen], more


def _holding(queryset, table: str, part: str, limit: int, county: bool) -> tuple[list[tuple], bool]:
    """Up to CANDIDATES rows (pk, *FIELDS) of the queryset with the part in a field, and whether
    others were left unread.

    The trigram index answers fast when one of the part's trigrams is rare, as a trigram without
    digits is ("六合区", "ZQX"). Trigrams with digits are not: every code of a province holds its
    division's digits and a date, so "320" or "199" is in millions of devices, and GIN intersects
    those posting lists whole before any LIMIT (a part of fewer than 3 characters has no trigram
    at all). Such a part is scanned first through the covering index — in a county, whose rows
    are few, and anywhere among devices, whose text is mostly codes — and the trigram index is
    asked only for what the scan left unread.
    """
    fields = FIELDS[table]
    rows = queryset.order_by().values_list("pk", *fields.columns)
    digits = part.isascii() and part.isdigit()
    digit_bound = len(part) < 3 or not _NO_DIGITS.search(part)
    if digit_bound and (county or fields.codes_first):
        candidates: dict[int, tuple] = {}
        # Digits that name a division (province, city, county) are mostly that division's codes
        # (registration and credit codes, some device codes hold it): its rows are read first,
        # where the jurisdiction's first rows in code order would not reach them.
        if digits and len(part) in LEVEL_OF_WIDTH:
            for row in _scan(queryset.within_prefix(part), fields, part):
                candidates.setdefault(row[0], row)
            if len(candidates) >= limit:
                return list(candidates.values())[:CANDIDATES], True  # the division's filled it
        found = _scan(queryset, fields, part, probe=True)
        goes_on = bool(found) and found[-1] is None
        for row in found[:-1] if goes_on else found:
            candidates.setdefault(row[0], row)
        if len(candidates) > CANDIDATES:
            return list(candidates.values())[:CANDIDATES], True
        if not goes_on:
            return list(candidates.values()), False  # the whole jurisdiction was read
        if len(candidates) >= limit:
            return list(candidates.values()), True  # the rows past the scan were not read
    # The trigram index, over the whole jurisdiction.
    found = _select(rows.filter(_Like(_SearchText(table), Value(_pattern(part)))), fields, part)
    return found[:CANDIDATES], len(found) > CANDIDATES


# Division-code order as the covering indexes hold it: varchar_pattern_ops, byte order (the one a
# prefix range is read in), which to the planner the collation's order is not.
_IN_INDEX_ORDER = "ORDER BY q.region_id USING ~<~"


def _scan(queryset, fields: _Fields, part: str, *, probe: bool = False) -> list[tuple | None]:
    """The rows (pk, *fields) holding the part among the queryset's first SCAN_ROWS in the
    covering index's order, CANDIDATES + 1 at most; with `probe`, then None if the queryset has
    more rows than that (the same index read on, without the test: one statement for both)."""
    in_order = queryset.order_by().values_list("pk", *fields.columns, "region_id")
    sql, params = in_order.query.get_compiler(in_order.db).as_sql()
    test, test_params = _test(fields, part)
    statement = (
        f"(SELECT s.*, false AS past FROM (SELECT q.* FROM ({sql}) q {_IN_INDEX_ORDER} "
        f"LIMIT {SCAN_ROWS}) s WHERE {test} LIMIT {CANDIDATES + 1})"
    )
    keys_params: tuple = ()
    if probe:
        # The fields are not read past the scan (deforming them was as dear as the scan itself).
        keys = queryset.order_by().values_list("pk", "region_id")
        keys_sql, keys_params = keys.query.get_compiler(keys.db).as_sql()
        nulls = ", NULL" * len(fields.columns)
        statement += (
            f" UNION ALL (SELECT q.pk{nulls}, q.region_id, true FROM ({keys_sql}) q "
            f"{_IN_INDEX_ORDER} OFFSET {SCAN_ROWS} LIMIT 1)"
        )
    with connections[in_order.db].cursor() as cursor:
        cursor.execute(statement, [*params, *test_params, *keys_params])
        # (pk, *fields, region_id, past) → (pk, *fields), or None for the row past the scan.
        return [None if row[-1] else row[:-2] for row in cursor.fetchall()]


def _select(values, fields: _Fields, part: str) -> list[tuple]:
    """The rows of a values_list query with the part in one of the fields, CANDIDATES + 1 at
    most (the test applied to the query's rows, `s`, as the scan applies it)."""
    sql, params = values.query.get_compiler(values.db).as_sql()
    test, test_params = _test(fields, part)
    with connections[values.db].cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM ({sql}) s WHERE {test} LIMIT {CANDIDATES + 1}", [*params, *test_params]
        )
        return cursor.fetchall()


def _test(fields: _Fields, part: str) -> tuple[str, list[str]]:
    """The part in one of the fields of `s`: codes as stored; text upper-cased when the part has
    letters with a case — after a test of its longest run without case ("无此1" of "无此1ZQX")
    on the text as stored, which no upper() costs. strpos, not LIKE: no pattern, no escaping."""
    tests = [(f"strpos(s.{column}, %s) > 0", [part]) for column in fields.codes]
    if part == part.lower():
        tests += [(f"strpos(s.{column}, %s) > 0", [part]) for column in fields.texts]
    else:
        runs = "".join(c if c.upper() == c.lower() else " " for c in part).split()
        anchor = max(runs, key=len, default="")
        for column in fields.texts:
            cased = f"strpos(upper(s.{column}), %s) > 0"
            tests.append(
                (f"(strpos(s.{column}, %s) > 0 AND {cased})", [anchor, part])
                if anchor
                else (cased, [part])
            )
    return " OR ".join(sql for sql, _ in tests), [value for _, values in tests for value in values]


def _closeness(fields: Iterable[str | None], part: str) -> tuple[int, int, int, str]:
    best = (2, 0, 0, "")
    for value in fields:
        upper = (value or "").upper()
        at = upper.find(part)
        if at >= 0:
            # Ties in code order, as the prefix tier reads them.
            best = min(best, (0 if at == 0 else 1, len(upper), at, upper))
    return best
