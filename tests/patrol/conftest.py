"""Patrol fixtures: a hand-built set of devices in 兴庆区 whose every risk fact is set by the test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role, User
from registry import services
from registry.models import Equipment
from tests.conftest import XINGQING

# The day the plans start: every "days overdue" and "years old" below counts from it.
ON = dt.date(2026, 6, 1)
NOT_DUE = ON + dt.timedelta(days=100)
LIFT, BOILER, CRANE = "3110", "1100", "4110"


@pytest.fixture
def device(make_equipment):
    """A device whose only risk facts are the ones given: due after ON, commissioned six years
    before it, no inspection, no accident."""

    def make(code: str = XINGQING, variety: str = LIFT, due: dt.date | None = NOT_DUE, **fields):
        equipment = make_equipment(code, variety, **fields)
        Equipment.objects.filter(pk=equipment.pk).update(next_inspection_due=due)
        equipment.refresh_from_db()
        return equipment

    return make


@pytest.fixture
def fail(db):
    def record(equipment: Equipment, *, due: dt.date | None = NOT_DUE) -> None:
        """A failed last inspection; the due date is then put back so only the failure counts."""
        services.record_inspection(
            equipment, acting_user=None, conclusion="fail", inspected_on=ON - dt.timedelta(days=10)
        )
        Equipment.objects.filter(pk=equipment.pk).update(next_inspection_due=due)

    return record


@pytest.fixture
def accident(db):
    def record(equipment: Equipment | None = None, *, unit=None) -> None:
        services.record_accident(
            acting_user=None,
            occurred_at=timezone.now() - dt.timedelta(days=30),
            kind="测试事故",
            equipment=equipment,
            unit=unit,
            location=equipment.location if equipment else unit.location,
        )

    return record


@pytest.fixture
def inspector(agencies) -> User:
    return User.objects.create_user(
        "inspector_xingqing",
        password="pw-for-tests",
        agency=agencies[XINGQING],
        role=Role.INSPECTOR,
    )


@pytest.fixture
def hand_built(device, fail, accident) -> dict[str, Equipment]:
    """Five devices of 兴庆区 whose scores the tests work out by hand, plus two that never count."""
    crane = device(variety=CRANE)
    accident(crane)
    accident(crane)
    failed = device(variety=LIFT)
    fail(failed, due=None)  # a failure leaves no due date: overdue, with no day count
    devices = {
        "overdue_lift": device(variety=LIFT, due=ON - dt.timedelta(days=120)),
        "failed_lift": failed,
        "old_boiler": device(variety=BOILER, manufactured_on=dt.date(2000, 1, 1)),
        "crane": crane,
        "crane_neighbour": device(variety=LIFT, use_unit=crane.use_unit),
    }
    suspended = device(variety=BOILER, due=ON - dt.timedelta(days=400))
    Equipment.objects.filter(pk=suspended.pk).update(status="suspended")
    return devices
