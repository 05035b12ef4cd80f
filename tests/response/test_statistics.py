"""Response statistics: figures per region and maintenance unit against an independent count of the
incidents the test built, the norm rule, the query count, scoping and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics as pystats
from dataclasses import dataclass, field

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from geo.models import Level, Region
from response import conf, services
from response.dispatch import answer_dispatch, cancel_dispatch, dispatch_incident, escalate_due
from response.locate import at_coordinates
from response.models import IncidentState
from response.statistics import parse_query, region_rows, urban
from tests.conftest import XINGQING, XIXIA, YINCHUAN, inside

pytestmark = pytest.mark.django_db

API = "/response/api/statistics/"
PAGE = "/response/statistics/"
YONGNING = "640121"  # 永宁县: a county, so the rural norm
MINUTE = dt.timedelta(minutes=1)
S = IncidentState


@dataclass
class Spec:
    """One incident as the test builds it: minutes after the call for each step."""

    code: str
    days_ago: int
    arrival: float | None = None  # minutes after the report
    release: float | None = None  # minutes after the arrival
    false_alarm: bool = False
    # (unit key, "responded" | "declined" | "timed_out" | "cancelled" | "pending", minutes to the
    # answer)
    asks: list[tuple[str, str, float]] = field(default_factory=list)


SPECS = [
    Spec(XINGQING, 3, arrival=12, release=8, asks=[("u1", "responded", 2)]),
    Spec(XINGQING, 4, arrival=25, release=20, asks=[("u1", "declined", 3), ("u2", "responded", 1)]),
    Spec(XINGQING, 5, arrival=41, asks=[("u1", "timed_out", 5), ("u2", "responded", 4)]),
    Spec(XINGQING, 6, arrival=31, release=5, asks=[("u2", "responded", 2)]),
    Spec(XINGQING, 7, false_alarm=True, asks=[("u1", "responded", 1)]),
    Spec(XINGQING, 8),  # reported, nothing more yet
    Spec(XINGQING, 9, asks=[("u2", "pending", 0)]),
    Spec(XINGQING, 10, asks=[("u1", "cancelled", 2), ("u2", "pending", 0)]),
    Spec(XINGQING, 400, arrival=10, asks=[("u1", "responded", 1)]),  # before the default period
    Spec(XIXIA, 2, arrival=50, release=30, asks=[("u3", "responded", 6)]),
    Spec(XIXIA, 3, arrival=20, asks=[("u3", "responded", 2)]),
    Spec(XIXIA, 4, arrival=29.5),
    Spec(YONGNING, 5, arrival=50, release=10),
    Spec(YONGNING, 6, arrival=70),
]
UNIT_REGIONS = {"u1": XINGQING, "u2": XINGQING, "u3": XIXIA}


@pytest.fixture
def world(users, make_unit):
    """The incidents of SPECS, built through the services with their times given after the fact."""
    units = {
        key: make_unit(code, roles=("maintenance",), name=f"{key}维保{code}")
        for key, code in UNIT_REGIONS.items()
    }
    actor = users["city"]  # a city supervisor takes calls in all three counties
    now = timezone.now().replace(second=0, microsecond=0)
    built = []
    for spec in SPECS:
        reported = now - dt.timedelta(days=spec.days_ago, hours=2)
        point = inside(spec.code)
        incident = services.report_incident(
            at_coordinates(actor, f"{point.x},{point.y}"), acting_user=actor, reported_at=reported
        )
        at = reported + MINUTE
        for key, outcome, minutes in spec.asks:
            ask = dispatch_incident(incident.pk, acting_user=actor, unit_id=units[key].pk, at=at)
            answered = at + dt.timedelta(minutes=minutes)
            if outcome in ("responded", "declined"):
                answer_dispatch(ask.pk, outcome, acting_user=actor, at=answered)
            elif outcome == "cancelled":
                cancel_dispatch(ask.pk, acting_user=actor, reason="无法接通", at=answered)
            elif outcome == "timed_out":
                assert escalate_due(ask.deadline_at + MINUTE) == []  # nobody else to ask
                answered = ask.deadline_at
            at = answered
        if spec.arrival is not None:
            move = incident.pk
            if not spec.asks:
                services.change_incident_state(move, S.DISPATCHED, acting_user=actor, at=at)
                services.change_incident_state(move, S.RESPONDED, acting_user=actor, at=at)
            arrived = reported + dt.timedelta(minutes=spec.arrival)
            services.change_incident_state(move, S.ARRIVED, acting_user=actor, at=arrived)
            if spec.release is not None:
                released = arrived + dt.timedelta(minutes=spec.release)
                services.change_incident_state(move, S.RELEASED, acting_user=actor, at=released)
        if spec.false_alarm:
            services.change_incident_state(incident.pk, S.FALSE_ALARM, acting_user=actor, at=at)
        built.append(incident)
    return {"units": units, "incidents": built}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


def norm_of(code: str, norm=None) -> float:
    norm = norm or conf.arrival_norm_min()
    return norm["urban"] if Region.objects.get(code=code).is_city_district else norm["rural"]


def expected(specs: list[Spec], norm=None) -> dict:
    """The figures of these incidents, by the statistics module and numpy (linear = percentile_cont)."""
    arrivals = [s.arrival for s in specs if s.arrival is not None]
    releases = [s.release for s in specs if s.release is not None]
    within = sum(1 for s in specs if s.arrival is not None and s.arrival <= norm_of(s.code, norm))
    return {
        "incidents": len(specs),
        "false_alarms": sum(s.false_alarm for s in specs),
        "arrived": len(arrivals),
        "within_norm": within,
        "arrival_median_min": round(pystats.median(arrivals), 1) if arrivals else None,
        "arrival_mean_min": round(pystats.fmean(arrivals), 1) if arrivals else None,
        "arrival_p90_min": round(float(np.percentile(arrivals, 90)), 1) if arrivals else None,
        "release_median_min": round(pystats.median(releases), 1) if releases else None,
        "within_norm_share": round(within / len(arrivals), 4) if arrivals else None,
    }


def in_period(specs=SPECS) -> list[Spec]:
    return [s for s in specs if s.days_ago < 365]


def figures(row: dict) -> dict:
    return {name: row[name] for name in expected([])}


def test_the_figures_of_each_county_and_the_totals(users, world):
    answer = client_for(users["city"]).get(API).json()
    assert answer["region"]["code"] == YINCHUAN
    rows = {row["code"]: row for row in answer["regions"]}
    counties = set(
        Region.objects.filter(code__startswith="6401", level=Level.COUNTY).values_list(
            "code", flat=True
        )
    )
    assert set(rows) == counties
    for code in counties:
        specs = [s for s in in_period() if s.code == code]
        assert figures(rows[code]) == expected(specs), code
    assert figures(answer["totals"]) == expected(in_period())
    # The rural county's 50 minutes are within its hour; 兴庆区's 31 are not within half an hour.
    assert rows[YONGNING]["within_norm"] == 1
    assert rows[XINGQING]["within_norm"] == 2


def test_a_province_sees_its_cities_and_a_county_itself(users, world):
    answer = client_for(users["province"]).get(API).json()
    rows = {row["code"]: row for row in answer["regions"]}
    assert set(rows) == set(
        Region.objects.filter(code__startswith="64", level=Level.CITY).values_list(
            "code", flat=True
        )
    )
    assert figures(rows[YINCHUAN]) == expected(in_period())
    assert all(row["incidents"] == 0 for code, row in rows.items() if code != YINCHUAN)
    answer = client_for(users["province"]).get(API, {"region": XIXIA}).json()
    assert [row["code"] for row in answer["regions"]] == [XIXIA]
    assert figures(answer["totals"]) == expected([s for s in in_period() if s.code == XIXIA])


def test_the_period_narrows_by_reported_date(users, world):
    today = timezone.localdate()
    start = today - dt.timedelta(days=5)
    answer = client_for(users["city"]).get(API, {"from": start.isoformat()}).json()
    # Each spec was reported days_ago days and 2 hours ago: on the day of that moment, locally.
    now = timezone.localtime()
    chosen = [s for s in SPECS if (now - dt.timedelta(days=s.days_ago, hours=2)).date() >= start]
    assert answer["period"] == {"from": start.isoformat(), "to": today.isoformat()}
    assert figures(answer["totals"]) == expected(chosen)
    longer = {"from": (today - dt.timedelta(days=500)).isoformat()}
    everything = client_for(users["city"]).get(API, longer).json()
    assert everything["totals"]["incidents"] == len(SPECS)


def test_the_default_period_is_the_last_365_days(users):
    query = parse_query(users["city"], {}, today=dt.date(2026, 3, 1))
    assert (query.start, query.end) == (dt.date(2025, 3, 2), dt.date(2026, 3, 1))


def expected_units(specs: list[Spec], units: dict, norm=None) -> list[dict]:
    found = {}
    for spec in specs:
        # The responding party: the first ask answered yes (the answers come in order here).
        responding = next((key for key, outcome, _ in spec.asks if outcome == "responded"), None)
        for key, outcome, minutes in spec.asks:
            row = found.setdefault(key, {"asks": 0, "responded": 0, "declined": 0, "timed_out": 0,
                                         "cancelled": 0, "pending": 0, "answers": [], "responding_for": 0,
                                         "arrived": 0, "arrived_within_norm": 0})  # fmt: skip
            row["asks"] += 1
            row[outcome] += 1
            if outcome in ("responded", "declined"):
                row["answers"].append(minutes)
            if key == responding:
                row["responding_for"] += 1
                if spec.arrival is not None:
                    row["arrived"] += 1
                    row["arrived_within_norm"] += spec.arrival <= norm_of(spec.code, norm)
    return [
        {
            "id": units[key].pk,
            "name": units[key].name,
            "asks": row["asks"],
            "accepted": row["responded"],
            "declined": row["declined"],
            "timed_out": row["timed_out"],
            "cancelled": row["cancelled"],
            "pending": row["pending"],
            "answer_median_min": round(pystats.median(row["answers"]), 1)
            if row["answers"]
            else None,
            "responding_for": row["responding_for"],
            "arrived": row["arrived"],
            "arrived_within_norm": row["arrived_within_norm"],
            "within_norm_share": round(row["arrived_within_norm"] / row["arrived"], 4)
            if row["arrived"]
            else None,
        }
        for key, row in found.items()
    ]


def by_id(rows: list[dict]) -> dict[int, dict]:
    return {row["id"]: row for row in rows}


def test_the_figures_of_each_maintenance_unit(users, world):
    answer = client_for(users["city"]).get(API).json()
    want = expected_units(in_period(), world["units"])
    assert by_id(answer["maintenance_units"]) == by_id(want)
    # Busiest first.
    asks = [row["asks"] for row in answer["maintenance_units"]]
    assert asks == sorted(asks, reverse=True)


def test_the_norm_setting_changes_what_counts_as_within(users, world, settings):
    settings.RESPONSE_ARRIVAL_NORM_MIN = {"urban": 45, "rural": 55}
    norm = {"urban": 45.0, "rural": 55.0}
    answer = client_for(users["city"]).get(API).json()
    assert answer["norm"]["urban"] == 45 and answer["norm"]["rural"] == 55
    assert figures(answer["totals"]) == expected(in_period(), norm)
    assert by_id(answer["maintenance_units"]) == by_id(
        expected_units(in_period(), world["units"], norm)
    )
    rows = {row["code"]: row for row in answer["regions"]}
    assert rows[XINGQING]["within_norm"] == 4  # 31 and 41 minutes now count in a city district
    assert rows[YONGNING]["within_norm"] == 1  # 70 minutes still does not


def test_the_sql_urban_rule_agrees_with_is_urban():
    counties = list(Region.objects.counties())
    assert len(counties) > 20
    in_sql = set(Region.objects.counties().filter(urban("")).values_list("code", flat=True))
    assert in_sql == {r.code for r in counties if conf.is_urban(r)}
    # Both kinds occur, or the comparison would prove little.
    assert in_sql and len(in_sql) < len(counties)


def test_a_fixed_number_of_queries_whatever_the_regions(users, world):
    counts = {}
    for key, params in [
        ("city", {}),
        ("province", {}),
        ("national", {}),
        ("province", {"region": XINGQING}),
    ]:
        client = client_for(users[key])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API, params).status_code == 200
        counts[(key, tuple(params))] = len(queries)
    # Session and user, the division; then in one transaction (a savepoint here) without JIT: the
    # totals, the figures per sub-region, the sub-regions, the units. A national user has no
    # division row to read.
    assert max(counts.values()) <= 10, counts
    assert counts[("national", ())] == 9, counts
    assert len({n for (key, _), n in counts.items() if key != "national"}) == 1, counts


def test_the_page_makes_a_fixed_number_of_queries(users, world, django_assert_max_num_queries):
    for key in ("city", "province"):
        client = client_for(users[key])
        client.get(
            PAGE
        )  # the first view of an area simplifies and stores its outlines (geo.outlines)
        # The API's ten, the outlines' tolerance (the area's extent), the division picker (two).
        with django_assert_max_num_queries(13):
            assert client.get(PAGE).status_code == 200


def test_region_rows_without_outlines_cost_two_queries(users, world):
    query = parse_query(users["province"], {})
    with CaptureQueriesContext(connection) as queries:
        rows = region_rows(users["province"], query)
    assert len(queries) == 2 and len(rows) == 5


def test_a_county_sees_nothing_of_the_next_county(users, world):
    mine = [s for s in in_period() if s.code == XIXIA]
    client = client_for(users["xixia"])
    answer = client.get(API).json()
    assert [row["code"] for row in answer["regions"]] == [XIXIA]
    assert figures(answer["totals"]) == expected(mine)
    assert by_id(answer["maintenance_units"]) == by_id(expected_units(mine, world["units"]))
    theirs = [world["units"]["u1"].name, world["units"]["u2"].name, "兴庆区"]
    for response in (client.get(PAGE), client.get(PAGE, {"format": "csv"}), client.get(API)):
        assert response.status_code == 200
        text = response.content.decode()
        assert world["units"]["u3"].name in text
        for needle in theirs:
            assert needle not in text
    # Their county as the division: refused, naming the parameter, like an unknown code.
    assert (
        errors(client.get(API, {"region": XINGQING}))["region"][0]["rule"]
        == "region.outside_jurisdiction"
    )
    assert client.get(PAGE, {"region": XINGQING}).status_code == 400
    assert client.get(PAGE, {"region": XINGQING, "format": "csv"}).status_code == 400


@pytest.mark.parametrize(
    "params, field, rule",
    [
        ({"from": "2026-13-01"}, "from", "from.format"),
        ({"to": "yesterday"}, "to", "to.format"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from", "from.after_to"),
        ({"from": "1991-01-01", "to": "2026-01-01"}, "from", "from.range"),
        ({"to": "9999-12-31"}, "to", "to.range"),
        ({"to": "0001-01-02"}, "to", "to.range"),
        ({"since": "2026-01-01"}, "since", "query.unknown"),
        ({"region": "640100"}, "region", "region.outside_jurisdiction"),  # above the county
        ({"region": "650102"}, "region", "region.outside_jurisdiction"),  # another province
        ({"region": "64x"}, "region", "region.outside_jurisdiction"),
        ({"region": "999999"}, "region", "region.outside_jurisdiction"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(users, params, field, rule):
    client = client_for(users["xingqing"])
    found = errors(client.get(API, params))
    assert list(found) == [field] and found[field][0]["rule"] == rule
    page = client.get(PAGE, params)
    assert page.status_code == 400
    assert f'data-error-for="{field}"' in page.content.decode()


def test_the_page_shows_the_map_tables_and_an_empty_period_kindly(users, world):
    client = client_for(users["city"])
    page = client.get(PAGE).content.decode()
    for marker in (
        'id="totals"',
        'id="by-region"',
        'id="by-unit"',
        "leaflet",
        "format=csv",
        "兴庆区",
    ):
        assert marker in page
    assert 'id="no-incidents"' not in page
    empty = client.get(PAGE, {"from": "2001-01-01", "to": "2001-12-31"})
    assert empty.status_code == 200
    assert 'id="no-incidents"' in empty.content.decode()
    assert client.get(API, {"from": "2001-01-01", "to": "2001-12-31"}).json()["totals"] == {
        **expected([]),
        "arrival_median_min": None,
    }


def test_the_csv_holds_both_tables(users, world):
    response = client_for(users["city"]).get(PAGE, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_code = {row[0]: row for row in rows if row and row[0].isdigit() and len(row[0]) == 6}
    want = expected([s for s in in_period() if s.code == XINGQING])
    assert int(by_code[XINGQING][2]) == want["incidents"]
    assert float(by_code[XINGQING][7]) == want["arrival_p90_min"]
    names = {row[1] for row in rows if len(row) > 2}
    assert {u.name for u in world["units"].values()} <= names


@pytest.mark.parametrize("key", ["xingqing_analyst", "xingqing", "national"])
def test_reading_roles_may_see_statistics(users, key):
    assert client_for(users[key]).get(API).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "api"])
def test_the_renderer_choice_is_not_a_filter(users, fmt):
    response = client_for(users["xingqing"]).get(API, {"format": fmt, "region": XINGQING})
    assert response.status_code == 200


def test_enterprise_users_and_strangers_are_refused(users, responders):
    assert client_for(responders["enterprise"]).get(API).status_code == 403
    assert client_for(responders["enterprise"]).get(PAGE).status_code == 403
    assert Client().get(API).status_code in (401, 403)
    page = Client().get(PAGE)
    assert page.status_code == 302 and "login" in page["Location"]


def test_the_schema_documents_the_statistics_api(users):
    from drf_spectacular.validation import validate_schema

    schema = client_for(users["national"]).get("/api/schema/?format=json").json()
    validate_schema(schema)
    operation = schema["paths"]["/response/api/statistics/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "region"}
    assert PAGE not in schema["paths"]  # the page is not part of the API


def test_the_responding_party_is_the_ask_whose_answer_moved_the_incident(users, make_unit):
    """Two asks open at once: the answer recorded first moves the incident and makes its unit the
    responding party, even when the other answer, typed in later, carries an earlier time."""
    first, second = (make_unit(roles=("maintenance",), name=f"并行维保{i}") for i in (1, 2))
    actor = users["xingqing"]
    reported = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    point = inside(XINGQING)
    incident = services.report_incident(
        at_coordinates(actor, f"{point.x},{point.y}"), acting_user=actor, reported_at=reported
    )
    ask_first = dispatch_incident(
        incident.pk, acting_user=actor, unit_id=first.pk, at=reported + MINUTE
    )
    ask_second = dispatch_incident(
        incident.pk, acting_user=actor, unit_id=second.pk, at=reported + 2 * MINUTE
    )
    answer_dispatch(ask_second.pk, "responded", acting_user=actor, at=reported + 6 * MINUTE)
    answer_dispatch(ask_first.pk, "responded", acting_user=actor, at=reported + 4 * MINUTE)
    services.change_incident_state(
        incident.pk, S.ARRIVED, acting_user=actor, at=reported + 20 * MINUTE
    )
    rows = by_id(client_for(actor).get(API).json()["maintenance_units"])
    assert (rows[first.pk]["accepted"], rows[first.pk]["responding_for"]) == (1, 0)
    assert (rows[second.pk]["accepted"], rows[second.pk]["responding_for"]) == (1, 1)
    assert (rows[second.pk]["arrived_within_norm"], rows[first.pk]["arrived"]) == (1, 0)
    assert (
        rows[first.pk]["answer_median_min"] == 3.0 and rows[second.pk]["answer_median_min"] == 4.0
    )
