"""The licensing pages and the two map layers: scoped, rights by role, bad input answered 400."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing import services
from registry.models import UnitRole
from tests.conftest import XINGQING, XIXIA, signed_in

NINGXIA_BOX = "104,35,108,40"


@pytest.fixture
def world(maker, make_unit, make_equipment, issue, today):
    """Mine: a licensed maker (one licence expiring in 30 days), a device made by an unlicensed
    unit. Theirs (西夏区): a licensed unit."""
    licence = issue(maker, issued_on=today - dt.timedelta(days=1400),
                    expires_on=today + dt.timedelta(days=30))  # fmt: skip
    rogue = make_unit(XINGQING, roles=(UnitRole.MANUFACTURE,), name="无证制造厂")
    device = make_equipment(XINGQING, manufacturer=rogue,
                            manufactured_on=today - dt.timedelta(days=20))  # fmt: skip
    theirs = issue(make_unit(XIXIA, roles=(UnitRole.MANUFACTURE,)), kind="manufacture")
    return licence, device, theirs


def test_the_register_lists_the_jurisdictions_licences(world, users):
    licence, device, theirs = world
    page = signed_in(users["xingqing"]).get("/licensing/")
    text = page.content.decode()
    assert page.status_code == 200
    assert licence.number in text and theirs.number not in text
    assert 'id="expiring"' in text  # the 30-day one is listed as expiring
    assert text.count(licence.number) == 2


def test_the_register_reads_in_a_fixed_number_of_queries(world, users, issue, make_unit):
    client = signed_in(users["xingqing"])
    client.get("/licensing/")
    with CaptureQueriesContext(connection) as first:
        client.get("/licensing/")
    for _ in range(5):
        issue(make_unit(XINGQING, roles=(UnitRole.MANUFACTURE,)))
    with CaptureQueriesContext(connection) as more:
        client.get("/licensing/")
    assert len(more) == len(first)


def test_the_findings_page(world, users):
    licence, device, theirs = world
    text = signed_in(users["xingqing"]).get("/licensing/findings/").content.decode()
    assert device.device_code in text and "无证制造厂" in text
    assert (
        signed_in(users["xixia"])
        .get("/licensing/findings/")
        .content.decode()
        .count(device.device_code)
        == 0
    )


def test_an_enterprise_sees_its_own_unit_only(world, enterprise, users):
    licence, device, theirs = world
    client = signed_in(enterprise)
    text = client.get("/licensing/").content.decode()
    assert licence.number in text  # its own (the maker's)
    assert client.get("/licensing/findings/").status_code == 403
    assert client.get(f"/licensing/licences/{licence.pk}/").status_code == 200
    other = services.file_application(device.manufacturer, kind="manufacture",
                                      scope=[{"code": "3000", "grade": "A"}],
                                      acting_user=users["xingqing"])  # fmt: skip
    assert client.get(f"/licensing/applications/{other.pk}/").status_code == 404


def test_a_licence_page_shows_its_history(world, users, today):
    licence, _, theirs = world
    services.set_licence_status(licence, status="suspended", since=today, reasons="整改",
                                acting_user=users["xingqing"])  # fmt: skip
    client = signed_in(users["xingqing"])
    text = client.get(f"/licensing/licences/{licence.pk}/").content.decode()
    assert "licence.issued" in text and "licence.suspended" in text
    assert client.get(f"/licensing/licences/{theirs.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "installation", "unit": "没有这个单位", "scope": "3000:A"}, "unit"),
        ({"kind": "installation", "unit": "{maker}", "scope": "9999:Z"}, "scope"),
        ({"kind": "installation", "unit": "{maker}"}, "scope"),
    ],
)
def test_bad_applications_answer_400_naming_the_field(world, maker, users, form, field):
    form = {k: v.replace("{maker}", maker.credit_code) for k, v in form.items()}
    page = signed_in(users["xingqing"]).post("/licensing/applications/new/", form)
    assert page.status_code == 400
    assert f'data-field="{field}"' in page.content.decode()


def test_a_bad_expiry_date_answers_400(maker, users):
    application = services.file_application(maker, kind="installation",
                                            scope=[{"code": "3000", "grade": "A"}],
                                            acting_user=users["xingqing"])  # fmt: skip
    client = signed_in(users["xingqing"])
    client.post(f"/licensing/applications/{application.pk}/decide/", {"verb": "accept"})
    page = client.post(f"/licensing/applications/{application.pk}/decide/",
                       {"verb": "approve", "number": "TS3640001-2030", "expires_on": "30.02.2030"})  # fmt: skip
    assert page.status_code == 400 and 'data-field="expires_on"' in page.content.decode()


def test_the_analyst_may_not_decide(maker, users):
    application = services.file_application(maker, kind="installation",
                                            scope=[{"code": "3000", "grade": "A"}],
                                            acting_user=users["xingqing"])  # fmt: skip
    page = signed_in(users["xingqing_analyst"]).post(
        f"/licensing/applications/{application.pk}/decide/", {"verb": "accept"}
    )
    assert page.status_code == 403


def _features(user, layer: str) -> dict[int, dict]:
    answer = signed_in(user).get(f"/ogcapi/collections/{layer}/items",
                                 {"bbox": NINGXIA_BOX, "f": "json"})  # fmt: skip
    assert answer.status_code == 200, answer.content
    return {f["id"]: f["properties"] for f in answer.json()["features"]}


def test_the_licences_layer_carries_validity(world, users):
    licence, _, theirs = world
    mine = _features(users["xingqing"], "licences")
    assert set(mine) == {licence.pk}
    assert (
        mine[licence.pk]["有效性"] == "expiring"
        and mine[licence.pk]["许可证编号"] == licence.number
    )
    assert set(_features(users["city"], "licences")) == {licence.pk, theirs.pk}


def test_the_unlicensed_layer_holds_the_findings(world, users):
    _, device, _ = world
    assert set(_features(users["xingqing"], "unlicensed")) == {device.pk}
    assert set(_features(users["xixia"], "unlicensed")) == set()
