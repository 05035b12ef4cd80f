"""Licensing fixtures: makers and installers in real counties, licences issued through the service."""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest
from django.utils import timezone

from accounts.models import Role, User
from licensing import services
from licensing.models import UnitAccount
from registry.models import UnitRole
from tests.conftest import XINGQING

YEAR = dt.timedelta(days=365)


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def issue(db):
    serial = count(1)
    leads = {"design": 1, "manufacture": 2, "installation": 3, "filling": 4, "inspection": 7}

    def make(unit, kind="manufacture", scope=(("3000", "A"),), issued_on=None, expires_on=None,
             **fields):  # fmt: skip
        issued_on = issued_on or timezone.localdate() - 2 * YEAR
        expires_on = expires_on or issued_on + 4 * YEAR
        number = f"TS{leads[kind]}64{next(serial):04d}-{expires_on.year}"
        return services.issue_licence(
            unit, kind=kind, scope=[{"code": c, "grade": g} for c, g in scope], number=number,
            authority="宁夏回族自治区市场监督管理厅", issued_on=issued_on, expires_on=expires_on,
            acting_user=None, **fields,
        )  # fmt: skip

    return make


@pytest.fixture
def maker(make_unit):
    return make_unit(XINGQING, roles=(UnitRole.MANUFACTURE, UnitRole.INSTALLATION))


@pytest.fixture
def enterprise(agencies, maker) -> User:
    user = User.objects.create_user(
        "maker_account", password="pw-for-tests", agency=agencies[XINGQING], role=Role.ENTERPRISE
    )
    UnitAccount.objects.create(user=user, unit=maker)
    return user
