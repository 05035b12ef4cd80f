"""The station key page: a supervisor or administrator of the station's region issues a key
(shown once), replaces or revokes it, audited; the filling endpoint takes the key until revoked."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from accounts.models import AuditEntry, Role, User
from cylinders.models import StationToken
from tests.conftest import XIXIA
from tests.cylinders.rows import at, filling

DAY = dt.date(2026, 3, 10)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def keys_url(station) -> str:
    return f"/cylinders/stations/{station.pk}/keys/"


def issued_key(client: Client, station) -> str:
    """Issue a key through the page and read it off the answer."""
    answer = client.post(keys_url(station), {"action": "issue"})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store, private"
    return answer.context["key"]


def post_fillings(key: str, tag: str = "KEYTEST1"):
    return Client().post(
        "/cylinders/api/fillings/",
        json.dumps({"fillings": [filling(tag, at(DAY))]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Station {key}",
    )


@pytest.mark.parametrize("who", ["xingqing", "city", "national"])
def test_a_supervisor_or_administrator_issues_a_key_the_endpoint_takes(users, station, who):
    key = issued_key(signed_in(users[who]), station)
    assert key and len(key) == 40
    assert post_fillings(key).status_code == 201
    # Only the digest is kept; the audit row names the station, never the key.
    token = StationToken.objects.get(station=station)
    assert key not in token.digest
    entry = AuditEntry.objects.get(action="station_token.issued")
    assert entry.actor == users[who] and key not in json.dumps(entry.after)


def test_the_key_is_shown_once(users, station):
    client = signed_in(users["xingqing"])
    key = issued_key(client, station)
    again = client.get(keys_url(station))
    assert again.context["key"] is None and key not in again.content.decode()
    assert again.context["token"] is not None  # its dates are still shown


def test_a_revoked_key_is_refused_by_the_endpoint(users, station):
    client = signed_in(users["xingqing"])
    key = issued_key(client, station)
    assert client.post(keys_url(station), {"action": "revoke"}).status_code == 200
    assert post_fillings(key).status_code in (401, 403)
    assert client.get(keys_url(station)).context["token"] is None
    assert AuditEntry.objects.filter(action="station_token.revoked").count() == 1


def test_a_new_key_replaces_the_old_one(users, station):
    client = signed_in(users["xingqing"])
    old, new = issued_key(client, station), issued_key(client, station)
    assert post_fillings(old).status_code in (401, 403)
    assert post_fillings(new).status_code == 201


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INSPECTOR, Role.RESPONDER])
def test_other_roles_read_the_page_but_issue_nothing(users, station, role):
    user = User.objects.create_user(
        f"keys-{role}", password="pw", agency=users["xingqing"].agency, role=role
    )
    client = signed_in(user)
    page = client.get(keys_url(station))
    assert page.status_code == 200 and not page.context["may_manage"]
    assert 'id="issue-key"' not in page.content.decode()
    assert client.post(keys_url(station), {"action": "issue"}).status_code == 403
    assert not StationToken.objects.exists()


def test_another_countys_station_is_as_missing(users, make_station):
    theirs = make_station(XIXIA)
    client = signed_in(users["xingqing"])
    assert client.get(keys_url(theirs)).status_code == 404
    assert client.post(keys_url(theirs), {"action": "issue"}).status_code == 404
    assert not StationToken.objects.exists()


def test_a_unit_that_is_not_a_station_gets_no_key(users, make_unit):
    unit = make_unit()
    page = signed_in(users["xingqing"]).post(keys_url(unit), {"action": "issue"})
    assert page.status_code == 400 and "不是充装单位" in page.content.decode()
    assert not StationToken.objects.exists()


def test_the_station_page_links_its_key_page(users, station):
    html = signed_in(users["xingqing"]).get(f"/cylinders/stations/{station.pk}/").content.decode()
    assert keys_url(station) in html


def test_the_key_page_lists_the_stations_keys_and_their_state(users, station):
    client = signed_in(users["xingqing"])
    issued_key(client, station)
    issued_key(client, station)  # replaces the first
    client.post(keys_url(station), {"action": "revoke"})
    page = client.get(keys_url(station))
    history = list(page.context["history"])
    assert [t.state() for t in history] == ["已吊销", "已吊销"]
    assert history[0].created_at >= history[1].created_at  # newest first
    html = page.content.decode()
    assert 'id="key-history"' in html and html.count("已吊销") >= 2
    assert all(t.digest not in html for t in history)
