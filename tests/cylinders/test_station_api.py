"""The stations' machine endpoint and the tag lookup: keys, batches, per-row reports, scope."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from accounts.models import AuditEntry
from cylinders import services
from cylinders.models import FillingRecord, Violation
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling

URL = "/cylinders/api/fillings/"
DAY = dt.date(2026, 3, 10)


def post(client: Client, body, key: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Station {key}"} if key else {}
    return client.post(URL, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def key(station):
    return services.issue_station_token(station, acting_user=None)


def test_a_station_posts_its_batch_with_its_key(station, make_cylinder, key):
    fine = make_cylinder(next_inspection_due=dt.date(2027, 1, 1))
    due = make_cylinder(next_inspection_due=DAY - dt.timedelta(days=3))
    answer = post(
        Client(), {"fillings": [filling(fine.tag, at(DAY)), filling(due.tag, at(DAY))]}, key
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["station"], body["recorded"], body["duplicates"], body["violations"]) == (
        station.pk, 2, 0, 1,
    )  # fmt: skip
    assert [r["violations"] for r in body["rows"]] == [[], ["overdue"]]
    assert Violation.objects.get().tag == due.tag
    audit = AuditEntry.objects.get(action="fillings.recorded")
    assert audit.actor is None and audit.after["recorded"] == 2


def test_resending_a_batch_adds_nothing(station, make_cylinder, key):
    cylinder = make_cylinder()
    body = {"fillings": [filling(cylinder.tag, at(DAY))]}
    post(Client(), body, key)
    again = post(Client(), body, key).json()
    assert (again["recorded"], again["duplicates"]) == (0, 1)
    assert FillingRecord.objects.count() == 1


def test_the_key_names_the_station_whatever_the_body_says(station, make_station, key):
    other = make_station()
    answer = post(Client(), {"station": other.pk, "fillings": [filling("A", at(DAY))]}, key)
    assert answer.json()["station"] == station.pk
    assert FillingRecord.objects.get().station_id == station.pk


@pytest.mark.parametrize("header", ["Station nope", "Station ", "Station a b"])
def test_a_wrong_key_is_refused(db, header):
    answer = Client().post(URL, "{}", content_type="application/json", HTTP_AUTHORIZATION=header)
    assert answer.status_code == 401
    assert "user" in answer.json()["errors"]


def test_a_new_key_replaces_the_old(station, key):
    services.issue_station_token(station, acting_user=None)
    assert post(Client(), {"fillings": [filling("A", at(DAY))]}, key).status_code == 401


def test_a_bad_batch_is_a_400_naming_each_row_and_field(station, key):
    rows = [filling("A", at(DAY)), filling("B", at(DAY), quantity_kg="lots")]
    answer = post(Client(), {"fillings": rows}, key)
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["fillings[1].quantity_kg"]
    assert not FillingRecord.objects.exists()


@pytest.mark.parametrize("body", [{}, {"fillings": []}, {"fillings": "x"}, [1, 2]])
def test_a_batch_without_fillings_is_a_400(station, key, body):
    answer = post(Client(), body, key)
    assert answer.status_code == 400
    assert "fillings" in answer.json()["errors"]


def test_too_many_fillings_is_a_400(station, key):
    rows = [filling(f"T{i}", at(DAY)) for i in range(services.MAX_BATCH + 1)]
    assert "fillings" in post(Client(), {"fillings": rows}, key).json()["errors"]


def test_a_supervisor_enters_fillings_for_a_station_of_the_county(station, users):
    client = Client()
    client.force_login(users["xingqing"])
    answer = post(client, {"station": station.pk, "fillings": [filling("A", at(DAY))]})
    assert answer.status_code == 201
    assert AuditEntry.objects.get(action="fillings.recorded").actor == users["xingqing"]


def test_another_countys_station_is_as_missing(make_station, users):
    theirs = make_station(XIXIA)
    client = Client()
    client.force_login(users["xingqing"])
    answer = post(client, {"station": theirs.pk, "fillings": [filling("A", at(DAY))]})
    missing = post(client, {"station": 2147480000, "fillings": [filling("A", at(DAY))]})
    assert answer.status_code == missing.status_code == 404
    assert answer.json() == missing.json()


def test_an_analyst_may_not_enter_fillings(station, users):
    client = Client()
    client.force_login(users["xingqing_analyst"])
    assert (
        post(client, {"station": station.pk, "fillings": [filling("A", at(DAY))]}).status_code
        == 403
    )


def test_the_lookup_by_tag_is_scoped(make_station, make_cylinder, users):
    mine = make_cylinder()
    theirs = make_cylinder(owner=make_station(XIXIA))
    client = Client()
    client.force_login(users["xingqing"])
    found = client.get("/cylinders/api/lookup/", {"tag": mine.tag})
    assert found.status_code == 200 and found.json()["tag"] == mine.tag
    assert client.get("/cylinders/api/lookup/", {"tag": theirs.tag}).status_code == 404
    assert "tag" in client.get("/cylinders/api/lookup/").json()["errors"]
