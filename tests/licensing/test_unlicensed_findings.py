"""无证生产 / 无证安装: each rule of licensing.findings, against devices built for it."""

from __future__ import annotations

import datetime as dt

import pytest

from licensing import findings, services
from licensing.models import LicenceStatus
from registry.models import LifecycleEvent, UnitRole
from tests.conftest import XINGQING, XIXIA

YEAR = dt.timedelta(days=365)


@pytest.fixture
def made(make_equipment, maker, today):
    """An elevator (3110) made by `maker` 200 days ago."""

    def make(by=None, variety_code="3110", day=None, code=XINGQING, **fields):
        return make_equipment(
            code, variety_code=variety_code, manufacturer=by or maker,
            manufactured_on=day or today - dt.timedelta(days=200), **fields,
        )  # fmt: skip

    return make


def found(user, today):
    return {(f.equipment_id, f.unit_id, f.kind) for f in findings.unlicensed(user, today=today)}


def test_made_without_any_licence_is_a_finding(made, maker, users, today):
    device = made()
    assert found(users["xingqing"], today) == {(device.pk, maker.pk, "manufacture")}


def test_a_licence_in_force_covering_the_kind_clears_it(made, maker, issue, users, today):
    made()
    issue(maker, scope=(("3000", "A"),))
    assert found(users["xingqing"], today) == set()


@pytest.mark.parametrize(
    ("scope", "covered"),
    [((("3000", "B"),), True), ((("4000", "A"),), False)],
    ids=["elevator-kind", "crane-only"],
)
def test_the_scope_must_cover_the_device_kind(made, maker, issue, users, today, scope, covered):
    device = made()
    issue(maker, scope=scope)
    assert (found(users["xingqing"], today) == set()) is covered
    assert covered or (device.pk, maker.pk, "manufacture") in found(users["xingqing"], today)


def test_a_class_in_the_scope_covers_its_varieties(made, maker, issue, users, today):
    made(variety_code="2130")  # a third-category fixed vessel, under class 2100
    issue(maker, scope=(("2100", "A2"),))
    assert found(users["xingqing"], today) == set()


def test_a_licence_of_another_kind_does_not_cover(made, maker, issue, users, today):
    device = made()
    issue(maker, kind="installation", scope=(("3000", "A"),))
    assert found(users["xingqing"], today) == {(device.pk, maker.pk, "manufacture")}


def test_the_licence_must_be_in_force_on_the_day(made, maker, issue, users, today):
    device = made(day=today - dt.timedelta(days=30))
    issue(maker, issued_on=today - 5 * YEAR, expires_on=today - dt.timedelta(days=60))
    assert found(users["xingqing"], today) == {(device.pk, maker.pk, "manufacture")}


@pytest.mark.parametrize(("revoked_days_ago", "finding"), [(300, True), (100, False)])
def test_a_revoked_licence_covers_only_what_came_before(
    made, maker, issue, users, today, revoked_days_ago, finding
):
    made()  # 200 days ago
    licence = issue(maker)
    services.set_licence_status(
        licence, status=LicenceStatus.REVOKED, reasons="抽查 / sampled",
        since=today - dt.timedelta(days=revoked_days_ago), acting_user=None,
    )  # fmt: skip
    assert bool(found(users["xingqing"], today)) is finding


def test_installation_by_an_unlicensed_installer(make_equipment, make_unit, issue, users, today):
    installer = make_unit(XINGQING, roles=(UnitRole.INSTALLATION,))
    device = make_equipment(XINGQING, installer=installer,
                            commissioned_on=today - dt.timedelta(days=40))  # fmt: skip
    assert found(users["xingqing"], today) == {(device.pk, installer.pk, "installation")}
    issue(installer, kind="installation", scope=(("3000", "A"),))
    assert found(users["xingqing"], today) == set()


def test_a_modification_event_needs_an_installation_licence(
    make_equipment, make_unit, users, today
):
    repairer = make_unit(XINGQING, roles=(UnitRole.INSTALLATION,))
    device = make_equipment(XINGQING)
    LifecycleEvent.objects.create(equipment=device, kind="modification", unit=repairer,
                                  occurred_on=today - dt.timedelta(days=10))  # fmt: skip
    assert found(users["xingqing"], today) == {(device.pk, repairer.pk, "installation")}


def test_kinds_whose_installation_is_not_licensed_are_not_findings(make_equipment, make_unit,
                                                                    users, today):  # fmt: skip
    installer = make_unit(XINGQING, roles=(UnitRole.INSTALLATION,))
    make_equipment(XINGQING, variety_code="5110", installer=installer,
                   commissioned_on=today - dt.timedelta(days=40))  # a forklift  # fmt: skip
    assert found(users["xingqing"], today) == set()


def test_activities_older_than_the_look_back_are_left_out(made, users, today):
    made(day=today - dt.timedelta(days=findings.LOOK_BACK_DAYS + 5))
    assert found(users["xingqing"], today) == set()


def test_findings_stay_in_their_jurisdiction(made, make_unit, users, today):
    theirs = made(by=make_unit(XIXIA, roles=(UnitRole.MANUFACTURE,)), code=XIXIA)
    mine = made()
    assert {d for d, _, _ in found(users["xingqing"], today)} == {mine.pk}
    assert {d for d, _, _ in found(users["xixia"], today)} == {theirs.pk}
    assert {d for d, _, _ in found(users["city"], today)} == {mine.pk, theirs.pk}


def test_the_sql_agrees_with_a_python_oracle(made, maker, issue, make_unit, users, today):
    """Ten devices on different days against two licences with a gap: the brute force in Python
    over the same records gives the same set."""
    first = issue(maker, issued_on=today - 3 * YEAR, expires_on=today - YEAR)
    second = issue(maker, issued_on=today - YEAR + dt.timedelta(days=30),
                   expires_on=today + 2 * YEAR)  # fmt: skip
    days = [today - dt.timedelta(days=n) for n in (10, 200, 340, 350, 364, 400, 700, 1000)]
    devices = [made(day=d) for d in days]

    def covered(day):
        return any(lic.issued_on <= day <= lic.expires_on for lic in (first, second))

    expected = {(d.pk, maker.pk, "manufacture") for d in devices if not covered(d.manufactured_on)}
    assert expected  # the gap holds at least one
    assert found(users["xingqing"], today) == expected
