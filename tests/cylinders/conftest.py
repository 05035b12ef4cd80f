"""Cylinder fixtures: filling stations with licences in real counties, cylinders registered to them."""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest

from cylinders import services
from registry.models import UnitRole
from tests.conftest import XINGQING


@pytest.fixture
def make_station(make_unit):
    serial = count(1)

    def make(code: str = XINGQING, valid_until: dt.date | None = dt.date(2030, 1, 1), **fields):
        station = make_unit(code, roles=(UnitRole.FILLING,), **fields)
        if valid_until is not None:
            services.grant_filling_licence(
                station, acting_user=None, number=f"TS4{code[:2]}{next(serial):04d}-{valid_until.year}",
                valid_until=valid_until,
                # Issued long before the tests' fillings (the service would assume four years).
                issued_on=min(dt.date(2020, 1, 1), valid_until - dt.timedelta(days=365)),
            )  # fmt: skip
        return station

    return make


@pytest.fixture
def station(make_station):
    return make_station()


@pytest.fixture
def make_cylinder(station):
    serial = count(1)

    def make(owner=None, **fields):
        n = next(serial)
        fields.setdefault("tag", f"RFID{n:010d}")
        fields.setdefault("maker_name", "测试气瓶制造厂")
        fields.setdefault("serial_number", f"S{n:06d}")
        fields.setdefault("made_on", dt.date(2022, 3, 1))
        fields.setdefault("kind", "lpg")
        fields.setdefault("volume_l", "35.5")
        fields.setdefault("working_pressure_mpa", "2.10")
        fields.setdefault("design_life_years", 8)
        return services.register_cylinder(acting_user=None, owner=owner or station, **fields)

    return make
