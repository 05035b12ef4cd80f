"""Public-service fixtures: a device in each county with a full record around it (units with
contacts, an inspector, an inspection), and its QR token."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from accounts.models import Role, User
from public import services as public_services
from registry import services
from registry.models import Equipment, Person, Unit, UnitRole
from registry.synthetic.codes import certificate_number, national_id
from tests.conftest import XINGQING, XIXIA, inside


@dataclass
class Site:
    device: Equipment
    use_unit: Unit
    maintainer: Unit
    inspector: Person
    token: str
    national_id: str


@pytest.fixture
def make_site(db, make_unit):
    serial = iter(range(1, 1000))

    def make(code: str = XINGQING) -> Site:
        n = next(serial)
        tail = code[-2:]
        use_unit = make_unit(
            code, name=f"{code}物业公司{n}", contact_name=f"张联系{n}",
            contact_phone=f"1381111{tail}{n:02d}", address=f"幸福路{n}号",
        )  # fmt: skip
        maintainer = make_unit(
            code, roles=(UnitRole.MAINTENANCE, UnitRole.INSPECTION), name=f"{code}电梯维保{n}",
            contact_name=f"李维保{n}", contact_phone=f"1382222{tail}{n:02d}",
        )  # fmt: skip
        nid = national_id(code, dt.date(1980, 1, 2), 300 + n)
        inspector = services.register_person(
            acting_user=None, name=f"王检验{n}", role="inspector", region_code=code,
            employer=maintainer, national_id=nid, phone=f"1383333{tail}{n:02d}",
        )  # fmt: skip
        device, _ = services.register_equipment(
            acting_user=None,
            variety_code="3110",
            use_unit=use_unit,
            maintenance_unit=maintainer,
            location=inside(code),
            address=f"{code}幸福小区{n}号楼",
            device_code=f"3110T12342020{int(code) % 1000:03d}{n:02d}",
            certificate_number=certificate_number("梯", "3110", "宁", "A", 400 + n, 2020),
            rescue_id=f"9{tail}{n:03d}",
            commissioned_on=dt.date(2020, 6, 1),
        )
        services.record_inspection(
            device, acting_user=None, conclusion="pass",
            inspected_on=dt.date.today() - dt.timedelta(days=30), body=maintainer,
            inspector=inspector,
        )  # fmt: skip
        device.refresh_from_db()
        token = public_services.issue_token(device, acting_user=None).token
        return Site(device, use_unit, maintainer, inspector, token, nid)

    return make


@pytest.fixture
def responders(agencies) -> dict[str, User]:
    def user(username: str, code: str, role: str = Role.RESPONDER) -> User:
        return User.objects.create_user(
            username, password="pw-for-tests", agency=agencies[code], role=role
        )

    return {
        "xingqing": user("pub_responder_xingqing", XINGQING),
        "xixia": user("pub_responder_xixia", XIXIA),
        "analyst": user("pub_analyst_xingqing", XINGQING, Role.ANALYST),
    }
