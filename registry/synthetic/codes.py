"""Identifiers that satisfy the same rules the validators check (device, registration, certificate, credit, ID)."""

from __future__ import annotations

import datetime as dt

from ..validators import credit_code_check_char

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def credit_code(division: str, serial: int) -> str:
    """GB 32100: registration authority (9) + kind (1) + division (6) + organisation code (9) + check."""
    body = "91" + division + _base31(serial, 9)
    return body + credit_code_check_char(body)


def _base31(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 31)
        digits.append(CREDIT_ALPHABET[remainder])
    return "".join(reversed(digits))


def national_id(division: str, born: dt.date, serial: int) -> str:
    body = f"{division}{born:%Y%m%d}{serial % 1000:03d}"
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def device_code(variety: str, maker: str, year: int, sequence: int) -> str:
    return f"{variety}{maker}{year:04d}{sequence % 100000:05d}"


def registration_code(variety: str, division: str, registered: dt.date, sequence: int) -> str:
    # The category part of legacy codes is the first four digits of the (then) variety code; letters became 0.
    category = "".join(c if c.isdigit() else "0" for c in variety)
    return f"{category}{division}{registered:%Y%m}{sequence % 10000:04d}"


def certificate_number(
    kind_char: str, variety: str, province_abbr: str, city_letter: str, serial: int, year: int
) -> str:
    return f"{kind_char}{variety[1:3]}{province_abbr}{city_letter}{serial:05d}({year % 100:02d})"
