"""The fast path for pass-carrying tiles (layers/pass_front.py) against Django's own answer.

Both sides are WSGI applications called as a server calls them: `config.wsgi.application` (the
fast path in front of Django) and Django's handler alone. The database is committed for real
(transactional_db): the fast path gives its connection back to the pool after each tile, which
would end the test's transaction under the `db` fixture.
"""

from __future__ import annotations

import io
import json
import logging

import psycopg
import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client

from config.wsgi import application, django_application
from layers import map_pass, pass_front, tile_views, tiles
from tests.conftest import XINGQING, XIXIA, inside, load_test_regions
from tests.layers import test_tiles
from tests.layers.test_tiles import LAYERS, _SignedLongAgo, covering, tile_of, url

pytestmark = pytest.mark.django_db(transaction=True)

# The tile tests' fixtures: the same rows in two counties, and the MVT decoder.
decode, place, world = test_tiles.decode, test_tiles.place, test_tiles.world

# Added by LocaleMiddleware, which the fast path does not run (see pass_front.SKIPPED).
LOCALE_ONLY = "Accept-Language"


@pytest.fixture(autouse=True)
def regions(transactional_db):
    load_test_regions()  # a transactional test empties the database after it


@pytest.fixture(autouse=True)
def cold_tiles():
    tiles.CACHE.clear()
    yield
    tiles.CACHE.clear()


class Reached:
    """Django's handler, noting each request that got past the fast path."""

    def __init__(self):
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        self.paths.append(environ["PATH_INFO"])
        return django_application(environ, start_response)


@pytest.fixture
def django_reached():
    reached = Reached()
    return pass_front.PassFront(reached), reached


def call(app, path: str, method: str = "GET", **headers) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) from a WSGI application, as gunicorn would get them."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        # WSGI carries the path as bytes read as Latin-1 (PEP 3333), as a server passes it.
        "PATH_INFO": path.encode().decode("iso-8859-1"),
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        **headers,
    }
    started = []
    chunks = application_output = app(
        environ, lambda status, pairs: started.append((status, pairs))
    )
    body = b"".join(chunks)
    if hasattr(application_output, "close"):
        application_output.close()  # as a server does: Django's request_finished comes with it
    status, pairs = started[0]
    assert len({name.lower() for name, _ in pairs}) == len(pairs)  # no header twice
    return int(status.split()[0]), dict(pairs), body


def same_answer(
    path: str, apps=(application, django_application), **headers
) -> tuple[int, dict, bytes]:
    """Both answers to a cold tile, compared; the fast path's returned."""
    tiles.CACHE.clear()
    fast = call(apps[0], path, **headers)
    tiles.CACHE.clear()
    slow = call(apps[1], path, **headers)
    assert fast[:1] == slow[:1], (path, fast, slow)
    assert fast[2] == slow[2], path  # byte for byte
    expected = dict(slow[1])
    expected.pop("Content-Language", None)
    vary = [v for v in expected.pop("Vary", "").split(", ") if v not in ("", LOCALE_ONLY)]
    if vary:
        expected["Vary"] = ", ".join(vary)
    assert fast[1] == expected, path
    return fast


def pass_of(user) -> dict[str, str]:
    return {"HTTP_X_MAP_PASS": map_pass.issue(user)["token"]}


def mvt_ids(decode, body: bytes, layer: str) -> set[int]:
    return {f["properties"]["id"] for f in decode(body).get(layer, {}).get("features", [])}


def mvt_count(decode, body: bytes, layer: str) -> int:
    return sum(f["properties"]["count"] for f in decode(body).get(layer, {}).get("features", []))


# --------------------------------------------------------------------------- same answers


def test_tiles_are_the_views_byte_for_byte(users, world, django_reached, monkeypatch):
    fast, reached = django_reached
    points = list(world["equipment"]["mine"].values()) + list(world["equipment"]["theirs"].values())
    headers = pass_of(users["city"])
    answers = []
    for layer in LAYERS:
        for z in (6, 11, 14):
            for x, y in sorted(covering(points, z)):
                answers.append(same_answer(url(layer, z, x, y), **headers))
                answers.append(same_answer(url(layer, z, x, y, region=XINGQING), **headers))
    assert {status for status, _, _ in answers} == {200}
    assert sum(1 for _, _, body in answers if body) > len(answers) // 2  # tiles with rows, mostly
    _, sample, _ = answers[0]
    assert sample["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert sample["Cache-Control"] == f"private, max-age={tile_views.CLIENT_MAX_AGE}"
    assert sample["Vary"] == "Cookie, X-Map-Pass"
    assert int(sample["X-Tile-Rows"]) > 0
    # The security headers Django's middleware adds, and no cookie.
    assert sample["X-Content-Type-Options"] == "nosniff"
    assert sample["X-Frame-Options"] == "DENY"
    assert sample["Referrer-Policy"] == "same-origin"
    assert "Set-Cookie" not in sample
    # An empty tile: the view's 200 with an empty body.
    status, empty, body = same_answer(url("equipment", 14, 0, 0), **headers)
    assert (status, body, empty["X-Tile-Rows"], empty["Content-Length"]) == (200, b"", "0", "0")
    # The feature cap's header.
    monkeypatch.setattr(tiles, "MAX_FEATURES", 2)
    [(x, y), *_] = sorted(covering(points, 14))
    _, capped, _ = same_answer(url("equipment", 14, x, y), **headers)
    assert capped["X-Tile-Capped"] == "true"
    # And all of them were answered in front of Django.
    call(fast, url("equipment", 6, *tile_of(points[0].x, points[0].y, 6)), **headers)
    assert reached.paths == []


BAD_INPUT = [
    (url("nosuchlayer", 0, 0, 0), "layer"),
    (url("equipment", 23, 0, 0), "z"),
    (url("equipment", "-1", 0, 0), "z"),
    (url("equipment", "a", 0, 0), "z"),
    (url("equipment", "²", 0, 0), "z"),
    (url("equipment", 3, 8, 0), "x"),
    (url("equipment", 3, "1e3", 0), "x"),
    (url("equipment", 0, 0, "9" * 5000), "y"),
    (url("equipment", 3, 0, 8), "y"),
    (url("equipment", 3, 0, 0, colour="red"), "colour"),
    (url("equipment", 3, 0, 0, kind="3100"), "kind"),
    (url("equipment", 3, 0, 0, bbox="0,0,1,1"), "bbox"),
    (url("equipment", 3, 0, 0, **{"from": "2024-13-01"}), "from"),
    (url("accidents", 3, 0, 0, window="2w"), "window"),
    (url("equipment", 3, 0, 0, kind="3000") + "&kind=4000", "kind"),
    (url("equipment", 3, 0, 0, region="%E4%B8%AD"), "region"),
]


def test_bad_input_is_the_views_400(users, django_reached):
    fast, reached = django_reached
    headers = pass_of(users["xingqing"])
    for path, param in BAD_INPUT:
        status, answer, body = same_answer(path, **headers)
        assert status == 400, path
        assert param in json.loads(body)["errors"], path
        assert answer["Content-Type"] == "application/json"
        assert answer["X-Content-Type-Options"] == "nosniff"
        call(fast, path, **headers)
    assert reached.paths == []


def test_a_refused_pass_is_left_to_the_views_401(users, django_reached):
    fast, reached = django_reached
    token = map_pass.issue(users["xingqing"])["token"]
    expired = _SignedLongAgo(salt=map_pass._SALT).sign_object({"u": 1, "p": XINGQING})
    refusals = {
        "tampered": token[:-2] + ("aa" if not token.endswith("aa") else "bb"),
        "garbage": "not-a-pass",
        "other salt": map_pass.signing.TimestampSigner(salt="other").sign_object({"u": 1, "p": ""}),
        "empty": "",
        "expired": expired,
    }
    path = url("equipment", 6, 50, 24)
    for name, forged in refusals.items():
        status, _, body = answer = call(application, path, HTTP_X_MAP_PASS=forged)
        assert answer == call(django_application, path, HTTP_X_MAP_PASS=forged)  # Django's
        assert status == 401, name
        message = json.loads(body)["errors"]["pass"]
        assert ("expired" if name == "expired" else "not valid") in message, name
    call(fast, path, HTTP_X_MAP_PASS="not-a-pass")
    assert reached.paths == [path]  # the view refuses it: one answer, Django's


def test_everything_else_is_handed_to_django(users, world, django_reached):
    fast, reached = django_reached
    headers = pass_of(users["xingqing"])
    tile = url("equipment", 6, 50, 24)
    client = Client()
    client.force_login(users["xingqing"])
    session = {"HTTP_COOKIE": f"sessionid={client.cookies['sessionid'].value}"}
    handed = [
        (tile, "HEAD", headers, 405),  # the view is GET only
        (tile, "POST", headers, 403),  # CSRF refuses it first
        (tile, "GET", session, 200),  # no pass: the session decides, in Django
        (tile, "GET", {**headers, "HTTP_HOST": "evil.example"}, 400),  # ALLOWED_HOSTS
        ("/tiles/equipment/count", "GET", headers, 200),  # counts are Django's
        ("/tiles/layers.json", "GET", headers, 403),
        ("/tiles/equipment/6/50/24.png", "GET", headers, 404),
    ]
    for path, method, extra, expected in handed:
        status, answer, body = call(fast, path, method=method, **extra)
        assert reached.paths[-1:] == [path], (path, method)
        assert status == expected, (path, method, body[:200])
        assert (status, body) == call(django_application, path, method=method, **extra)[::2]
    # The session path still reads (and may set) its cookie, in Django; the fast path never does.
    assert SESSION_KEY in client.session


def test_the_served_application_is_the_fast_path_in_front_of_django(settings, users, world):
    assert isinstance(application, pass_front.PassFront)
    assert application.django is django_application
    # Django's security middleware is applied from the settings, as Django's handler does: HSTS
    # over HTTPS when configured (both read the settings when they are built).
    settings.SECURE_HSTS_SECONDS = 3600
    apps = (pass_front.PassFront(WSGIHandler()), WSGIHandler())
    headers = {**pass_of(users["xingqing"]), "wsgi.url_scheme": "https", "SERVER_PORT": "443"}
    _, answer, _ = same_answer(url("equipment", 6, 50, 24), apps=apps, **headers)
    assert answer["Strict-Transport-Security"] == "max-age=3600"
    # A middleware nobody has classified stops start-up instead of being skipped unseen.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with pytest.raises(ImproperlyConfigured, match="GZipMiddleware"):
        pass_front.PassFront(django_application)


# --------------------------------------------------------------------------- scope


def test_a_county_pass_reads_only_its_county(users, decode, world):
    for layer in LAYERS:
        mine, theirs = world[layer]["mine"], world[layer]["theirs"]
        points = list(mine.values()) + list(theirs.values())
        for credential, expected in (("city", {**mine, **theirs}), ("xingqing", mine)):
            headers = pass_of(users[credential])
            # Cached tiles are kept: the city's must not be served to the county (key: its prefix).
            total = sum(
                mvt_count(decode, call(application, url(layer, 8, x, y), **headers)[2], layer)
                for x, y in covering(points, 8)
            )
            assert total == len(expected), (layer, credential)
            seen = set()
            for x, y in covering(points, 15):
                seen |= mvt_ids(
                    decode, call(application, url(layer, 15, x, y), **headers)[2], layer
                )
            assert seen == set(expected), (layer, credential)
        # Another county's region filter is nothing; a wider prefix is never wider.
        headers = pass_of(users["xingqing"])
        [(x, y)] = covering(points, 8)
        narrowed = call(application, url(layer, 8, x, y, region=XIXIA), **headers)
        assert (narrowed[0], narrowed[2]) == (200, b"")
        widened = call(application, url(layer, 8, x, y, region="64"), **headers)[2]
        assert mvt_count(decode, widened, layer) == len(mine)


# --------------------------------------------------------------------------- connections, errors


def checked_out(pool) -> int:
    stats = pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


def test_the_connection_goes_back_to_the_pool(users, world):
    headers = pass_of(users["xingqing"])
    centre = inside(XINGQING)
    pool = connection.pool
    assert pool is not None
    connection.close()
    # Other threads of this process (an earlier live server's) may hold connections of their own.
    elsewhere = checked_out(pool)
    for z in range(3, 17):
        # Cold tiles, more of them than the pool holds: a kept connection would exhaust it.
        tiles.CACHE.clear()
        status, _, _ = call(
            application, url("equipment", z, *tile_of(centre.x, centre.y, z)), **headers
        )
        assert status == 200
        assert connection.connection is None  # this thread's connection was given back
        stats = pool.get_stats()
        assert checked_out(pool) <= elsewhere and stats["pool_size"] <= pool.max_size
        assert stats.get("requests_waiting", 0) == 0


def test_an_error_is_djangos_500_logged_and_undisclosed(users, world, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the secret detail of a failure")

    monkeypatch.setattr(tiles, "render_tile", broken)
    headers = pass_of(users["xingqing"])
    path = url("equipment", 6, 50, 24)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        status, answer, body = same_answer(path, **headers)
    assert status == 500
    assert b"secret" not in body and b"RuntimeError" not in body
    assert "Set-Cookie" not in answer
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert len(logged) == 2  # the fast path's and Django's, each with its traceback
    assert all("the secret detail" in str(r.exc_info[1]) for r in logged)
    assert connection.connection is None


def test_a_broken_connection_is_not_reused(users, world):
    """Connections killed under the pool: requests fail (500) until the pool has dropped them,
    never more requests than the pool holds connections, then tiles come again."""
    headers = pass_of(users["xingqing"])
    centre = inside(XINGQING)
    path = url("equipment", 6, *tile_of(centre.x, centre.y, 6))
    assert call(application, path, **headers)[0] == 200
    held = connection.pool.get_stats()["pool_size"]
    connection.close()  # back to the pool with the others, to be killed with them
    elsewhere = checked_out(connection.pool)
    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"], host=params["HOST"], port=params["PORT"] or None,
        user=params["USER"], password=params["PASSWORD"], autocommit=True,
    ) as outside:  # fmt: skip
        killed = outside.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert killed >= 1
    statuses = []
    for _ in range(held + 2):
        tiles.CACHE.clear()
        statuses.append(call(application, path, **headers)[0])
        if statuses[-1] == 200:
            break
    assert statuses[-1] == 200, statuses
    assert 500 in statuses and set(statuses) <= {200, 500}
    assert len(statuses) <= held + 1  # each dead connection failed once, then was dropped
    assert checked_out(connection.pool) <= elsewhere
