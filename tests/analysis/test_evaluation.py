"""绩效评价: scores worked out by hand on the desk's fixture (tests/analysis/conftest.py, figures to
TODAY = 2025-06-30), the scheme's validation, versions and audit, rights, and scope: a county
user sees their own score only, never a neighbour's components."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry, Role, User
from analysis import desk, evaluation
from analysis.models import EvaluationPublication, EvaluationScheme
from tests.analysis.conftest import JINFENG, TODAY
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN

# The default scheme (migration 0002): rate 40 (95 / 60), overdue 20 (1 / 5), accidents per
# 10,000 20 (0.1 / 0.5), deaths per 10,000 20 (0.05 / 0.3).
LINEAR = [
    {"indicator": "inspection_rate", "weight": 50, "target": 80, "floor": 20, "direction": "higher"},
    {"indicator": "deaths_per_10k", "weight": 50, "target": 0, "floor": 10000, "direction": "lower"},
]  # fmt: skip


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_of(agency, name: str) -> User:
    return User.objects.create_user(
        name, password="pw-for-tests", agency=agency, role=Role.SYSTEM_ADMIN
    )


def by_code(answer: dict) -> dict[str, dict]:
    return {row["code"]: row for row in answer["agencies"]}


def points(row: dict) -> dict[str, float | None]:
    return {c["indicator"]: c["points"] for c in row["components"]}


def test_default_scheme_scores_by_hand(registry, users):
    answer = evaluation.league(users["city"], desk.area_of("6401"), 2025, TODAY)
    rows = by_code(answer)
    # 兴庆区 2025: 1 of 2 due dates met = 50 % (≤ floor 60: 0); overdue today 1 of 3 = 33 %
    # (≥ 5: 0); no accident or death among 3 in use: 0 per 10,000 (≤ target: 20 + 20).
    assert points(rows[XINGQING]) == {
        "inspection_rate": 0.0, "overdue_rate": 0.0, "accidents_per_10k": 20.0, "deaths_per_10k": 20.0,
    }  # fmt: skip
    assert rows[XINGQING]["score"] == 40.0
    # 西夏区: F's date missed (0 %), 1 of 2 overdue, 1 accident and 1 death among 2: 5,000.
    assert rows[XIXIA]["score"] == 0.0
    # 金凤区 has no device: every denominator is 0, nothing applies, no score (not 0).
    assert rows[JINFENG]["score"] is None
    assert all(c["applicable"] is False for c in rows[JINFENG]["components"])
    assert [r["code"] for r in answer["agencies"][:2]] == [XINGQING, XIXIA]
    assert rows[XINGQING]["rank"] == 1 and rows[JINFENG]["rank"] is None
    # The city's own row: 1 of 3 due met (33 %), 2 of 5 overdue, 1 accident / death among 5.
    assert answer["own"]["score"] == 0.0
    assert rows[XINGQING]["agency"] == "兴庆区市场监督管理局"


def test_a_zero_denominator_leaves_the_component_out_and_scales_the_rest(registry, users):
    # 兴庆区 2023: nothing fell due (no rate), the overdue share is today's (not a past year's):
    # both left out; accidents and deaths 0 of 2 in use: 40 of the 40 applicable points = 100.
    row = evaluation.league(users["xingqing"], desk.area_of(XINGQING), 2023, TODAY)["own"]
    parts = {c["indicator"]: c for c in row["components"]}
    assert parts["inspection_rate"]["value"] is None and parts["inspection_rate"]["points"] is None
    assert parts["overdue_rate"]["numerator"] is None and parts["overdue_rate"]["points"] is None
    assert row["earned"] == 40.0 and row["applicable_weight"] == 40.0
    assert row["score"] == 100.0


def test_a_linear_scheme_scores_by_hand(registry, users):
    evaluation.edit_scheme(acting_user=users["national"], year=2025, components=LINEAR)
    rows = by_code(evaluation.league(users["city"], desk.area_of("6401"), 2025, TODAY))
    # 兴庆区: 50 % → 50 × (50 − 20) ÷ (80 − 20) = 25; no death → 50. 西夏区: 0 % → 0;
    # 5,000 deaths per 10,000 → 50 × (10,000 − 5,000) ÷ 10,000 = 25.
    assert points(rows[XINGQING]) == {"inspection_rate": 25.0, "deaths_per_10k": 50.0}
    assert rows[XINGQING]["score"] == 75.0
    assert points(rows[XIXIA]) == {"inspection_rate": 0.0, "deaths_per_10k": 25.0}
    assert rows[XIXIA]["score"] == 25.0
    # Earlier years keep the default scheme.
    old = evaluation.league(users["city"], desk.area_of("6401"), 2024, TODAY)
    assert old["scheme"]["from_year"] == 1990 and len(old["scheme"]["components"]) == 4


def test_the_threshold_rule_is_all_or_nothing(registry, users):
    components = [dict(LINEAR[0], rule="threshold"), LINEAR[1]]
    evaluation.edit_scheme(acting_user=users["national"], year=2025, components=components)
    row = by_code(evaluation.league(users["city"], desk.area_of("6401"), 2025, TODAY))[XINGQING]
    assert points(row)["inspection_rate"] == 0.0


def test_each_component_traces_to_the_records_it_counted(registry, users):
    client = client_for(users["xingqing"])
    year = TODAY.year  # a past year for the server's clock: the due dates are fixed
    row = evaluation.league(users["xingqing"], desk.area_of(XINGQING), year, TODAY)["own"]
    parts = {c["indicator"]: c for c in row["components"]}
    met = client.get(
        parts["inspection_rate"]["trace"]["numerator"].replace("/analysis/", "/api/analysis/")
    )
    due = client.get(
        parts["inspection_rate"]["trace"]["denominator"].replace("/analysis/", "/api/analysis/")
    )
    assert met.status_code == due.status_code == 200
    # A's 20 February (met late, 10 March) and B's 15 April (met 1 April).
    assert [(r["due"], r["inspected_on"], r["met"]) for r in due.json()["results"]] == [
        ("2025-02-20", "2025-03-10", False),
        ("2025-04-15", "2025-04-01", True),
    ]
    assert due.json()["count"] == parts["inspection_rate"]["denominator"]
    assert met.json()["count"] == parts["inspection_rate"]["numerator"] == 1
    assert {r["device_code"] for r in due.json()["results"]} == {
        registry["A"].device_code, registry["B"].device_code,
    }  # fmt: skip
    # The accidents list of the map, filtered to the county and the year.
    accidents = parts["deaths_per_10k"]["trace"]["numerator"]
    assert accidents.startswith("/map/list/accidents/?region=640104&from=2025-01-01&to=2025-06-30")
    page = client.get(accidents)
    assert page.status_code == 200
    # The dues page (HTML) opens and lists the devices.
    html = client.get(parts["inspection_rate"]["trace"]["denominator"]).content.decode()
    assert registry["A"].device_code in html and registry["B"].device_code in html


def test_a_county_user_sees_their_own_score_only(registry, users):
    client = client_for(users["xingqing"])
    answer = client.get("/api/analysis/evaluation", {"year": 2025}).json()
    assert answer["own"]["code"] == XINGQING
    assert [row["code"] for row in answer["agencies"]] == [XINGQING]
    assert answer["drillable"] is False
    # The neighbour's breakdown, its due dates and its file: refused, naming `region`.
    for path in (
        "/api/analysis/evaluation",
        "/api/analysis/evaluation/dues",
        "/analysis/evaluation/download",
    ):
        response = client.get(path, {"region": XIXIA, "year": 2025})
        assert response.status_code == 400, path
        assert response.json()["errors"]["region"][0]["rule"] == "region.outside"
    page = client.get("/analysis/evaluation/", {"region": XIXIA})
    assert page.status_code == 400
    assert "西夏区市场监督管理局" not in client.get("/analysis/evaluation/").content.decode()
    # The city's figures would be the neighbours' less theirs: not shown either.
    assert client.get("/api/analysis/evaluation", {"region": YINCHUAN}).status_code == 400


def test_a_city_user_sees_each_county_component(registry, users):
    answer = client_for(users["city"]).get("/api/analysis/evaluation", {"year": 2025}).json()
    rows = by_code(answer)
    assert {XINGQING, XIXIA, JINFENG} <= set(rows)
    assert SHIZUISHAN_DAWUKOU not in rows
    assert rows[XIXIA]["components"][0]["numerator"] is not None
    drilled = client_for(users["city"]).get("/api/analysis/evaluation", {"region": XIXIA})
    assert drilled.status_code == 200 and drilled.json()["own"]["code"] == XIXIA


def test_the_league_file_holds_the_tables_numbers(registry, users):
    client = client_for(users["city"])
    answer = client.get("/api/analysis/evaluation", {"year": 2025}).json()
    response = client.get("/analysis/evaluation/download", {"year": 2025, "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + len(answer["agencies"]) + 1
    first = answer["agencies"][0]
    assert rows[1][1] == first["code"] and float(rows[1][4]) == first["score"]
    xlsx = client.get("/analysis/evaluation/download", {"year": 2025, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get("/analysis/evaluation/download", {"format": "pdf"}).json()["errors"]["format"]


@pytest.mark.parametrize(
    ("components", "field", "rule"),
    [
        ([dict(LINEAR[0], weight=60), LINEAR[1]], "components", "weights.sum"),
        ([dict(LINEAR[0], indicator="devices"), LINEAR[1]], "components[0].indicator", "indicator.unknown"),
        ([LINEAR[0], dict(LINEAR[1], indicator="inspection_rate")], "components[1].indicator", "duplicate"),
        ([dict(LINEAR[0], floor=90), LINEAR[1]], "components[0].floor", "floor.side"),
        ([dict(LINEAR[0], weight="x"), LINEAR[1]], "components[0].weight", "number"),
        ([dict(LINEAR[0], direction="up"), LINEAR[1]], "components[0].direction", "choice"),
        ([], "components", "required"),
        (None, "year", "required"),
    ],
)  # fmt: skip
def test_a_bad_scheme_is_a_400_naming_the_field(registry, users, components, field, rule):
    client = client_for(users["national"])
    before = AuditEntry.objects.count()
    body = {"year": 2025, "components": components} if components is not None else {}
    response = client.put("/api/analysis/evaluation/scheme", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["rule"] == rule
    assert AuditEntry.objects.count() == before


def test_the_scheme_is_edited_by_national_and_provincial_administrators_only(
    registry, users, agencies
):
    body = {"year": 2025, "components": LINEAR}
    put = lambda user, **extra: client_for(user).put(  # noqa: E731
        "/api/analysis/evaluation/scheme", {**body, **extra}, content_type="application/json"
    )
    assert put(users["province"]).status_code == 403  # a supervisor
    assert put(users["xingqing_analyst"]).status_code == 403
    county_admin = admin_of(agencies[XINGQING], "county-admin")
    refused = put(county_admin)
    assert refused.status_code == 400
    assert refused.json()["errors"]["region"][0]["rule"] == "scheme.level"
    assert not EvaluationScheme.objects.filter(from_year=2025).exists()
    # The province's administrator keeps the province's own scheme, audited before and after.
    province_admin = admin_of(agencies[NINGXIA], "province-admin")
    assert put(province_admin, region=XINGQING).status_code == 400  # not their own level
    saved = put(province_admin)
    assert saved.status_code == 200 and saved.json()["owner"] == NINGXIA[:2]
    entry = AuditEntry.objects.get(action="evaluation.scheme_changed")
    assert entry.actor == province_admin and entry.region_code == NINGXIA
    assert len(entry.after["components"]) == 2 and entry.before is None
    # Ningxia's areas are scored by it; the national scheme is unchanged.
    scheme, _ = evaluation.scheme_for(XINGQING, 2025)
    assert scheme.owner == "64"
    assert evaluation.scheme_for("11", 2025)[0].from_year == 1990


def test_a_published_years_scheme_is_versioned_not_changed(registry, users):
    client = client_for(users["national"])
    last = timezone.localdate().year - 1
    assert (
        client.post(
            "/api/analysis/evaluation/publish", {"year": last}, content_type="application/json"
        ).status_code
        == 201
    )
    pinned = EvaluationPublication.objects.get(year=last).scheme
    # Its own year cannot be changed.
    body = {"year": last, "components": LINEAR}
    refused = client.put("/api/analysis/evaluation/scheme", body, content_type="application/json")
    assert (
        refused.status_code == 400
        and refused.json()["errors"]["year"][0]["rule"] == "year.published"
    )
    # Editing the scheme it used (from 1990) makes version 2; the published year keeps version 1.
    body = {"year": 1990, "components": LINEAR}
    edited = client.put("/api/analysis/evaluation/scheme", body, content_type="application/json")
    assert edited.status_code == 200 and edited.json()["version"] == 2
    pinned.refresh_from_db()
    assert pinned.components.count() == 4
    used, published = evaluation.scheme_for(XINGQING, last)
    assert used == pinned and published is not None
    assert evaluation.scheme_for(XINGQING, last - 1)[0].version == 2
    # The current year cannot be published yet.
    now = client.post(
        "/api/analysis/evaluation/publish", {"year": last + 1}, content_type="application/json"
    )
    assert now.status_code == 400 and now.json()["errors"]["year"][0]["rule"] == "year.open"


def test_the_scheme_form_saves_and_names_bad_fields(registry, users):
    client = client_for(users["national"])
    form = {"year": "2025", "region": "", "note": "测试"}
    for c in LINEAR:
        form.update(
            {f"{c['indicator']}-{k}": str(c[k]) for k in ("weight", "target", "floor", "direction")}
        )
        form[f"{c['indicator']}-rule"] = "linear"
    saved = client.post("/analysis/evaluation/scheme", form)
    assert saved.status_code == 302
    assert EvaluationScheme.objects.get(from_year=2025).components.count() == 2
    bad = client.post("/analysis/evaluation/scheme", {**form, "inspection_rate-weight": "10"})
    assert bad.status_code == 400
    assert 'data-error-for="components"' in bad.content.decode()
    # A supervisor sees the scheme, without a form to save.
    page = client_for(users["province"]).get("/analysis/evaluation/scheme")
    assert page.status_code == 200 and "保存" not in page.content.decode()
    assert (
        client_for(users["province"]).post("/analysis/evaluation/scheme", form).status_code == 403
    )


def test_the_page_shows_the_league_and_the_components(registry, users):
    page = client_for(users["city"]).get("/analysis/evaluation/", {"year": 2025})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="league-table"' in text and "兴庆区市场监督管理局" in text
    assert "/analysis/evaluation/dues?region=640100&amp;year=2025" in text


@pytest.mark.parametrize(
    ("query", "field"), [({"year": "1800"}, "year"), ({"met": "maybe"}, "met"), ({"page": "0"}, "page"), ({"sort": "x"}, "sort")]
)  # fmt: skip
def test_bad_parameters_are_named(registry, users, query, field):
    response = client_for(users["city"]).get("/api/analysis/evaluation/dues", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]
