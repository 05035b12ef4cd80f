"""Search as people type (registry/search.py, /api/search/): exact, prefix and part, ranked, scoped,
bounded, and read from the indexes the migration builds on the module's own expressions."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry import search
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA

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
    # The variety in both of the catalogue's languages: the map's list shows the reader's.
    [found] = body["equipment"]["features"]
    names = found["properties"]["variety_name"], found["properties"]["variety_name_en"]
    assert names == ("曳引驱动乘客电梯", "Traction passenger elevators")
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


def _answers(client, texts):
    return {
        q: (codes(body, prop="address"), codes(body, "units", "name"), body["more"])
        for q in texts
        for body in [client.get("/api/search/", {"q": q, "limit": 3}).json()]
    }


@pytest.mark.parametrize("user", ["national", "city", "xingqing"])
def test_the_scan_of_the_jurisdiction_answers_as_the_trigram_index_does(
    client, users, devices, make_equipment, make_unit, monkeypatch, user
):
    """A jurisdiction read whole by the scan, and the same read through the trigram index (the
    scan stopped at once), give the same devices and units, in the same order."""
    make_equipment(XIXIA, address="解放西街幸福小区9栋")
    make_equipment(XINGQING, address="丽景湾B座12号", registration_code="31106401042019060002")
    make_unit(XIXIA, name="幸福小区物业服务有限公司", address="西夏区解放西街1号")
    texts = ["幸福小区", "解放", "6401", "0001", "B座1", "b座1", "物业服务", "宁安电梯", "无此ZQX"]
    client.force_login(users[user])
    scanned = _answers(client, texts)
    monkeypatch.setattr(search, "SCAN_ROWS", 0)
    through_trigrams = _answers(client, texts)
    assert {q: found[:2] for q, found in through_trigrams.items()} == {
        q: found[:2] for q, found in scanned.items()
    }
    # `more` alike too, but where a division's rows filled the page first ("6401": the rest of
    # the jurisdiction was left unread, which the trigram index, reading all, does not say).
    assert {q: found[2] for q, found in through_trigrams.items() if q != "6401"} == {
        q: found[2] for q, found in scanned.items() if q != "6401"
    }
    # Not vacuous: most texts find something, and the scope tells the users apart.
    assert sum(bool(e or u) for e, u, _ in scanned.values()) >= 6
    # Ranked: the addresses starting with the text first, the shorter first.
    assert (
        scanned["幸福小区"][0]
        == {
            "national": ["幸福小区3栋", "幸福小区5栋", "解放西街幸福小区9栋"],
            "city": ["幸福小区3栋", "幸福小区5栋", "解放西街幸福小区9栋"],
            "xingqing": ["幸福小区3栋"],
        }[user]
    )


def test_a_text_in_an_address_is_found_in_any_case(client, users, make_equipment):
    make_equipment(address="丽景湾b座12号")
    make_equipment(address="丽景湾B座14号")
    client.force_login(users["xingqing"])
    for q in ("湾B座", "湾b座"):
        body = client.get("/api/search/", {"q": q}).json()
        assert sorted(f["properties"]["address"] for f in body["equipment"]["features"]) == [
            "丽景湾B座14号",
            "丽景湾b座12号",
        ]


def test_a_common_text_fills_the_page_from_the_scan_and_says_that_more_are_unread(
    client, users, make_equipment, monkeypatch
):
    for number in range(1, 6):
        make_equipment(XINGQING, address=f"长城路9{number}号")
    make_equipment(XIXIA, address="长城路96号")
    monkeypatch.setattr(search, "SCAN_ROWS", 4)
    client.force_login(users["xingqing"])
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/search/", {"q": "城路9", "limit": 2}).json()
    assert len(codes(body)) == 2 and body["more"] is True
    # The page was filled from the rows scanned: the trigram index was not asked for devices.
    assert not [
        c for c in captured if "LIKE '%城路9%'" in c["sql"] and "registry_equipment" in c["sql"]
    ]
    # A page the scan cannot fill goes on through the trigram index and finds the county's five.
    body = client.get("/api/search/", {"q": "城路9", "limit": 10}).json()
    assert sorted(codes(body, prop="address")) == [f"长城路9{n}号" for n in range(1, 6)]
    assert body["more"] is False
    # A trigram without digits is rare enough: the trigram index at once, in a county too.
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/search/", {"q": "长城路", "limit": 10}).json()
    assert len(codes(body)) == 5
    assert not [c for c in captured if "USING ~<~" in c["sql"] and "registry_equipment" in c["sql"]]
    client.force_login(users["national"])
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/search/", {"q": "长城路", "limit": 10}).json()
    assert len(codes(body)) == 6
    assert not [c for c in captured if "USING ~<~" in c["sql"]]


def test_a_rare_text_past_the_scan_is_found_through_the_trigram_index(
    client, users, make_equipment, monkeypatch
):
    make_equipment(XINGQING, address="凤凰北街1号", device_code="3110T1234202077001")
    make_equipment(XINGQING, address="贺兰山西路99号", device_code="3110T1234202077002")
    monkeypatch.setattr(search, "SCAN_ROWS", 1)
    client.force_login(users["xingqing"])
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/search/", {"q": "路99"}).json()
    assert codes(body, prop="address") == ["贺兰山西路99号"]
    assert [c for c in captured if "LIKE '%路99%'" in c["sql"] and "registry_equipment" in c["sql"]]
    # Digits the same way nationally: "7700" is in both codes, past the scan's one row.
    client.force_login(users["national"])
    body = client.get("/api/search/", {"q": "7700"}).json()
    assert sorted(codes(body)) == ["3110T1234202077001", "3110T1234202077002"]


def test_digits_that_name_a_division_read_its_rows_first(
    client, users, make_equipment, monkeypatch
):
    """The digits "6401" name 银川: a province's search reads 银川's rows alone first, and they fill the
    page (石嘴山's device, with no "6401", is never read)."""
    make_equipment(SHIZUISHAN_DAWUKOU, address="大武口区1号")
    for number in range(1, 4):
        make_equipment(XINGQING, registration_code=f"3110640104201906000{number}")
    monkeypatch.setattr(search, "SCAN_ROWS", 2)
    client.force_login(users["province"])
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/api/search/", {"q": "6401", "limit": 2}).json()
    assert len(codes(body)) == 2 and body["more"] is True
    scans = [
        c["sql"] for c in captured if "USING ~<~" in c["sql"] and "registry_equipment" in c["sql"]
    ]
    assert len(scans) == 1 and "^@ '6401'" in scans[0], scans


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


def _plan(
    sql: str, params, *switches: str, without: tuple[str, ...] = (), verbose: bool = False
) -> str:
    """The plan with the switches off and the indexes `without` gone, all undone after."""
    with transaction.atomic(), connection.cursor() as cursor:
        for switch in ("enable_seqscan", *switches):
            cursor.execute(f"SET LOCAL {switch} = off")
        for index in without:
            cursor.execute(f"DROP INDEX {index}")
        cursor.execute(("EXPLAIN (VERBOSE) " if verbose else "EXPLAIN ") + sql, params)
        transaction.set_rollback(True)
        return "\n".join(row[0] for row in cursor.fetchall())


def _statements(client, q, table, marker):
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/search/", {"q": q}).status_code == 200
    statements = [
        c["sql"] for c in captured if f'FROM "{table}"' in c["sql"] and marker in c["sql"]
    ]
    assert statements, [c["sql"] for c in captured]
    return statements


@pytest.mark.parametrize(
    "user, q, table, index",
    [
        # A part whose every trigram holds a digit is scanned for in a county, and among devices
        # anywhere (first in the division that digits name, "6401", then the rest).
        ("xingqing", "小区3", "registry_equipment", "registry_equipment_search_scan"),
        ("xingqing", "3110w", "registry_equipment", "registry_equipment_search_scan"),
        ("xingqing", "街88", "registry_unit", "registry_unit_search_scan"),
        ("xingqing", "6401", "registry_unit", "registry_unit_search_scan"),
        ("national", "6401", "registry_equipment", "registry_equipment_search_scan"),
        ("national", "0001", "registry_equipment", "registry_equipment_search_scan"),
    ],
)
def test_the_scan_of_the_jurisdiction_reads_only_its_covering_index(
    client, users, devices, user, q, table, index
):
    """Every column the scan reads of the table is in the covering index (FIELDS and migration
    0013 agree), so the scan can be index-only, nationally and in a county. Read from the plan's
    output columns rather than from the planner's pick, which the table's history sways: earlier
    tests' rolled-back rows leave it and its indexes bloated, with no vacuum in a test run."""
    client.force_login(users[user])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE c.relname = %s",
            [index],
        )
        covered = {row[0] for row in cursor.fetchall()}
    for sql in _statements(client, q, table, "USING ~<~"):
        plan = _plan(sql, None, verbose=True)
        read = set(re.findall(rf"\b{table}(?:_\d+)?\.(\w+)", plan))
        assert read and read <= covered, (read - covered, plan)


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
def test_each_tier_reads_its_index(client, users, devices, monkeypatch, q, table, index, switches):
    """The trigram indexes are built on the module's own expressions: were the migration's SQL and
    SEARCH_TEXT to differ, the planner could not use them and this fails. The scan stops after one
    row here, so that the trigram index is asked for the rest of the jurisdiction; the covering
    index is out of the way (read whole as a bitmap, it is the cheaper pick on a few rows)."""
    monkeypatch.setattr(search, "SCAN_ROWS", 0)
    client.force_login(users["national"])
    statements = _statements(client, q, table, "LIKE")
    plans = [_plan(sql, None, *switches, without=(f"{table}_search_scan",)) for sql in statements]
    assert any(index in plan for plan in plans), "\n\n".join(plans)
    assert not any(f"Seq Scan on {table}" in plan for plan in plans), plans
