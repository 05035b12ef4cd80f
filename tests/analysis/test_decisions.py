"""Decision support (analysis/decisions.py) and the annual report, on small worlds whose answers
are worked out by hand: a device due twice in 12 months, a county with no devices, a gap that one
added site covers; scope and every bad parameter named."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from pyproj import Geod

from accounts.models import Role
from analysis import decisions, desk
from registry import services
from registry.intervals import add_months
from registry.models import EquipmentStatus, InspectionRule, UnitRole
from registry.models.events import ResourceType
from tests.conftest import NINGXIA, XINGQING, XIXIA, inside

JINFENG = "640106"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def month_of(today: dt.date, months: int) -> dt.date:
    """The 15th of the month `months` after today's."""
    return add_months(today.replace(day=15), months)


# ------------------------------------------------------------------------------- workload


@pytest.fixture
def workload_world(db, make_equipment, make_unit):
    today = timezone.localdate()
    # A crane variety inspected every 6 months (a rule made for the test): due twice in 12 months.
    InspectionRule.objects.create(variety_prefix="4110", condition={}, interval_months=6)
    body = make_unit(XINGQING, roles=(UnitRole.INSPECTION,), name="兴庆检验所")
    made = {
        "elevator": make_equipment(XINGQING, next_inspection_due=month_of(today, 2)),
        "crane": make_equipment(XINGQING, "4110", next_inspection_due=month_of(today, 1)),
        "overdue": make_equipment(XIXIA, next_inspection_due=today - dt.timedelta(days=40)),
        "later": make_equipment(XIXIA, next_inspection_due=month_of(today, 13)),
        "suspended": make_equipment(XIXIA, next_inspection_due=month_of(today, 3)),
    }
    # The elevator's last inspection names the body; its due date is then set by the test.
    services.record_inspection(
        made["elevator"],
        acting_user=None,
        conclusion="pass",
        inspected_on=today - dt.timedelta(days=300),
        body=body,
    )
    type(made["elevator"]).objects.filter(pk=made["elevator"].pk).update(
        next_inspection_due=month_of(today, 2)
    )
    services.change_equipment_status(
        made["suspended"], EquipmentStatus.SUSPENDED, acting_user=None, on=today
    )
    return today, made


def test_workload_counts_each_due_month_and_the_repeats_inside_the_window(workload_world, users):
    today, _ = workload_world
    answer = decisions.workload(desk.parse_area(users["province"], None), today)
    assert answer["months"][0] == today.strftime("%Y-%m")
    expected_due = [0] * 12
    expected_due[0] = 1  # overdue: backlog in the first month
    expected_due[1] = 1  # the crane
    expected_due[2] = 1  # the elevator (12-month rule: next due outside the window)
    expected_repeats = [0] * 12
    expected_repeats[7] = 1  # the crane again, 6 months after month 1
    assert answer["due"] == expected_due
    assert answer["repeats"] == expected_repeats
    assert answer["backlog"] == 1
    assert sum(answer["totals"]) == 4


def test_workload_by_body_and_county_include_empty_counties(workload_world, users):
    today, _ = workload_world
    answer = decisions.workload(desk.parse_area(users["city"], None), today)
    counties = {row["code"]: row for row in answer["counties"]}
    assert counties[JINFENG]["total"] == 0  # a county with no devices is listed
    assert counties[XINGQING]["total"] == 3  # elevator once, crane twice
    assert counties[XIXIA]["total"] == 1
    bodies = {row["name"]: row["total"] for row in answer["bodies"]}
    # The body that did the last inspection; the crane, never inspected, takes its county's usual
    # body (兴庆检验所 did every inspection there); 西夏区 has none yet.
    assert bodies == {"兴庆检验所": 3, decisions.UNASSIGNED: 1}
    assert sum(r["total"] for r in answer["bodies"]) == sum(answer["totals"])


def test_workload_of_a_county_user_is_their_county(workload_world, users):
    answer = client_for(users["xixia"]).get("/api/analysis/workload").json()
    assert [row["code"] for row in answer["counties"]] == [XIXIA]
    assert answer["backlog"] == 1 and sum(answer["totals"]) == 1


# ------------------------------------------------------------------------------- coverage


def shifted(point: Point, east_m: float) -> Point:
    lon, lat, _ = Geod(ellps="WGS84").fwd(point.x, point.y, 90, east_m)
    return Point(lon, lat, srid=4326)


@pytest.fixture
def coverage_world(db, make_equipment):
    base = inside(XINGQING)
    services.register_resource(
        acting_user=None, name="兴庆救援队", resource_type=ResourceType.RESCUE_TEAM, location=base
    )
    covered = make_equipment(XINGQING, location=shifted(base, 500))
    # Two elevators 6 km east, 200 m apart: beyond 10 minutes at 20 km/h (3.33 km), one site
    # between them covers both.
    far = [make_equipment(location=shifted(base, 6000 + d)) for d in (0, 200)]
    return base, covered, far


def test_coverage_finds_the_gap_and_one_site_closes_it(coverage_world, users):
    user = users["province"]
    today = timezone.localdate()
    area = desk.parse_area(user, None)
    types = (ResourceType.RESCUE_TEAM,)
    answer = decisions.coverage(area, user, "3000", types, 10, 3, today)
    assert answer["devices"] == 3
    assert answer["uncovered"] == 2
    assert [s["newly_covered"] for s in answer["sites"]] == [2]  # then nothing left to cover
    site = answer["sites"][0]
    # Adding a resource at the site covers both: recomputed from scratch, nothing is beyond.
    services.register_resource(
        acting_user=None,
        name="新站",
        resource_type=ResourceType.RESCUE_TEAM,
        location=Point(site["lon"], site["lat"], srid=4326),
    )
    again = decisions.coverage(area, user, "3000", types, 10, 3, today)
    assert again["uncovered"] == 0 and again["sites"] == []


def test_nearest_distances_are_geodesic(coverage_world, users):
    base, covered, far = coverage_world
    rows = decisions.nearest_resources(
        desk.parse_area(users["province"], None), users["province"], "3000", ("rescue_team",)
    )
    geod = Geod(ellps="WGS84")
    for device, _, lon, lat, metres in rows:
        _, _, expected = geod.inv(base.x, base.y, lon, lat)
        assert metres == pytest.approx(expected, abs=0.01), device


def test_the_norm_applies_when_no_minutes_are_given(coverage_world, users):
    # 30 minutes in a city district at 20 km/h: 10 km reach, so the 6 km devices are covered.
    answer = client_for(users["province"]).get("/api/analysis/coverage").json()
    assert answer["minutes"] is None and answer["uncovered"] == 0
    counties = {row["code"]: row for row in answer["counties"]}
    assert counties[XINGQING]["minutes"] == 30
    assert counties[JINFENG]["devices"] == 0 and counties[JINFENG]["share"] is None


def test_a_county_sees_only_its_own_resources(coverage_world, users):
    # 西夏区's user cannot see 兴庆区's team: their devices (if any) count as uncovered; and
    # none of 兴庆区's devices are in their answer.
    answer = client_for(users["xixia"]).get("/api/analysis/coverage").json()
    assert [row["code"] for row in answer["counties"]] == [XIXIA]


# ------------------------------------------------------------------------------- risk


@pytest.fixture
def risk_world(db, make_equipment, make_unit):
    today = timezone.localdate()
    risky = make_unit(XINGQING, name="高风险单位")
    calm = make_unit(XINGQING, name="低风险单位")
    other = make_unit(XIXIA, name="西夏单位")
    late = [
        make_equipment(XINGQING, use_unit=risky, next_inspection_due=today - dt.timedelta(days=9))
        for _ in range(2)
    ]
    services.record_inspection(
        late[0],
        acting_user=None,
        conclusion="fail",
        inspected_on=today - dt.timedelta(days=5),
        defects=3,
    )
    fine = make_equipment(
        XINGQING, use_unit=calm, next_inspection_due=today + dt.timedelta(days=90)
    )
    services.record_accident(
        acting_user=None,
        occurred_at=timezone.now() - dt.timedelta(days=30),
        kind="坠落",
        equipment=fine,
        deaths=1,
    )
    make_equipment(XIXIA, use_unit=other, next_inspection_due=today - dt.timedelta(days=1))
    # An accident in 兴庆区 naming 西夏区's unit: 兴庆区's list still holds only its own units.
    services.record_accident(
        acting_user=None,
        occurred_at=timezone.now() - dt.timedelta(days=3),
        kind="坠落",
        unit=other,
        location=inside(XINGQING),
    )
    return risky, calm, other


def test_risk_components_and_score(risk_world, users):
    risky, calm, _ = risk_world
    answer = client_for(users["xingqing"]).get("/api/analysis/risk").json()
    rows = {row["name"]: row for row in answer["units"]}
    assert set(rows) == {"高风险单位", "低风险单位"}  # not 西夏单位
    w = decisions.RISK_WEIGHTS
    r = rows["高风险单位"]
    assert (r["devices"], r["overdue"], r["failed"], r["defects"]) == (2, 2, 1, 3)
    assert r["score"] == 2 * w["overdue"] + w["failed"] + 3 * w["defects"]
    c = rows["低风险单位"]
    assert (c["accidents"], c["deaths"], c["overdue"]) == (1, 1, 0)
    assert c["score"] == w["accidents"] + w["deaths"]
    assert sum(c["points"].values()) == c["score"]
    ranked = [row["name"] for row in answer["units"]]
    assert ranked == sorted(ranked, key=lambda n: -rows[n]["score"])
    by_overdue = client_for(users["xingqing"]).get("/api/analysis/risk", {"sort": "-overdue"})
    assert by_overdue.json()["units"][0]["name"] == "低风险单位"


def test_risk_download_holds_every_unit(risk_world, users):
    response = client_for(users["city"]).get(
        "/analysis/decisions/risk/download", {"format": "xlsx"}
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    names = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {"高风险单位", "低风险单位", "西夏单位"}


# ------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("path", "params", "fields"),
    [
        ("coverage", {"k": "0", "minutes": "999", "kind": "x"}, {"k", "minutes", "kind"}),
        ("coverage", {"types": "spaceship"}, {"types"}),
        ("coverage", {"k": "9" * 40}, {"k"}),
        ("risk", {"sort": "name", "page": "0"}, {"sort", "page"}),
        ("workload", {"year": "2020"}, {"year"}),
        ("workload", {"region": XIXIA}, {"region"}),
    ],
)
def test_bad_parameters_are_named(users, path, params, fields):
    response = client_for(users["xingqing"]).get(f"/api/analysis/{path}", params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields


@pytest.mark.parametrize("path", ["/api/analysis/workload", "/analysis/decisions/risk/download"])
def test_enterprise_accounts_are_refused(db, agencies, path):
    from accounts.models import User

    user = User.objects.create_user(
        "firm", password="pw-for-tests", agency=agencies[XINGQING], role=Role.ENTERPRISE
    )
    assert client_for(user).get(path).status_code == 403


def test_pages_answer_for_every_question(coverage_world, users):
    client = client_for(users["xingqing_analyst"])
    for question in decisions.QUESTION_PARAMS:
        assert client.get(f"/analysis/decisions/{question}").status_code == 200, question
    assert client.get("/analysis/decisions/nothing").status_code == 404
    assert client.get("/analysis/decisions/coverage", {"k": "x"}).status_code == 400


# ------------------------------------------------------------------------------- annual report


def test_the_annual_report_xlsx_holds_the_desks_figures(workload_world, users):
    client = client_for(users["province"])
    year = timezone.localdate().year
    response = client.get("/analysis/report.xlsx", {"year": year})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [title for title, _ in _sheets()]
    overview = client.get("/api/analysis/overview", {"year": year}).json()
    devices = next(i for i in overview["indicators"] if i["key"] == "devices")
    sheet = book[book.sheetnames[0]]
    header = [c.value for c in sheet[3]]
    row = next(
        r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0].startswith("在册设备")
    )
    assert row[header.index(str(year))] == devices["value"] == 5
    regions = book[book.sheetnames[2]]
    codes = [r[0] for r in regions.iter_rows(min_row=4, values_only=True)]
    assert codes[-1] == NINGXIA  # the total row last


def _sheets():
    from analysis.report import SHEETS

    return SHEETS


def test_the_report_page_and_its_errors(workload_world, users):
    client = client_for(users["xingqing"])
    page = client.get("/analysis/report")
    assert page.status_code == 200
    assert "年度统计报表" in page.content.decode() or "统计报表" in page.content.decode()
    assert client.get("/analysis/report", {"year": "1900"}).status_code == 400
    assert client.get("/analysis/report.xlsx", {"region": XIXIA}).status_code == 400


def test_coverage_of_too_many_devices_is_a_400_naming_region(coverage_world, users, monkeypatch):
    monkeypatch.setattr(decisions, "MAX_DEVICES", 2)
    response = client_for(users["province"]).get("/api/analysis/coverage")
    assert response.status_code == 400
    assert response.json()["errors"]["region"][0]["rule"] == "region.too_large"
