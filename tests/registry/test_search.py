"""Search as people type (registry/search.py, /api/search/): exact, prefix and part, ranked, scoped,
bounded, and read from the indexes the migration builds on the module's own expressions."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry import search
from tests.conftest import XINGQING, XIXIA

pytestmark = pytest.mark.django_db


def codes(body, kind="equipment", prop="device_code"):
    return [f["properties"][prop] for f in body[kind]["features"]]


@pytest.fixture
def devices(make_equipment, make_unit):
    """Three Xingqing devices and one in Xixia with codes and addresses chosen to tell tiers apart."""
    unit = make_unit(XINGQING, name="银川宁安电梯维保有限公司", address="兴庆区解放东街88号")
    return {
        "exact": make_equipment(
            device_code="3110W5512201900011", use_unit=unit, address="凤凰北街1号"
        ),
        "prefix": make_equipment(
            device_code="3110W5512201900012",
            use_unit=unit,
            address="幸福小区3栋",
            rescue_id="640001",
        ),
        "part": make_equipment(
            device_code="3110T1232202000001",
            registration_code="31106401042020060001",
            use_unit=unit,
            address="丽景湾幸福里640001号",
        ),
        "other_county": make_equipment(
            XIXIA, device_code="3110W5512201900013", address="幸福小区5栋"
        ),
    }


def test_a_code_prefix_finds_the_devices_it_starts_in_code_order(client, users, devices):
    client.force_login(users["xingqing"])
    body = client.get("/api/search/", {"q": "3110w551"}).json()
    # Lower case is read as upper; the Xixia device is not the county's to see.
    assert codes(body) == ["3110W5512201900011", "3110W5512201900012"]
    assert body["more"] is False


def test_an_exact_code_is_answered_alone(client, users, devices):
    client.force_login(users["xingqing"])
    body = client.get("/api/search/", {"q": "3110W5512201900012"}).json()
    assert codes(body) == ["3110W5512201900012"]
    # A 96333 rescue ID given whole is answered alone, though an address holds the same digits.
    body = client.get("/api/search/", {"q": "640001"}).json()
    assert codes(body) == ["3110W5512201900012"]
    # Part of it: the ID that starts with it, then the address holding it.
    body = client.get("/api/search/", {"q": "64000"}).json()
    assert codes(body) == ["3110W5512201900012", "3110T1232202000001"]
    client.force_login(users["city"])
    body = client.get("/api/search/", {"q": "3110W55122019000"}).json()
    assert codes(body) == ["3110W5512201900011", "3110W5512201900012", "3110W5512201900013"]


def test_part_of_a_code_is_found_when_no_code_starts_with_it(client, users, devices):
    client.force_login(users["xingqing"])
    # "6401" starts no code of these devices; it is inside one registration code (the division).
    body = client.get("/api/search/", {"q": "6401"}).json()
    assert codes(body) == ["3110T1232202000001"]


def test_part_of_an_address_ranks_a_field_that_starts_with_it_first(client, users, devices):
    client.force_login(users["xingqing"])
    body = client.get("/api/search/", {"q": "幸福小区"}).json()
    assert codes(body) == ["3110W5512201900012"]
    body = client.get("/api/search/", {"q": "幸福"}).json()
    # Two characters: too short for the devices' trigrams, so only units are searched by part.
    assert codes(body) == []
    body = client.get("/api/search/", {"q": "幸福里"}).json()
    assert codes(body) == ["3110T1232202000001"]
    client.force_login(users["city"])
    body = client.get("/api/search/", {"q": "幸福小"}).json()
    # Both start their address with it; the shorter address first.
    assert codes(body) == ["3110W5512201900012", "3110W5512201900013"]


def test_units_by_part_of_their_name_address_or_credit_code(client, users, devices, make_unit):
    make_unit(XIXIA, name="西夏电梯维保公司")
    client.force_login(users["xingqing"])
    body = client.get("/api/search/", {"q": "电梯"}).json()
    assert codes(body, "units", "name") == ["银川宁安电梯维保有限公司"]
    body = client.get("/api/search/", {"q": "解放东街"}).json()
    assert codes(body, "units", "name") == ["银川宁安电梯维保有限公司"]
    credit = devices["exact"].use_unit.credit_code
    body = client.get("/api/search/", {"q": credit.lower()}).json()
    assert codes(body, "units", "name") == ["银川宁安电梯维保有限公司"]
    # The units list's `search` filter keeps the same units.
    listed = client.get("/api/units/", {"search": "解放东街"}).json()
    assert [f["properties"]["name"] for f in listed["results"]["features"]] == [
        "银川宁安电梯维保有限公司"
    ]


def test_like_wildcards_in_the_text_are_plain_characters(client, users, devices):
    client.force_login(users["xingqing"])
    assert codes(client.get("/api/search/", {"q": "%%%"}).json()) == []
    assert codes(client.get("/api/search/", {"q": "___"}).json()) == []


def test_many_matches_are_bounded_and_say_so(client, users, devices, monkeypatch):
    monkeypatch.setattr(search, "CANDIDATES", 1)
    client.force_login(users["city"])
    body = client.get("/api/search/", {"q": "幸福", "limit": 5}).json()
    assert body["more"] is False  # units only, one match
    body = client.get("/api/search/", {"q": "幸福小区", "limit": 5}).json()
    assert len(codes(body)) == 1 and body["more"] is True


@pytest.mark.parametrize(
    "params, field, rule",
    [
        ({}, "q", "q.empty"),
        ({"q": "   "}, "q", "q.empty"),
        ({"q": "x" * 101}, "q", "q.length"),
        ({"q": "3110", "limit": "0"}, "limit", "limit.range"),
        ({"q": "3110", "limit": "51"}, "limit", "limit.range"),
        ({"q": "3110", "limit": "ten"}, "limit", "limit.range"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, users, params, field, rule):
    client.force_login(users["xingqing"])
    response = client.get("/api/search/", params)
    assert response.status_code == 400
    assert [e["rule"] for e in response.json()["errors"][field]] == [rule]


def test_signed_out_is_refused(client, devices):
    assert client.get("/api/search/", {"q": "3110"}).status_code in (401, 403)


def _plan(sql: str, params, *switches: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        for switch in ("enable_seqscan", *switches):
            cursor.execute(f"SET LOCAL {switch} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "q, table, index, switches",
    [
        # Without plain index scans (a whole primary key read in order would do on a tiny table),
        # a bitmap on the trigram index is the only way left: it must be possible.
        ("幸福小区", "registry_equipment", "registry_equipment_search_trgm", ("enable_indexscan",)),
        ("解放东街", "registry_unit", "registry_unit_search_trgm", ("enable_indexscan",)),
        ("3110W551", "registry_equipment", "registry_equipment_device_code", ()),
    ],
)
def test_each_tier_reads_its_index(client, users, devices, q, table, index, switches):
    """The trigram indexes are built on the module's own expressions: were the migration's SQL and
    SEARCH_TEXT to differ, the planner could not use them and this fails."""
    client.force_login(users["national"])
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/search/", {"q": q}).status_code == 200
    statements = [
        c["sql"] for c in captured if f'FROM "{table}"' in c["sql"] and "LIKE" in c["sql"]
    ]
    assert statements
    plans = [_plan(sql, None, *switches) for sql in statements]
    assert any(index in plan for plan in plans), plans
    assert not any(f"Seq Scan on {table}" in plan for plan in plans), plans
