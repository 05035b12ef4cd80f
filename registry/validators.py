"""Format checks for the identifiers special-equipment records carry.

Pure functions returning ``Finding`` lists, so an importer can report every problem in a row
at once and keep legacy rows that only earn warnings. Rule values (alphabets, weights,
province codes, kind characters) sit in tables at the top or in the catalogue, not in logic.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from functools import cache, lru_cache

from registry import catalogue

ERROR = "error"
WARNING = "warning"

FIRST_DEVICE_YEAR = 1949

# GB 32100-2015 unified social credit code: alphabet (no I, O, Z, S, V) and position weights.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authorities at national level put 100000 where the division code goes.
CREDIT_CODE_NATIONAL_DIVISION = "100000"

# GB/T 2260 province-level prefixes.
PROVINCE_PREFIXES = frozenset(
    ("11", "12", "13", "14", "15")  # 华北 North
    + ("21", "22", "23")  # 东北 North-east
    + ("31", "32", "33", "34", "35", "36", "37")  # 华东 East
    + ("41", "42", "43", "44", "45", "46")  # 中南 South-central
    + ("50", "51", "52", "53", "54")  # 西南 South-west
    + ("61", "62", "63", "64", "65")  # 西北 North-west
    + ("71", "81", "82")  # 台湾 Taiwan, 香港 Hong Kong, 澳门 Macao
)

# Province abbreviations used in use registration certificate numbers.
PROVINCE_ABBREVIATIONS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳台"

RESCUE_ID_LENGTHS = {6: "standard", 5: "used in some cities"}

_ALNUM_UPPER = re.compile(r"[0-9A-Z]+")
_DIGITS = re.compile(r"[0-9]+")
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20


@dataclass(frozen=True)
class Finding:
    field: str  # the data element, e.g. "device_code"
    rule: str  # short stable rule id, e.g. "device_code.length"
    message: str  # what a user can act on: Chinese, then English
    severity: str  # "error" or "warning"
    suggestion: str = ""


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == WARNING]


def _error(field: str, rule: str, message: str, suggestion: str = "") -> Finding:
    return Finding(field, f"{field}.{rule}", message, ERROR, suggestion)


def _warning(field: str, rule: str, message: str, suggestion: str = "") -> Finding:
    return Finding(field, f"{field}.{rule}", message, WARNING, suggestion)


def _normalise(value: str | None) -> str:
    return (value or "").strip().upper()


def _relabel(findings: Iterable[Finding], field: str, rule: str, severity: str) -> list[Finding]:
    """Re-home a nested check's findings (e.g. the division inside a device code)."""
    return [replace(f, field=field, rule=f"{field}.{rule}", severity=severity) for f in findings]


# --- 行政区划代码 (GB/T 2260) -----------------------------------------------------------


def check_division_code(code: str) -> list[Finding]:
    """Format only: 6 digits with a GB/T 2260 province prefix (11..65, 71, 81, 82)."""
    field = "division_code"
    value = _normalise(code)
    if not value:
        return [_error(field, "empty", "缺少行政区划代码 / division code is missing")]
    if len(value) != 6 or not _DIGITS.fullmatch(value):
        return [
            _error(
                field,
                "format",
                f"行政区划代码应为6位数字 / division code must be 6 digits, got {value!r}",
            )
        ]
    if value[:2] not in PROVINCE_PREFIXES:
        return [
            _error(
                field,
                "province",
                f"行政区划代码 {value} 的省级代码 {value[:2]} 不存在 / "
                f"division code {value}: {value[:2]} is not a GB/T 2260 province code",
            )
        ]
    return []


# --- 设备代码 -------------------------------------------------------------------------------


def _check_variety_in_code(variety: str, field: str) -> list[Finding]:
    try:
        entry, note = catalogue.resolve(variety)
    except catalogue.UnknownCode as exc:
        return _relabel([exc.finding], field, "variety_unknown", ERROR)
    findings: list[Finding] = []
    if note is not None:
        retired = note.rule.startswith("catalogue.retired")
        rule = "variety_retired" if retired else "variety_not_listed"
        findings += _relabel([note], field, rule, WARNING)
    if not catalogue.is_leaf(entry.code):
        findings.append(
            _warning(
                field,
                "variety_not_specific",
                f"{entry.label} 不是最细一级品种 / {entry.code} ({entry.name_en}) is a "
                f"{entry.level}, not a variety",
            )
        )
    if not entry.registrable:
        findings.append(
            _warning(
                field,
                "not_registrable",
                f"{entry.label} 属于产品类别，不办理使用登记 / {entry.code} ({entry.name_en}) "
                "is a product category that is not use-registered",
            )
        )
    return findings


def _check_year(year: str, field: str, today: date, severity: str) -> list[Finding]:
    latest = today.year + 1
    if not _DIGITS.fullmatch(year) or not FIRST_DEVICE_YEAR <= int(year) <= latest:
        make = _error if severity == ERROR else _warning
        return [
            make(
                field,
                "year",
                f"年份 {year} 不在 {FIRST_DEVICE_YEAR}–{latest} 之间 / "
                f"year {year!r} is not between {FIRST_DEVICE_YEAR} and {latest}",
            )
        ]
    return []


_day = (-math.inf, date.min)


def _today() -> date:
    """Today, read from the clock at most once a minute: imports check codes by the hundred
    thousand, and `date.today()` is a system call each time."""
    global _day
    now = time.monotonic()
    if now - _day[0] > 60:
        _day = (now, date.today())
    return _day[1]


_CLEAN_DEVICE_CODE = re.compile(
    r"[0-9A-Z]{4}(?:[0-9A-Z]{5}|(?P<division>[0-9]{6}))(?P<year>[0-9]{4})[0-9]{5}"
)


@lru_cache(maxsize=4096)
def _device_code_part_findings(variety: str, division: str) -> tuple[Finding, ...]:
    field = "device_code"
    findings = _check_variety_in_code(variety, field)
    if division:
        findings += _relabel(check_division_code(division), field, "division", ERROR)
    return tuple(findings)


def check_device_code(code: str, *, today: date | None = None) -> list[Finding]:
    """设备代码: variety (4) + maker code (5) or division code (6) + year (4) + sequence (5).

    18 characters when the maker assigns it, 19 when the registration authority does. Real
    data holds 17-character codes: a warning, not an error.
    """
    field = "device_code"
    today = today or _today()
    value = _normalise(code)
    if not value:
        return [_error(field, "empty", "缺少设备代码 / device code is missing")]
    if not _ALNUM_UPPER.fullmatch(value):
        bad = "".join(sorted({c for c in value if not ("0" <= c <= "9" or "A" <= c <= "Z")}))
        return [
            _error(
                field,
                "charset",
                f"设备代码只能包含数字和大写字母，发现 {bad!r} / "
                f"device code may hold only digits and letters, found {bad!r}",
            )
        ]
    clean = _CLEAN_DEVICE_CODE.fullmatch(value)
    if clean and FIRST_DEVICE_YEAR <= int(clean["year"]) <= today.year + 1:
        # Year and sequence are fine, so only the variety and division parts can say anything:
        # imports check hundreds of thousands of codes sharing a few dozen of those.
        return list(_device_code_part_findings(value[:4], clean["division"] or ""))
    findings = _check_variety_in_code(value[:4], field)
    if len(value) == 17:
        findings.append(
            _warning(
                field,
                "length_17",
                "设备代码为17位（应为18或19位），请核对铭牌 / device code has 17 characters "
                "(18 or 19 expected); check it against the nameplate",
            )
        )
        return findings
    if len(value) not in (18, 19):
        return [
            _error(
                field,
                "length",
                f"设备代码应为18或19位 / device code must be 18 or 19 characters, got {len(value)}",
            )
        ]
    if len(value) == 19:
        findings += _relabel(check_division_code(value[4:10]), field, "division", ERROR)
    year, sequence = value[-9:-5], value[-5:]
    findings += _check_year(year, field, today, ERROR)
    if not _DIGITS.fullmatch(sequence):
        findings.append(
            _error(
                field,
                "sequence",
                f"设备代码末5位流水号应为数字 / the last 5 characters (sequence) must be "
                f"digits, got {sequence!r}",
            )
        )
    return findings


# --- 注册代码 (legacy, before 2017) -----------------------------------------------------------


def check_registration_code(code: str, *, today: date | None = None) -> list[Finding]:
    """注册代码: category (4) + division (6) + year-month (6) + sequence (4), 20 digits.

    A value that is not 20 digits is an error; content that legacy systems got wrong (an
    unknown category, an old division, a bad month) only warns.
    """
    field = "registration_code"
    today = today or _today()
    value = _normalise(code)
    if not value:
        return [_error(field, "empty", "缺少注册代码 / registration code is missing")]
    if len(value) != 20 or not _DIGITS.fullmatch(value):
        return [
            _error(
                field,
                "format",
                f"注册代码应为20位数字 / registration code must be 20 digits, "
                f"got {len(value)} characters",
            )
        ]
    findings: list[Finding] = []
    category = value[:4]
    if catalogue.get(category) is None:
        findings.append(
            _warning(
                field,
                "category",
                f"注册代码的设备类别 {category} 不在目录中 / category {category} is not "
                "in the special-equipment catalogue",
            )
        )
    findings += _relabel(check_division_code(value[4:10]), field, "division", WARNING)
    year, month = value[10:14], value[14:16]
    findings += _check_year(year, field, today, WARNING)
    if not 1 <= int(month) <= 12:
        findings.append(
            _warning(
                field,
                "month",
                f"注册代码中的月份 {month} 无效 / month {month} in the registration code "
                "is not 01–12",
            )
        )
    return findings


# --- 使用登记证编号 -----------------------------------------------------------------------------


def normalise_certificate_number(number: str) -> str:
    """Full-width brackets, letters and digits to half-width; drop spaces; upper-case letters."""
    value = (number or "").translate(_FULL_WIDTH)
    return "".join(value.split()).upper()


_CERTIFICATE_PARTS = (
    ("kind", r"[{kinds}]", "种类字（锅容管梯起索游车瓶）/ kind character (锅容管梯起索游车瓶)"),
    # "Digits" are the 2nd and 3rd characters of the variety code, so letters occur (6D10 → D1).
    (
        "variety_digits",
        r"[0-9A-Z]{{2}}",
        "品种代码第2、3位 / the 2nd and 3rd characters of the variety code",
    ),
    ("province", r"[{provinces}]", "省份简称 / province abbreviation"),
    ("city", r"[A-Z]{{1,2}}", "1–2位城市字母 / 1–2 city letters"),
    ("serial", r"[0-9A-Z]*[0-9][0-9A-Z]*", "流水号 / serial number"),
    ("year", r"\([0-9]{{2}}\)", "括号内2位年份，如 (24) / 2-digit year in brackets, e.g. (24)"),
)


@cache
def _certificate_pattern(parts: int) -> re.Pattern[str]:
    """The first ``parts`` parts of the certificate number pattern, one named group each."""
    fmt = {
        "kinds": "".join(sorted(catalogue.certificate_kind_chars())),
        "provinces": PROVINCE_ABBREVIATIONS,
    }
    body = "".join(f"(?P<{name}>{rx.format(**fmt)})" for name, rx, _ in _CERTIFICATE_PARTS[:parts])
    return re.compile(body)


def parse_certificate_number(number: str) -> dict[str, str] | None:
    match = _certificate_pattern(len(_CERTIFICATE_PARTS)).fullmatch(
        normalise_certificate_number(number)
    )
    return match.groupdict() if match else None


@cache
def _certificate_varieties() -> dict[tuple[str, str], tuple[str, ...]]:
    """(kind character, 2 variety characters) → the current catalogue codes they can stand for."""
    pairs: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in catalogue.entries().values():
        if entry.retired or not entry.registrable or not catalogue.is_leaf(entry.code):
            continue
        key = (catalogue.certificate_kind_char(entry.code), entry.code[1:3])
        pairs[key] = (*pairs.get(key, ()), entry.code)
    return pairs


def check_certificate_number(number: str) -> list[Finding]:
    """使用登记证编号, e.g. 起17辽JG0033(24) or 梯11宁A00012（19）."""
    field = "certificate_number"
    value = normalise_certificate_number(number)
    if not value:
        return [_error(field, "empty", "缺少使用登记证编号 / certificate number is missing")]
    parts = parse_certificate_number(value)
    if parts is not None:
        if (parts["kind"], parts["variety_digits"]) in _certificate_varieties():
            return []
        return [
            _warning(
                field,
                "variety_unknown",
                f"{parts['kind']}{parts['variety_digits']} 不对应目录中的任何品种 / "
                f"{parts['kind']}{parts['variety_digits']} matches no variety of the catalogue",
            )
        ]
    # Find the first part that stops matching, so the message says what to fix.
    for count in range(1, len(_CERTIFICATE_PARTS) + 1):
        if not _certificate_pattern(count).match(value):
            name, _, expected = _CERTIFICATE_PARTS[count - 1]
            break
    else:
        name, expected = "format", "编号末尾不应有多余字符 / nothing after the (YY) year"
    return [
        _error(
            field,
            name,
            f"使用登记证编号 {value} 格式不符：需要{expected} / certificate number {value} "
            f"does not match 种类字+2位品种代码+省份+城市字母+流水号+(年份)",
        )
    ]


def check_certificate_matches_variety(number: str, variety_code: str) -> list[Finding]:
    """The certificate's kind character and 2 digits agree with the device's variety code."""
    field = "certificate_number"
    parts = parse_certificate_number(number)
    if parts is None:
        return check_certificate_number(number)
    try:
        entry, note = catalogue.resolve(variety_code)
    except catalogue.UnknownCode as exc:
        return [exc.finding]
    findings = [note] if note is not None else []
    try:
        expected_kind = catalogue.certificate_kind_char(entry.code)
    except catalogue.CatalogueError as exc:
        return [*findings, _error(field, "not_registrable", str(exc))]
    if parts["kind"] != expected_kind:
        findings.append(
            _warning(
                field,
                "kind_mismatch",
                f"登记证种类字 {parts['kind']} 与品种 {entry.label} 不符，应为 {expected_kind} / "
                f"kind character {parts['kind']} does not match {entry.code}; "
                f"expected {expected_kind}",
                suggestion=expected_kind,
            )
        )
    expected_digits = entry.code[1:3]
    if parts["variety_digits"] != expected_digits:
        findings.append(
            _warning(
                field,
                "variety_mismatch",
                f"登记证品种数字 {parts['variety_digits']} 与品种 {entry.label} 不符，应为 "
                f"{expected_digits} / digits {parts['variety_digits']} do not match variety "
                f"{entry.code}; expected {expected_digits}",
                suggestion=expected_digits,
            )
        )
    return findings


# --- 统一社会信用代码 (GB 32100) ----------------------------------------------------------------


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    value = _normalise(first17)
    if len(value) != 17 or any(c not in CREDIT_CODE_ALPHABET for c in value):
        raise ValueError(f"need 17 characters from {CREDIT_CODE_ALPHABET}, got {first17!r}")
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(value, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(code: str) -> list[Finding]:
    """18-character unified social credit code with a GB 32100 check character."""
    field = "credit_code"
    value = _normalise(code)
    if not value:
        return [_error(field, "empty", "缺少统一社会信用代码 / credit code is missing")]
    if len(value) != 18:
        return [
            _error(
                field,
                "length",
                f"统一社会信用代码应为18位 / credit code must be 18 characters, got {len(value)}",
            )
        ]
    bad = "".join(sorted({c for c in value if c not in CREDIT_CODE_ALPHABET}))
    if bad:
        return [
            _error(
                field,
                "charset",
                f"统一社会信用代码含非法字符 {bad!r}（不使用 I O Z S V）/ credit code holds "
                f"{bad!r}; only digits and letters other than I, O, Z, S, V are used",
            )
        ]
    findings: list[Finding] = []
    division = value[2:8]
    if division != CREDIT_CODE_NATIONAL_DIVISION:
        findings += _relabel(check_division_code(division), field, "division", WARNING)
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        findings.append(
            _error(
                field,
                "check_char",
                f"统一社会信用代码校验位错误：第18位应为 {expected}，实为 {value[17]} / "
                f"check character should be {expected}, not {value[17]}",
                suggestion=value[:17] + expected,
            )
        )
    return findings


# --- 96333 救援识别码 ----------------------------------------------------------------------------


def check_rescue_id(value: str) -> list[Finding]:
    """96333 rescue ID on the elevator's use sign: 6 digits (5 in some cities)."""
    field = "rescue_id"
    text = (value or "").strip()
    if not text:
        return [_error(field, "empty", "缺少96333救援识别码 / rescue ID is missing")]
    if not _DIGITS.fullmatch(text) or len(text) not in RESCUE_ID_LENGTHS:
        return [
            _error(
                field,
                "format",
                f"96333救援识别码应为6位（部分城市5位）数字 / rescue ID must be 6 digits "
                f"(5 in some cities), got {text!r}",
            )
        ]
    return []
