"""The desk's API, page and downloads: scope first, every bad parameter named, files holding the
API's numbers, the schema typed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Role, User
from analysis.indicators import INDICATORS
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN

RATES = [i.key for i in INDICATORS if not i.additive]
COUNTS = [i.key for i in INDICATORS if i.additive]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_county_user_reads_their_county_only(registry, users):
    client = client_for(users["xingqing"])
    overview = client.get("/api/analysis/overview").json()
    assert overview["area"]["code"] == XINGQING
    assert [step["code"] for step in overview["breadcrumb"]] == [XINGQING]
    # No city figure: less their own county it would be their neighbours' total.
    assert overview["parent"] is None
    by_key = {item["key"]: item for item in overview["indicators"]}
    assert all(by_key[key]["parent"] is None for key in by_key)
    # The nation's rates, never its counts.
    assert all(by_key[key]["national"] is None for key in COUNTS)
    assert by_key["overdue_rate"]["national"] is not None
    regions = client.get("/api/analysis/regions").json()
    assert [row["code"] for row in regions["regions"]] == [XINGQING]
    assert regions["drillable"] is False
    names = {f["properties"]["code"] for f in client.get("/api/analysis/map").json()["features"]}
    assert names == {XINGQING}


@pytest.mark.parametrize("region", [XIXIA, YINCHUAN, NINGXIA, SHIZUISHAN_DAWUKOU])
def test_a_county_user_cannot_open_another_division(registry, users, region):
    client = client_for(users["xingqing"])
    for path in ("overview", "regions", "devices", "map"):
        response = client.get(f"/api/analysis/{path}", {"region": region})
        assert response.status_code == 400, path
        assert response.json()["errors"]["region"][0]["rule"] == "region.outside"
    download = client.get("/analysis/download", {"table": "regions", "region": region})
    assert download.status_code == 400


def test_the_national_figure_is_the_whole_nation(registry, users):
    # The county user's national overdue share counts 西夏区's and 大武口区's devices too.
    county = client_for(users["xingqing"]).get("/api/analysis/overview").json()
    national = client_for(users["national"]).get("/api/analysis/overview").json()
    by_key = {item["key"]: item for item in national["indicators"]}
    county_by_key = {item["key"]: item for item in county["indicators"]}
    assert national["area"]["prefix"] == ""
    for key in RATES:
        assert county_by_key[key]["national"] == by_key[key]["value"], key


def test_a_province_user_drills_down_with_the_parent_alongside(registry, users):
    client = client_for(users["province"])
    top = client.get("/api/analysis/regions").json()
    assert top["level"] == "city" and top["drillable"]
    assert YINCHUAN in [row["code"] for row in top["regions"]]
    county = client.get("/api/analysis/overview", {"region": XINGQING}).json()
    assert [step["code"] for step in county["breadcrumb"]] == [NINGXIA, YINCHUAN, XINGQING]
    assert county["parent"]["code"] == YINCHUAN
    city = client.get("/api/analysis/overview", {"region": YINCHUAN}).json()
    parent_values = {item["key"]: item["parent"] for item in county["indicators"]}
    city_values = {item["key"]: item["value"] for item in city["indicators"]}
    assert parent_values == city_values


def test_every_bad_parameter_is_named_at_once(registry, users):
    client = client_for(users["province"])
    response = client.get(
        "/api/analysis/map",
        {"region": "64010", "year": "20x5", "indicator": "nope", "colour": "red"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"region", "year", "indicator", "colour"}
    assert errors["year"][0]["rule"] == "year.range"
    next_year = str(timezone.localdate().year + 1)
    assert client.get("/api/analysis/overview", {"year": next_year}).status_code == 400
    assert client.get("/api/analysis/overview", {"years": "0"}).json()["errors"]["years"]
    assert client.get("/api/analysis/indicators", {"x": "1"}).status_code == 400
    download = client.get("/analysis/download", {"table": "pie", "format": "pdf", "year": "1"})
    assert set(download.json()["errors"]) == {"table", "format", "year"}


def test_signed_out_and_enterprise_users_are_refused(registry, users, agencies):
    assert Client().get("/api/analysis/overview").status_code == 403
    enterprise = User.objects.create_user(
        "firm", password="pw-for-tests", agency=agencies[XINGQING], role=Role.ENTERPRISE
    )
    assert client_for(enterprise).get("/api/analysis/overview").status_code == 403
    assert client_for(enterprise).get("/analysis/download?table=devices").status_code == 403


def _csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_regions_file_holds_the_apis_numbers(registry, users):
    client = client_for(users["city"])
    answer = client.get("/api/analysis/regions", {"year": "2025"}).json()
    response = client.get("/analysis/download", {"table": "regions", "year": "2025"})
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = _csv(response)
    assert len(header) == 2 + len(INDICATORS)
    expected = [*answer["regions"], answer["totals"]]
    assert [row[0] for row in rows] == [row["code"] for row in expected]
    for row, want in zip(rows, expected, strict=True):
        values = [
            "" if want["values"][i.key] is None else str(want["values"][i.key]) for i in INDICATORS
        ]
        assert row[2:] == values
    book = load_workbook(
        io.BytesIO(
            client.get(
                "/analysis/download", {"table": "regions", "year": "2025", "format": "xlsx"}
            ).content
        )
    )
    sheet = list(book.active.values)
    assert [list(r[2:]) for r in sheet[1:]] == [
        [want["values"][i.key] for i in INDICATORS] for want in expected
    ]


def test_the_trend_file_holds_the_trend(registry, users):
    client = client_for(users["city"])
    overview = client.get("/api/analysis/overview", {"year": "2025", "years": "3"}).json()
    trend = next(i for i in overview["indicators"] if i["key"] == "inspection_rate")["trend"]
    response = client.get(
        "/analysis/download",
        {"table": "trend", "indicator": "inspection_rate", "year": "2025", "years": "3"},
    )
    _, *rows = _csv(response)
    assert rows == [
        [str(p["year"]), "" if p["value"] is None else str(p["value"]), str(p["numerator"]),
         str(p["denominator"])]
        for p in trend
    ]  # fmt: skip
    assert [p["year"] for p in trend] == [2023, 2024, 2025]


def test_the_overdue_share_trend_says_which_snapshot_each_year_reads(registry, users):
    from analysis import precomputed

    client = client_for(users["city"])
    year = timezone.localdate().year
    client.get("/api/analysis/overview")  # the read catches the counties up: today's snapshot
    precomputed.backfill([dt.date(year - 1, 12, 31)], "64")
    overview = client.get("/api/analysis/overview", {"years": "3"}).json()
    trend = next(i for i in overview["indicators"] if i["key"] == "overdue_rate")["trend"]
    assert [(p["day"], p["derived"]) for p in trend] == [
        (None, False),
        (f"{year - 1}-12-31", True),
        (timezone.localdate().isoformat(), False),
    ]
    assert trend[0]["value"] is None and trend[2]["denominator"] > 0
    response = client.get(
        "/analysis/download", {"table": "trend", "indicator": "overdue_rate", "years": "3"}
    )
    header, *rows = _csv(response)
    assert header[-2:] == ["快照日", "推算"]
    assert rows == [
        [str(p["year"]), "" if p["value"] is None else str(p["value"]),
         "" if p["numerator"] is None else str(p["numerator"]),
         "" if p["denominator"] is None else str(p["denominator"]),
         p["day"] or "", "是" if p["derived"] else ""]
        for p in trend
    ]  # fmt: skip
    page = client.get("/analysis/", {"indicator": "overdue_rate"}).content.decode()
    assert f"{year - 1}-12-31 推算" in page and 'id="trend-chart"' in page


def test_the_devices_file_holds_the_kinds(registry, users):
    client = client_for(users["province"])
    answer = client.get("/api/analysis/devices").json()
    _, *rows = _csv(client.get("/analysis/download", {"table": "devices"}))
    (elevators,) = answer["kinds"]
    assert elevators == {"kind": "3000", "name": elevators["name"], "in_use": 6, "suspended": 1,
                         "cancelled": 1, "scrapped": 0, "total": 8}  # fmt: skip
    assert rows == [["3000", elevators["name"], "6", "1", "1", "0", "8"]]


def test_a_name_cannot_run_as_a_formula(registry, users):
    from geo.models import Region

    Region.objects.filter(code="640106").update(name="=HYPERLINK(1)")
    rows = _csv(client_for(users["city"]).get("/analysis/download", {"table": "regions"}))
    assert [row[1] for row in rows if row[0] == "640106"] == ["'=HYPERLINK(1)"]


def test_the_schema_types_the_desk(users):
    schema = client_for(users["province"]).get("/api/schema/", {"format": "json"}).json()
    for path in ("overview", "regions", "devices", "map", "indicators"):
        assert f"/api/analysis/{path}" in schema["paths"], path
    overview = schema["components"]["schemas"]["Overview"]
    assert {"area", "breadcrumb", "indicators", "parent"} <= set(overview["properties"])


def test_the_page_shows_the_desk(registry, users):
    response = client_for(users["province"]).get("/analysis/", {"region": YINCHUAN})
    assert response.status_code == 200
    text = response.content.decode()
    assert "定期检验率" in text and "西夏区" in text and 'id="analysis-data"' in text
    bad = client_for(users["xingqing"]).get("/analysis/", {"region": XIXIA})
    assert bad.status_code == 400
    assert "西夏区" not in bad.content.decode()


def test_the_statements_do_not_grow_with_the_regions(registry, users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analysis import precomputed
    from geo.models import Region

    client = client_for(users["national"])
    # The reads as served between refreshes (a refresh counts each county it takes).
    precomputed.refresh(None, timezone.localdate())

    def statements(path: str, region: str) -> int:
        # Warm: the first map of a region and tolerance also stores its outlines (geo.outlines).
        client.get(f"/api/analysis/{path}", {"region": region})
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/analysis/{path}", {"region": region}).status_code == 200
        return len(queries)

    shizuishan = SHIZUISHAN_DAWUKOU[:4] + "00"
    assert Region.objects.below("6401").count() != Region.objects.below("6402").count()
    # The same statements for a city of many counties and one of few, for any level's children.
    for path in ("overview", "regions", "map"):
        assert statements(path, YINCHUAN) == statements(path, shizuishan), path
    for path in ("regions", "map"):
        assert statements(path, NINGXIA) == statements(path, YINCHUAN), path


def test_the_province_sees_the_nations_rates_with_devices_outside_it_or_not(
    registry, users, make_equipment
):
    def rates(user: str) -> dict:
        answer = client_for(users[user]).get("/api/analysis/overview").json()
        key = "value" if user == "national" else "national"
        return {i["key"]: i[key] for i in answer["indicators"] if i["key"] in RATES}

    # Everything lies in 宁夏: the nation's figures are the province's own.
    assert rates("province") == rates("national")
    # Every device of the fixture is overdue by now; one in 东城区, Beijing, is not.
    make_equipment("110101", next_inspection_due=dt.date(2099, 1, 1))
    after = rates("national")
    own = client_for(users["province"]).get("/api/analysis/overview").json()["indicators"]
    assert after["overdue_rate"] != next(i for i in own if i["key"] == "overdue_rate")["value"]
    assert rates("province") == after


def test_the_map_draws_the_tables_values(registry, users):
    client = client_for(users["province"])
    table = client.get("/api/analysis/regions", {"region": YINCHUAN, "year": "2025"}).json()
    values = {row["code"]: row["values"]["inspection_rate"] for row in table["regions"]}
    geo = client.get(
        "/api/analysis/map", {"region": YINCHUAN, "year": "2025", "indicator": "inspection_rate"}
    ).json()
    drawn = {f["properties"]["code"]: f["properties"]["value"] for f in geo["features"]}
    assert drawn == values
    # 金凤区 has no figure (nothing fell due): the map's grey, and the legend says so.
    jinfeng = next(f for f in geo["features"] if f["properties"]["code"] == "640106")
    assert jinfeng["properties"]["value"] is None
    assert jinfeng["properties"]["fill"] == geo["legend"][-1]["colour"]
    assert geo["legend"][-1]["label"] == "无数据"


def test_the_overdue_share_legend_reads_percentages_as_the_table_does(registry, users):
    """The desk's overdue_rate is a percentage (40.0 for 2 in 5); the map's own metric of that name
    is a fraction: the legend reads the desk's unit, not the metric's name."""
    client = client_for(users["province"])
    geo = client.get("/api/analysis/map", {"region": YINCHUAN, "indicator": "overdue_rate"}).json()
    values = [f["properties"]["value"] for f in geo["features"] if f["properties"]["value"]]
    assert values and max(values) <= 100
    limits = [
        float(part.strip(" <≥%"))
        for item in geo["legend"]
        for part in item["label"].split("–")
        if "%" in item["label"]
    ]
    assert limits and min(values) * 0.99 <= max(limits) <= max(values) * 1.01
