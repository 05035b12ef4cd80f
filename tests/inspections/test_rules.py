"""The supervisory-inspection rule table and the finding: registered without a required one."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import Client
from django.utils import timezone

from inspections import rules, services
from inspections.models import Stage
from registry import services as registry_services
from tests.conftest import XINGQING, XIXIA

NUMBERS = itertools.count(1)


def supervise(device, body, stage, day=dt.date(2024, 1, 10), conclusion="pass"):
    n = next(NUMBERS)
    return services.record_supervisory_inspection(
        device, acting_user=None, stage=stage, body=body, inspected_on=day,
        conclusion=conclusion, report_number=f"R{n}", certificate_number=f"C{n}",
    )  # fmt: skip


@pytest.mark.parametrize(
    "variety, stages",
    [
        ("1110", {"manufacture", "installation", "modification", "major_repair"}),  # boiler
        ("2150", {"manufacture", "modification", "major_repair"}),  # fixed vessel: no installation
        ("2220", {"manufacture", "modification", "major_repair"}),  # tank truck
        ("3110", {"installation", "modification", "major_repair"}),  # elevator: no manufacture
        ("4110", {"manufacture", "installation", "modification", "major_repair"}),  # bridge crane
        ("4D10", {"installation", "modification", "major_repair"}),  # parking: no manufacture
        ("5110", set()),  # forklift: none
    ],
)
def test_the_table_says_which_stages_a_variety_needs(variety, stages):
    assert set(rules.required_for(variety)) == stages


def test_every_row_names_a_known_stage():
    assert {r.stage for r in rules.requirements()} <= set(Stage.values)


def test_a_device_without_its_required_inspections_is_a_finding(make_equipment, body):
    elevator = make_equipment(variety_code="3110")
    boiler = make_equipment(variety_code="1110")
    forklift = make_equipment(variety_code="5110")
    found = {d.pk: set(rules.missing_stages(d)) for d in rules.missing()}
    assert found == {elevator.pk: {"installation"}, boiler.pk: {"manufacture", "installation"}}
    assert forklift.pk not in found
    supervise(elevator, body, Stage.INSTALLATION)
    supervise(boiler, body, Stage.MANUFACTURE)
    supervise(boiler, body, Stage.INSTALLATION, conclusion="fail")  # a failed one is not enough
    found = {d.pk: set(rules.missing_stages(d)) for d in rules.missing()}
    assert found == {boiler.pk: {"installation"}}


def test_a_modification_wants_an_inspection_after_it(make_equipment, body):
    elevator = make_equipment(variety_code="3110")
    supervise(elevator, body, Stage.INSTALLATION)
    registry_services.record_lifecycle_event(
        elevator, "modification", acting_user=None, occurred_on=dt.date(2025, 3, 1)
    )
    supervise(elevator, body, Stage.MODIFICATION, day=dt.date(2025, 2, 1))  # before it: not it
    assert [set(rules.missing_stages(d)) for d in rules.missing()] == [{"modification"}]
    supervise(elevator, body, Stage.MODIFICATION, day=dt.date(2025, 3, 20))
    assert not rules.missing().exists()


def test_cancelled_devices_are_not_findings(make_equipment):
    device = make_equipment(variety_code="3110")
    registry_services.change_equipment_status(device, "cancelled", acting_user=None, reason="拆除")
    assert not rules.missing().exists()


def test_the_finding_list_is_per_jurisdiction(make_equipment, users):
    mine = make_equipment(variety_code="3110")
    theirs = make_equipment(XIXIA, variety_code="3110")
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get("/inspections/").content.decode()
    assert mine.device_code in page and theirs.device_code not in page


def test_a_passed_inspection_needs_its_certificate(make_equipment, body):
    from registry.exceptions import RegistryError

    with pytest.raises(RegistryError):
        services.record_supervisory_inspection(
            make_equipment(), acting_user=None, stage="installation", body=body,
            inspected_on=dt.date(2024, 1, 1), conclusion="pass", report_number="X1",
        )  # fmt: skip


def test_the_manufacturing_view_shows_a_makers_products_here_only(
    make_unit, make_equipment, users, body
):
    maker = make_unit(XIXIA, roles=("manufacture",), name="宁夏锅炉厂")
    mine = make_equipment(variety_code="1110", manufacturer=maker)
    theirs = make_equipment(XIXIA, variety_code="1110", manufacturer=maker)
    supervise(mine, body, Stage.MANUFACTURE)
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get(f"/inspections/manufacturing/?kind=1000&maker={maker.pk}").content.decode()
    assert mine.device_code in page and theirs.device_code not in page
    assert body.name in page and "宁夏锅炉厂" in page
    assert client.get("/inspections/manufacturing/?maker=99999999999999999999").status_code == 200


def test_the_manufacturing_view_names_the_makers_licence(make_unit, make_equipment, users):
    """Under which licence: the maker's manufacture licence covering the kind, with its validity
    today, as the licence register shows it to the reader; a maker with none is marked."""
    from licensing import services as licensing

    licensed = make_unit(XINGQING, roles=("manufacture",), name="兴庆锅炉厂")
    unlicensed = make_unit(XINGQING, roles=("manufacture",), name="无证锅炉厂")
    make_equipment(variety_code="1110", manufacturer=licensed)
    make_equipment(variety_code="1110", manufacturer=unlicensed)
    today = timezone.localdate()
    licensing.issue_licence(
        licensed, kind="manufacture", scope=[{"code": "1000", "grade": "B"}],
        number=f"TS2640901-{today.year + 2}", authority="宁夏回族自治区市场监督管理厅",
        issued_on=today - dt.timedelta(days=400), expires_on=today + dt.timedelta(days=60),
        acting_user=None,
    )  # fmt: skip
    client = Client()
    client.force_login(users["xingqing"])
    page = client.get("/inspections/manufacturing/?kind=1000").content.decode()
    rows = {
        name: page[page.index(name) : page.index("</tr>", page.index(name))]
        for name in ("兴庆锅炉厂", "无证锅炉厂")
    }
    assert f"TS2640901-{today.year + 2}" in rows["兴庆锅炉厂"]
    assert "90 天内到期" in rows["兴庆锅炉厂"]  # expiring in 60 days
    assert "无有效记录" in rows["无证锅炉厂"]
    # Cranes: the boiler licence does not reach them.
    make_equipment(variety_code="4110", manufacturer=licensed)
    cranes = client.get("/inspections/manufacturing/?kind=4000").content.decode()
    assert "TS2640901" not in cranes
