"""config.wsgi served by gunicorn with the production settings (config.settings.prod), as
deployed: a worker keeps its database connection from one request to the next, pass-carrying
tiles answer through it, and a connection the server dropped costs one request, not the worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts import map_pass
from tests.conftest import XINGQING, free_port, inside, load_test_regions
from tests.maps import test_tiles
from tests.maps.test_tiles import tile_of, url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
APPLICATION_NAME = "segis-served-test"
decode, place, world = test_tiles.decode, test_tiles.place, test_tiles.world


@pytest.fixture(autouse=True)
def regions(transactional_db):
    load_test_regions()  # committed, for the server to read


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a production server, its static files collected (the manifest that
    production's storage reads)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": settings.SECRET_KEY,  # passes issued here are honoured there
        "PERSONAL_DATA_KEY": "served-test-personal-data-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(tmp_path_factory.mktemp("static")),
        # Behind no TLS proxy here: plain HTTP is answered, not sent to https.
        "SECURE_SSL_REDIRECT": "false",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    return env


@pytest.fixture
def served(production_env, tmp_path):
    """A gunicorn worker on config.wsgi with the production settings, on the test database."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = free_port()
    env = {
        **production_env,
        "DATABASE_URL": f"postgis://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}?application_name={APPLICATION_NAME}",
    }
    log = tmp_path / "gunicorn.log"  # a file, not a pipe nobody drains
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
             "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert server.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


def get(base: str, path: str, headers: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def server_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
        )
        return [pid for (pid,) in cursor.fetchall()]


def county_tiles() -> list[str]:
    centre = inside(XINGQING)
    return [url("equipment", z, *tile_of(centre.x, centre.y, z)) for z in range(3, 17)]


def test_a_worker_keeps_its_connection_for_pass_carrying_tiles(served, users, world, decode):
    headers = {map_pass.HEADER: map_pass.issue(users["xingqing"])["token"]}
    seen = []
    for path in county_tiles():
        status, body = get(served, path, headers)
        assert status == 200, body[:300]
        seen.append(tuple(server_backends()))
    assert len(set(seen)) == 1 and len(seen[0]) == 1, seen  # one connection, kept throughout
    # The answers are the county's own rows.
    z8 = county_tiles()[5]
    counted = sum(
        f["properties"]["count"]
        for f in decode(get(served, z8, headers)[1])["equipment"]["features"]
    )
    assert counted == len(world["equipment"]["mine"])


def test_a_dropped_connection_is_replaced_before_a_request_uses_it(served, users, world):
    """The pool checks a connection on checkout (CONN_HEALTH_CHECKS): no request sees it dead."""
    headers = {map_pass.HEADER: map_pass.issue(users["xingqing"])["token"]}
    paths = county_tiles()
    assert get(served, paths[0], headers)[0] == 200
    [before] = server_backends()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [before])
    statuses = [get(served, path, headers)[0] for path in paths[1:5]]
    assert statuses == [200, 200, 200, 200], statuses
    [after] = server_backends()
    assert after != before
