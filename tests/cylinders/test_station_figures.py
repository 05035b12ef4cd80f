"""A station's kept figures (StationDay) equal a recount of the records after every write path,
and the station's pages read them: the day page (paged) and the 'where are they now' page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from cylinders import reads, services
from cylinders.models import Cylinder, CylinderStatus, StationDay, Violation
from layers.sources import SOURCES
from registry.synthetic import generate as generate_registry
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling, lapse_licence

TODAY = timezone.localdate()
# The fillings' day on the pages: yesterday, so no hour of it is in the future at any time of day.
SHOWN = TODAY - dt.timedelta(days=1)
DAY = dt.date(2026, 3, 10)


def kept() -> set[tuple]:
    return set(StationDay.objects.values_list("station_id", "day", "fillings", "violations",
                                              "region_id"))  # fmt: skip


def recounted() -> set[tuple]:
    """The figures counted afresh from the fillings and violations (then the kept ones put back)."""
    before = kept()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cylinders_stationday")
        cursor.execute(services.RECOUNT_STATION_DAYS, {"tz": settings.TIME_ZONE})
    counted = kept()
    StationDay.objects.all().delete()
    StationDay.objects.bulk_create(
        StationDay(station_id=s, day=d, fillings=f, violations=v, region_id=r)
        for s, d, f, v, r in before
    )
    return counted


@pytest.fixture
def county(users) -> Client:
    client = Client()
    client.force_login(users["xingqing"])
    return client


def test_the_ingest_keeps_the_figures_by_local_day(make_station, make_cylinder):
    station, lapsed = make_station(), make_station(valid_until=None)
    cylinder = make_cylinder(owner=station, next_inspection_due=DAY - dt.timedelta(days=1))
    # 23:30 and 00:30 Beijing time: two local days (the first is 15:30 UTC of the same day).
    late, early = at(DAY, 23).replace(minute=30), at(DAY + dt.timedelta(days=1), 0)
    rows = [filling(cylinder.tag, late), filling(cylinder.tag, early), filling("NOPE-1", late)]
    services.record_fillings(station, rows, acting_user=None)
    services.record_fillings(station, rows, acting_user=None)  # a resend: duplicates, no change
    services.record_fillings(lapsed, [filling(cylinder.tag, late, check_result="fail")],
                             acting_user=None)  # fmt: skip
    figures = {(s, d): (f, v) for s, d, f, v, _ in kept()}
    assert figures[(station.pk, DAY)] == (2, 2)  # overdue; unregistered
    assert figures[(station.pk, DAY + dt.timedelta(days=1))] == (1, 1)
    # lapsed licence, another station's cylinder, overdue, failed check
    assert figures[(lapsed.pk, DAY)] == (1, 4)
    assert kept() == recounted()


def test_the_recheck_counts_the_violations_it_adds(station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    services.record_fillings(station, [filling(cylinder.tag, at(DAY))], acting_user=None)
    assert {(f, v) for _, _, f, v, _ in kept()} == {(1, 0)}
    Cylinder.objects.filter(pk=cylinder.pk).update(status=CylinderStatus.LOST)
    lapse_licence(station, DAY - dt.timedelta(days=7))
    since, until = at(DAY, 0), at(DAY + dt.timedelta(days=1), 0)
    assert services.recheck_fillings(since, until)["violations_added"] == 2
    assert {(f, v) for _, _, f, v, _ in kept()} == {(1, 2)}
    assert services.recheck_fillings(since, until)["violations_added"] == 0  # nothing counted twice
    assert kept() == recounted()


def test_the_demo_generator_keeps_them_too(db):
    generate_registry(prefix="640104", devices=200, seed=5, progress=False)
    call_command("generate_cylinders", prefix="640104", cylinders=300, days=14, seed=5)
    assert Violation.objects.exists() and kept() == recounted()


def test_the_station_page_shows_the_kept_figures(county, station, make_cylinder):
    overdue = make_cylinder(next_inspection_due=TODAY - dt.timedelta(days=5))
    make_cylinder(next_inspection_due=TODAY - dt.timedelta(days=1), status=CylinderStatus.LOST)
    make_cylinder(next_inspection_due=dt.date(2030, 1, 1))
    before = SHOWN - dt.timedelta(days=1)
    services.record_fillings(station, [
        filling(overdue.tag, at(SHOWN, 8)), filling("NOPE-2", at(before, 9)),
    ], acting_user=None)  # fmt: skip
    page = county.get(f"/cylinders/stations/{station.pk}/", {"day": SHOWN.isoformat()})
    assert page.context["summary"] == {
        "cylinders": 3, "overdue": 1,
        "violations": Violation.objects.filter(station=station).count(),
        "day_fillings": 1, "day_violations": 1,
    }  # fmt: skip
    assert page.context["summary"]["violations"] == 2
    assert f"/cylinders/stations/{station.pk}/seen/" in page.content.decode()


def test_the_day_page_shows_the_first_rows_and_links_the_full_list(county, station, monkeypatch):
    monkeypatch.setattr(reads, "DAY_SHOWN", 2)
    services.record_fillings(
        station, [filling(f"PAGE-{h}", at(SHOWN, h)) for h in range(8, 13)], acting_user=None
    )
    page = county.get(f"/cylinders/stations/{station.pk}/", {"day": SHOWN.isoformat()})
    assert [f.tag for f, _ in page.context["fillings"]] == ["PAGE-8", "PAGE-9"]
    assert page.context["summary"]["day_fillings"] == 5
    html = page.content.decode()
    assert f"/cylinders/stations/{station.pk}/fillings/?day={SHOWN.isoformat()}" in html
    assert f"/cylinders/stations/{station.pk}/violations/" in html  # 5 violations > 2 shown


@pytest.mark.parametrize("sort, hours", [("time", range(8, 13)), ("-time", range(12, 7, -1))])
def test_the_days_fillings_are_paged_in_time_order(county, station, monkeypatch, sort, hours):
    monkeypatch.setattr(reads, "LIST_PAGE", 2)
    services.record_fillings(
        station, [filling(f"PAGE-{h}", at(SHOWN, h)) for h in range(8, 13)], acting_user=None
    )
    seen, number = [], 1
    while True:
        page = county.get(f"/cylinders/stations/{station.pk}/fillings/",
                          {"day": SHOWN.isoformat(), "sort": sort, "page": number})  # fmt: skip
        seen += [f.tag for f, _ in page.context["rows"]]
        assert page.context["page"].paginator.count == 5
        if not page.context["page"].has_next():
            break
        number += 1
    assert seen == [f"PAGE-{h}" for h in hours] and number == 3


def test_the_overdue_list_is_paged_longest_overdue_first(county, station, make_cylinder,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.setattr(reads, "LIST_PAGE", 2)
    due = [TODAY - dt.timedelta(days=d) for d in (3, 9, 1)]
    tags = {make_cylinder(next_inspection_due=d).tag: d for d in due}
    make_cylinder(next_inspection_due=dt.date(2030, 1, 1))
    pages = [county.get(f"/cylinders/stations/{station.pk}/overdue/", {"page": n}) for n in (1, 2)]
    seen = [c.tag for p in pages for c in p.context["rows"]]
    assert seen == sorted(tags, key=tags.get)
    latest = county.get(f"/cylinders/stations/{station.pk}/overdue/", {"sort": "-due"})
    assert [c.tag for c in latest.context["rows"]] == sorted(tags, key=tags.get, reverse=True)[:2]


def test_the_violations_list_is_paged_and_sorted_by_time(county, station, monkeypatch):
    monkeypatch.setattr(reads, "LIST_PAGE", 2)
    services.record_fillings(
        station, [filling(f"V-{h}", at(SHOWN, h)) for h in range(8, 11)], acting_user=None
    )
    newest = county.get(f"/cylinders/stations/{station.pk}/violations/")
    assert [v.tag for v in newest.context["rows"]] == ["V-10", "V-9"]
    oldest = county.get(f"/cylinders/stations/{station.pk}/violations/", {"sort": "time"})
    assert [v.tag for v in oldest.context["rows"]] == ["V-8", "V-9"]
    unknown = county.get(f"/cylinders/stations/{station.pk}/violations/", {"sort": "tag"})
    assert unknown.status_code == 200 and unknown.context["sort"] == "-time"


@pytest.mark.parametrize("kind", ["fillings", "overdue", "violations"])
def test_another_countys_station_lists_are_as_missing(county, make_station, kind):
    theirs = make_station(XIXIA)
    assert county.get(f"/cylinders/stations/{theirs.pk}/{kind}/").status_code == 404


def test_the_map_layer_reads_the_same_figures(users, station, make_cylinder):
    cylinder = make_cylinder(next_inspection_due=dt.date(2030, 1, 1))
    old = TODAY - dt.timedelta(days=reads.FIGURES_DAYS + 5)
    services.record_fillings(station, [
        filling(cylinder.tag, at(SHOWN, 8)), filling("NOPE-3", at(SHOWN, 9)),
        filling("NOPE-4", at(old, 9)),
    ], acting_user=None)  # fmt: skip
    row = SOURCES["stations"].rows(users["xingqing"], TODAY).get(pk=station.pk)
    assert (row.owned_cylinders, row.fillings, row.violations) == (1, 2, 2)


def test_where_the_cylinders_are_now_is_a_page_of_its_own(county, make_station, make_cylinder):
    bad, good, far = (
        make_station(valid_until=dt.date(2020, 1, 1)), make_station(), make_station(XIXIA),
    )  # fmt: skip
    one, two = make_cylinder(owner=good), make_cylinder(owner=good)
    services.record_fillings(bad, [filling(one.tag, at(SHOWN, 8)), filling(two.tag, at(SHOWN, 8))],
                             acting_user=None)  # fmt: skip
    services.record_fillings(good, [filling(one.tag, at(SHOWN, 12))], acting_user=None)
    services.record_fillings(far, [filling(two.tag, at(SHOWN, 12))], acting_user=None)
    page = county.get(f"/cylinders/stations/{bad.pk}/seen/")
    seen = {s.tag: s for s in page.context["seen"]}
    assert seen[one.tag].station == good and seen[one.tag].filled_at == at(SHOWN, 12)
    assert seen[two.tag].station is None and seen[two.tag].region.code == XIXIA
    assert county.get(f"/cylinders/stations/{far.pk}/seen/").status_code == 404


@pytest.mark.parametrize("path", ["", "fillings/", "overdue/", "violations/"])
def test_the_station_pages_queries_do_not_grow_with_rows(county, station, make_cylinder, path):
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page = county.get(
                f"/cylinders/stations/{station.pk}/{path}", {"day": SHOWN.isoformat()}
            )
        assert page.status_code == 200
        return len(captured)

    def add(n: int, first: int) -> None:
        for i in range(first, first + n):
            make_cylinder(tag=f"GROW-{i}", next_inspection_due=TODAY - dt.timedelta(days=3))
        services.record_fillings(station, [
            filling(f"GROW-{i}", at(SHOWN, 8) + dt.timedelta(minutes=i)) for i in range(first, first + n)
        ], acting_user=None)  # fmt: skip

    add(2, 0)
    few = queries()
    add(30, 2)
    assert queries() == few


def test_the_station_day_page_takes_eight_statements_and_no_region_outline(county, station):
    """Session, user, the station (its region's name, not its outline), its licence, the day's
    fillings, the figures (one statement: owned, overdue, the kept sums), the overdue cylinders
    and the violations: each round trip waits for a CPU on a busy machine."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page = county.get(f"/cylinders/stations/{station.pk}/", {"day": SHOWN.isoformat()})
    assert page.status_code == 200
    statements = [q["sql"] for q in captured]
    assert len(statements) == 8, "\n".join(s[:120] for s in statements)
    assert not any('"boundary"' in s for s in statements)


@pytest.mark.parametrize("lapsed", [False, True], ids=["in force", "lapsed"])
def test_the_station_page_shows_its_licence_in_force_or_else_the_last(county, station, lapsed):
    if lapsed:
        lapse_licence(station, TODAY - dt.timedelta(days=30))
    page = county.get(f"/cylinders/stations/{station.pk}/")
    licence = page.context["licence"]
    assert licence is not None and licence.unit_id == station.pk
    assert page.context["licence_expired"] is lapsed
    assert licence.number in page.content.decode()


def test_a_station_that_never_held_a_licence_shows_none_and_lapsed(county, make_station):
    bare = make_station(valid_until=None)
    page = county.get(f"/cylinders/stations/{bare.pk}/")
    assert page.status_code == 200 and page.context["licence"] is None
    assert page.context["licence_expired"] is True
