"""Session limits (accounts.middleware): signed out after the idle timeout and after the absolute
lifetime; activity keeps a session alive, at most one session write a minute."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import map_pass
from accounts.middleware import SEEN, STARTED

pytestmark = pytest.mark.django_db

MINUTE = 60


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def age(client: Client, *, started: float, seen: float) -> None:
    """Move the session's clock back: sign-in `started` and last request `seen` seconds ago."""
    session = client.session
    now = int(time.time())
    session[STARTED], session[SEEN] = now - int(started), now - int(seen)
    session.save()


def test_signing_in_starts_the_clock(users):
    session = signed_in(users["xingqing"]).session
    assert abs(session[STARTED] - time.time()) < 5 and session[SEEN] == session[STARTED]


def test_an_active_session_goes_on(users):
    client = signed_in(users["xingqing"])
    age(client, started=60 * MINUTE, seen=29 * MINUTE)
    assert client.get("/map/").status_code == 200
    assert abs(client.session[SEEN] - time.time()) < 5  # the request counted as activity


def test_a_session_idle_past_the_timeout_signs_out(users, settings):
    assert settings.SEGIS_SESSION_IDLE.total_seconds() == 30 * MINUTE
    client = signed_in(users["xingqing"])
    age(client, started=40 * MINUTE, seen=31 * MINUTE)
    response = client.get("/map/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert SESSION_KEY not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "会话已超时" in page and "session timed out" in page


def test_an_active_session_ends_at_the_absolute_lifetime(users, settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * MINUTE
    client = signed_in(users["xingqing"])
    age(client, started=12 * 60 * MINUTE + MINUTE, seen=MINUTE)
    assert client.get("/map/").status_code == 302
    assert SESSION_KEY not in client.session


def test_an_expired_session_calling_the_api_is_refused(users):
    client = signed_in(users["xingqing"])
    age(client, started=40 * MINUTE, seen=31 * MINUTE)
    assert client.get("/api/equipment/").status_code in (401, 403)
    assert SESSION_KEY not in client.session


def test_the_idle_timeout_is_configurable(users, settings):
    settings.SEGIS_SESSION_IDLE = settings.SEGIS_SESSION_IDLE / 3  # ten minutes
    client = signed_in(users["xingqing"])
    age(client, started=20 * MINUTE, seen=11 * MINUTE)
    assert client.get("/map/").status_code == 302


def test_a_recent_request_does_not_write_the_session(users):
    client = signed_in(users["xingqing"])
    age(client, started=10, seen=10)
    seen = client.session[SEEN]
    client.get("/api/regions/")
    assert client.session[SEEN] == seen


def test_a_timed_out_session_user_is_anonymous_behind_a_map_pass(users):
    """Tile requests carry the pass and are not slowed by the session rules; a view that reads
    the session user there still finds the session ended."""
    client = signed_in(users["xingqing"])
    token = map_pass.issue(users["xingqing"])["token"]
    age(client, started=40 * MINUTE, seen=31 * MINUTE)
    response = client.get("/api/equipment/", HTTP_X_MAP_PASS=token)
    assert response.status_code in (401, 403)


def test_a_map_pass_request_does_not_read_the_session(users):
    """The pass exists so tiles skip the session's queries: the rules must not bring them back."""
    token = map_pass.issue(users["xingqing"])["token"]
    url = "/tiles/equipment/count?bbox=106.2,38.4,106.4,38.6"

    def queries(client: Client) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, HTTP_X_MAP_PASS=token).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    with_cookie = queries(signed_in(users["xingqing"]))
    assert not any("django_session" in sql for sql in with_cookie)
    assert len(with_cookie) == len(queries(Client()))
