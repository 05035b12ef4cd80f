"""事故分析: every figure of the accident analysis worked out by hand on the small registry of
tests/analysis/conftest.py plus the accidents below; scope first, bad parameters named, files
holding the API's numbers.

Accidents (the registry's two, then these):

| county | day | kind | cause | severity | place | dead | injured |
|---|---|---|---|---|---|---|---|
| 兴庆区 | 2024-08-08 | 坠落 | other | ordinary | other | 0 | 1 |
| 西夏区 | 2025-03-03 | 坠落 | other | ordinary | other | 1 | 2 |
| 兴庆区 | 2025-03-15 | 剪切挤压 | use_management | ordinary | residential | 1 | 0 |
| 兴庆区 | 2025-05-20 | 剪切挤压 | defect | large | public | 3 | 4 |
| 大武口区 | 2024-08-30 | 困人受伤 | safety_device | ordinary | residential | 0 | 2 |
| 金凤区 (no device) | 2025-07-01 | 坠落 | other | ordinary | other | 0 | 0 |

Devices in use at the end of 2024: A, B, F, G, H (C cancelled mid-2024, E suspended, D not yet
registered) = 5; at the end of 2025: those and D = 6.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from analysis import accidents
from registry import services
from tests.analysis.conftest import JINFENG
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, inside

D = dt.date


@pytest.fixture
def world(registry):
    by_county = {e.region_id: e for e in registry.values()}
    for code, day, kind, cause, severity, place, deaths, injuries in (
        (XINGQING, D(2025, 3, 15), "剪切挤压", "use_management", "ordinary", "residential", 1, 0),
        (XINGQING, D(2025, 5, 20), "剪切挤压", "defect", "large", "public", 3, 4),
        (SHIZUISHAN_DAWUKOU, D(2024, 8, 30), "困人受伤", "safety_device", "ordinary", "residential", 0, 2),
        (JINFENG, D(2025, 7, 1), "坠落", "other", "ordinary", "other", 0, 0),
    ):  # fmt: skip
        services.record_accident(
            acting_user=None,
            occurred_at=timezone.make_aware(dt.datetime.combine(day, dt.time(9, 30))),
            kind=kind,
            equipment=by_county.get(code),
            location=None if code in by_county else inside(code),
            cause_class=cause,
            severity=severity,
            place_type=place,
            deaths=deaths,
            injuries=injuries,
        )
    return registry


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(answer, key):
    return {r["key"]: (r["accidents"], r["deaths"], r["injuries"]) for r in answer[key]}


def test_the_province_summary_by_hand(world, users):
    answer = client_for(users["province"]).get("/api/analysis/accidents").json()
    assert answer["totals"] == {"accidents": 6, "deaths": 5, "injuries": 9}
    assert answer["cause_groups"] == {"use_management": 1, "equipment": 2, "other": 3}
    assert rows(answer, "by_kind") == {
        "坠落": (3, 1, 3),
        "剪切挤压": (2, 4, 4),
        "困人受伤": (1, 0, 2),
    }
    assert [r["key"] for r in answer["by_kind"]] == ["坠落", "剪切挤压", "困人受伤"]  # most first
    assert rows(answer, "by_cause") == {
        "use_management": (1, 1, 0), "defect": (1, 3, 4), "safety_device": (1, 0, 2), "other": (3, 1, 3),
    }  # fmt: skip
    assert rows(answer, "by_severity") == {
        "ordinary": (5, 2, 5), "large": (1, 3, 4), "major": (0, 0, 0), "extraordinary": (0, 0, 0),
    }  # fmt: skip
    by_place = rows(answer, "by_place")
    assert (by_place["residential"], by_place["public"], by_place["other"]) == (
        (2, 1, 2),
        (1, 3, 4),
        (3, 1, 3),
    )
    assert sum(v[0] for v in by_place.values()) == 6
    by_month = rows(answer, "by_month")
    assert list(by_month) == [str(m) for m in range(1, 13)]
    months = {int(k): v for k, v in by_month.items()}
    assert (months[3], months[5], months[7], months[8]) == (
        (2, 2, 2),
        (1, 3, 4),
        (1, 0, 0),
        (2, 0, 3),
    )
    assert sum(v[0] for v in months.values()) == 6
    causes = {
        r["kind"]: {c["key"]: c["accidents"] for c in r["causes"]} for r in answer["kind_causes"]
    }
    assert causes["剪切挤压"] == {"use_management": 1, "defect": 1, "safety_device": 0, "other": 0}
    assert causes["坠落"] == {"use_management": 0, "defect": 0, "safety_device": 0, "other": 3}


def test_yearly_rates_count_only_counties_with_devices(world, users):
    answer = client_for(users["province"]).get("/api/analysis/accidents").json()
    years = {r["year"]: r for r in answer["yearly"]}
    assert len(answer["yearly"]) == 10 and answer["yearly"][-1]["year"] == timezone.localdate().year
    y2024, y2025 = years[2024], years[2025]
    assert (y2024["accidents"], y2024["deaths"], y2024["injuries"], y2024["in_use"]) == (2, 0, 3, 5)
    assert y2024["accidents_per_10k"] == 4000.0 and y2024["deaths_per_10k"] == 0.0
    # 金凤区's accident has no device behind its county: counted, but not in the rate.
    assert (y2025["accidents"], y2025["rated_accidents"], y2025["in_use"]) == (4, 3, 6)
    assert y2025["accidents_per_10k"] == 5000.0
    assert y2025["deaths_per_10k"] == round(5 * 10_000 / 6, 4)
    assert years[2023]["accidents"] == 0 and years[2023]["accidents_per_10k"] == 0.0


def test_monthly_series_covers_every_month_of_the_period(world, users):
    answer = client_for(users["province"]).get("/api/analysis/accidents", {"years": "2"}).json()
    today = timezone.localdate()
    assert answer["monthly"][0]["month"] == f"{today.year - 1}-01"
    assert answer["monthly"][-1]["month"] == f"{today.year}-{today.month:02d}"
    assert len(answer["monthly"]) == 12 + today.month
    if today.year - 1 == 2025:  # the fixture's accidents fall in the window only then
        march = next(m for m in answer["monthly"] if m["month"] == "2025-03")
        assert (march["accidents"], march["deaths"], march["injuries"]) == (2, 2, 2)


def test_filters_narrow_every_figure(world, users):
    client = client_for(users["province"])
    answer = client.get("/api/analysis/accidents", {"cause": "defect"}).json()
    assert answer["totals"] == {"accidents": 1, "deaths": 3, "injuries": 4}
    assert answer["filters"] == {"cause": "defect"}
    answer = client.get("/api/analysis/accidents", {"kind": "坠落", "place": "other"}).json()
    assert answer["totals"]["accidents"] == 3
    listing = client.get("/api/analysis/accidents/list", {"severity": "large"}).json()
    assert [r["kind"] for r in listing["results"]] == ["剪切挤压"]


def test_a_county_user_sees_their_county_only(world, users):
    client = client_for(users["xingqing"])
    answer = client.get("/api/analysis/accidents").json()
    assert answer["totals"] == {"accidents": 3, "deaths": 4, "injuries": 5}
    listing = client.get("/api/analysis/accidents/list").json()
    assert {r["region"] for r in listing["results"]} == {XINGQING}
    for region in (XIXIA, NINGXIA):
        response = client.get("/api/analysis/accidents", {"region": region})
        assert response.status_code == 400
        assert response.json()["errors"]["region"][0]["rule"] == "region.outside"


def test_bad_parameters_are_named_all_at_once(world, users):
    client = client_for(users["province"])
    response = client.get("/api/analysis/accidents/list",
                          {"severity": "awful", "page": "0", "years": "99", "colour": "red"})  # fmt: skip
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"severity", "page", "years", "colour"}
    response = client.get("/api/analysis/accidents/hotspots", {"measure": "births"})
    assert response.status_code == 400 and "measure" in response.json()["errors"]
    response = client.get("/analysis/accidents/", {"cause": "weather"})
    assert response.status_code == 400
    response = client.get("/analysis/accidents/download", {"table": "secrets", "format": "pdf"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"table", "format"}


def test_the_list_is_paged_newest_first(world, users, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(accidents, "PAGE_SIZE", 4)
    client = client_for(users["province"])
    first = client.get("/api/analysis/accidents/list").json()
    assert (first["count"], first["pages"], first["page"]) == (6, 2, 1)
    days = [r["occurred_at"][:10] for r in first["results"]]
    assert days == ["2025-07-01", "2025-05-20", "2025-03-15", "2025-03-03"]
    with django_assert_max_num_queries(8):
        second = client.get("/api/analysis/accidents/list", {"page": "2"}).json()
    assert [r["occurred_at"][:10] for r in second["results"]] == ["2024-08-30", "2024-08-08"]
    assert second["results"][0]["url"].startswith("/accidents/")
    beyond = client.get("/api/analysis/accidents/list", {"page": "9"}).json()
    assert beyond["page"] == 2


@pytest.mark.parametrize("table", ["kind", "cause", "severity", "month", "place"])
def test_each_breakdown_file_holds_the_charts_numbers(world, users, table):
    client = client_for(users["province"])
    answer = client.get("/api/analysis/accidents").json()
    response = client.get("/analysis/accidents/download", {"table": table, "format": "csv"})
    assert response.status_code == 200
    body = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    key = {"kind": "by_kind", "cause": "by_cause", "severity": "by_severity", "month": "by_month",
           "place": "by_place"}[table]  # fmt: skip
    assert [[int(v) for v in row[1:]] for row in body[1:]] == [
        [r["accidents"], r["deaths"], r["injuries"]] for r in answer[key]
    ]


def test_the_yearly_xlsx_holds_the_rates(world, users):
    client = client_for(users["province"])
    answer = client.get("/api/analysis/accidents").json()
    response = client.get("/analysis/accidents/download", {"table": "yearly", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(v[0], v[1], v[6]) for v in values] == [
        (r["year"], r["accidents"], r["accidents_per_10k"]) for r in answer["yearly"]
    ]


def test_the_page_shows_the_figures(world, users):
    response = client_for(users["province"]).get("/analysis/accidents/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="total-accidents">6<' in text
    assert "剪切挤压" in text and "Getis-Ord Gi*" in text
    assert client_for(users["xingqing"]).get("/analysis/accidents/").status_code == 200


def test_the_schema_types_the_accident_analysis(users):
    schema = client_for(users["province"]).get("/api/schema/", {"format": "json"}).json()
    for path in ("accidents", "accidents/list", "accidents/hotspots", "accidents/hotspots/map"):
        assert f"/api/analysis/{path}" in schema["paths"], path
    summary = schema["components"]["schemas"]["AccidentSummary"]["properties"]
    assert {
        "yearly",
        "monthly",
        "by_kind",
        "by_cause",
        "by_severity",
        "by_month",
        "by_place",
    } <= set(summary)
    county = schema["components"]["schemas"]["HotspotCounty"]["properties"]
    assert {"rate", "z", "p", "spot", "excluded"} <= set(county)


def test_the_annual_report_carries_the_years_accidents_and_evaluation(world, users):
    """The report's accident and evaluation sheets hold what the two analyses answer."""
    client = client_for(users["province"])
    book = load_workbook(io.BytesIO(client.get("/analysis/report.xlsx", {"year": 2025}).content))
    accidents_sheet = list(book["事故 Accidents"].iter_rows(min_row=4, values_only=True))
    answer = client.get("/api/analysis/accidents", {"year": 2025, "years": 1}).json()
    # The registry's 西夏 fall, the two 兴庆 crushings and the 金凤 fall: 4 accidents, 5 dead.
    assert answer["totals"] == {"accidents": 4, "deaths": 5, "injuries": 6}
    assert accidents_sheet[-1][1:] == ("合计", 4, 5, 6)
    by_kind = {r[1]: r[2] for r in accidents_sheet if r[0] == "事故类型"}
    assert by_kind == {"剪切挤压": 2, "坠落": 2}
    league = client.get("/api/analysis/evaluation", {"year": 2025}).json()
    evaluation_sheet = list(book["绩效评价 Evaluation"].iter_rows(min_row=4, values_only=True))
    assert len(evaluation_sheet) == len(league["agencies"]) + 1
    assert evaluation_sheet[-1][3] == league["own"]["score"]
    assert [r[1] for r in evaluation_sheet[:-1]] == [a["name"] for a in league["agencies"]]
