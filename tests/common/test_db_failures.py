"""The database under failure (common/db.py, the DATABASES settings) on real PostGIS: statements
bounded and a worker's jobs bounded further, connections the server dropped replaced before use, a
read retried once, and the worker that waits out an outage.

Connections are dropped the way a restart or an administrator drops them: pg_terminate_backend.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.utils import OperationalError
from django.http import HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path, reverse
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from psycopg import sql

from accounts.models import User
from common import db, jobs
from exports.jobs import export_in_background
from exports.models import ExportJob
from registry.management.commands.run_worker import ReconnectingWorker
from tests.conftest import free_port
from tests.maps.test_served import production_env  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
WORKER_APP = "segis-jobs-worker-test"
SERVER_APP = "segis-jobs-served-test"


def terminate_others() -> int:
    """Drop every other connection to the test database, as a server restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def setting_ms(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting::int FROM pg_settings WHERE name = %s", [name])
        return cursor.fetchone()[0]


# --------------------------------------------------------------------------- bounds


@pytest.mark.django_db
def test_every_connection_carries_the_configured_bounds():
    """The suite runs unbounded (config/settings/test.py); each connection carries what is set."""
    assert setting_ms("statement_timeout") == int(settings.DATABASE_STATEMENT_TIMEOUT * 1000)
    idle = setting_ms("idle_in_transaction_session_timeout")
    assert idle == int(settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT * 1000)


def test_the_web_settings_bound_statements_and_idle_transactions():
    """The production and development defaults: 30 s a statement, 60 s idle in a transaction."""
    script = (
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "c.execute(\"SELECT current_setting('statement_timeout'), "
        "current_setting('idle_in_transaction_session_timeout')\")\n"
        "print(*c.fetchone())\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DATABASE_") or k == "DATABASE_URL"
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    code = f"import django; django.setup()\n{script}"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["30s", "1min"]


def test_the_bound_comes_from_the_environment_and_cancels_a_longer_statement():
    """A process started with a 0.2 s bound: its 2 s statement is cancelled, and says so."""
    script = (
        "from django.db import connection\n"
        "from common import db\n"
        "try:\n"
        "    connection.cursor().execute('SELECT pg_sleep(2)')\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, db.statement_cancelled(error), db.timeout_message())\n"
    )
    env = {**os.environ, "DATABASE_STATEMENT_TIMEOUT": "0.2", "DJANGO_SETTINGS_MODULE":
           "config.settings.test"}  # fmt: skip
    done = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    name, cancelled, message = done.stdout.strip().splitlines()[-1].split(" ", 2)
    assert (name, cancelled) == ("OperationalError", "True")
    assert "0.2 秒" in message and "longer than 0.2 s and was cancelled" in message


def slow_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    return HttpResponse("too late")


calls: list[str] = []


def dropping_view(request):
    """Its first run loses its connection mid-request; a second one answers."""
    calls.append(request.method)
    with connection.cursor() as cursor:
        if len(calls) == 1:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        cursor.execute("SELECT count(*) FROM accounts_user")
        return JsonResponse({"users": cursor.fetchone()[0], "runs": len(calls)})


urlpatterns = [path("slow/", slow_view), path("api/slow/", slow_view), path("drop/", dropping_view)]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DATABASE_STATEMENT_TIMEOUT=0.1)
@pytest.mark.parametrize("url", ["/api/slow/", "/slow/"])
def test_a_request_past_the_bound_is_a_503_that_says_so(url):
    with connection.cursor() as cursor:  # the overridden bound, on this (the request's) connection
        cursor.execute("SET LOCAL statement_timeout = 100")
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 503
    if url.startswith("/api/"):
        [problem] = response.json()["errors"]["request"]
        assert problem["rule"] == db.TIMEOUT_RULE and "0.1 s" in problem["message"]
    else:
        assert "longer than 0.1 s and was cancelled" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_job_raises_the_bound_for_its_own_transactions_only():
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 100")  # a tiny request bound on this connection
    try:
        with db.long_statements(statement=30, idle=60):
            with transaction.atomic(), connection.cursor() as cursor:
                # As export_layer opens its snapshot: allowed after the bounds are set.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_sleep(0.5)")
                cursor.execute("SHOW statement_timeout")
                assert cursor.fetchone()[0] == "30s"
                assert db.statement_bound() == 30
            # Outside a transaction a statement keeps the connection's bound.
            with pytest.raises(OperationalError) as outside, connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.5)")
            assert db.statement_cancelled(outside.value)
        # After the block, a transaction is bounded as a request's.
        with pytest.raises(OperationalError) as after, transaction.atomic():
            connection.cursor().execute("SELECT pg_sleep(0.5)")
        assert db.statement_cancelled(after.value)
        assert db.statement_bound() == settings.DATABASE_STATEMENT_TIMEOUT
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


# --------------------------------------------------------------------------- dropped connections


@pytest.fixture
def signed_in(transactional_db) -> tuple[User, str]:
    user = User.objects.create_user("db-failures", password="pw-for-tests")
    client = Client()
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


def get(base: str, url: str, session: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        base + url, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_a_request_after_the_server_dropped_its_connections_answers(live_server, signed_in):
    """The served app's pooled connections are all dropped between two requests: the next one is
    checked out, found dead and replaced, and the request answers as before."""
    user, session = signed_in
    job = ExportJob.objects.create(requester=user, parameters={}, estimate=0, state="failed")
    url = reverse("export-job", args=[job.pk])
    assert get(live_server.url, url, session)[0] == 200
    assert terminate_others() >= 1  # the server's connection, back in its pool
    for _ in range(3):
        status, body = get(live_server.url, url, session)
        assert status == 200, body[:500]


@pytest.mark.django_db(transaction=True)
def test_a_pool_whose_connections_the_server_all_dropped_gives_a_live_one():
    """After a restart every pooled connection is dead. Tried one by one, with psycopg_pool's
    back-off of 1, 2, 4, 8 s between them, six would outlast the pool's 10 s timeout; the first
    dead one found sends the pool through all the others at once (common/postgis/base.py)."""
    connection.ensure_connection()  # this test's own, which terminate_others spares
    pool = connection.pool
    idle = [pool.getconn() for _ in range(6)]
    for pooled in idle:
        pool.putconn(pooled)
    assert terminate_others() >= 6
    pooled = pool.getconn()
    try:
        assert pooled.execute("SELECT 1").fetchone() == (1,)
        assert pooled not in idle
    finally:
        pool.putconn(pooled)


@pytest.fixture
def production_server(production_env, tmp_path, transactional_db):  # noqa: F811
    """gunicorn on config.wsgi with the production settings, whose worker keeps its connection
    from one request to the next (CONN_MAX_AGE, no pool), on the test database over plain HTTP."""
    port = free_port()
    env = {
        **production_env,
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP here, no proxy in front
        "SEGIS_REQUIRE_OTP": "false",
        "DATABASE_URL": f"{_database_url()}?application_name={SERVER_APP}",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
             "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
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
    print(log.read_text()[-3000:])  # shown when the test failed


def server_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [SERVER_APP])
        return [pid for (pid,) in cursor.fetchall()]


def test_a_kept_connection_the_server_dropped_is_replaced_before_the_next_request(
    production_server, signed_in
):
    """Production keeps a connection per gunicorn worker: dropped between two requests, it is
    found dead by the health check at the next one's first query and replaced; none fails."""
    user, session = signed_in
    job = ExportJob.objects.create(requester=user, parameters={}, estimate=0, state="failed")
    url = reverse("export-job", args=[job.pk])
    status, body = get(production_server, url, session)
    assert status == 200, body[:500]
    [before] = server_backends()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [before])
    statuses = [get(production_server, url, session)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert server_backends() != [before]


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_a_read_that_lost_its_connection_runs_once_more():
    calls.clear()
    response = Client().get("/drop/")
    assert response.status_code == 200
    assert response.json() == {"users": User.objects.count(), "runs": 2}
    assert calls == ["GET", "GET"]


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_a_write_that_lost_its_connection_is_not_run_again():
    calls.clear()
    response = Client(raise_request_exception=False).post("/drop/")
    assert response.status_code == 500 and calls == ["POST"]
    close_old_connections()  # as the request's end does outside the test client


# --------------------------------------------------------------------------- the worker


def _database_url() -> str:
    db_settings = connection.settings_dict
    password = f":{db_settings['PASSWORD']}" if db_settings.get("PASSWORD") else ""
    return (
        f"postgis://{db_settings['USER']}{password}@{db_settings['HOST'] or '127.0.0.1'}:"
        f"{db_settings['PORT'] or 5432}/{db_settings['NAME']}"
    )


def _read_until(process: subprocess.Popen, text: bytes, timeout: float = 90) -> bytes:
    deadline, seen = time.monotonic() + timeout, b""
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {text!r} in {seen.decode()!r}"
        if select.select([process.stderr], [], [], left)[0]:
            chunk = os.read(process.stderr.fileno(), 4096)
            assert chunk, f"the process ended before writing {text!r}: {seen.decode()!r}"
            seen += chunk
    return seen


def _wait_for(condition, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _queued_export(user: User) -> ExportJob:
    """A job the worker runs to a quick end: its requester has no jurisdiction, so it fails."""
    job = ExportJob.objects.create(requester=user, parameters={"layer": "nope"}, estimate=0)
    jobs.enqueue(job, export_in_background, job.pk)
    return job


def _allow_connections(allowed: bool) -> None:
    """Let the test database take new connections, or refuse them (as a server going down does);
    said from the server's maintenance database, as it cannot be said from inside."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as maintenance:
        maintenance.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(settings_dict["NAME"]), sql.SQL("true" if allowed else "false")
            )
        )


@pytest.mark.django_db(transaction=True)
def test_the_worker_waits_out_an_outage_and_runs_the_next_job():
    """`manage.py run_worker`: its connection dropped and new ones refused for a while, it keeps
    trying; once the database takes connections again it runs the next job."""
    user = User.objects.create_user("worker-outage", password="pw-for-tests")
    env = {**os.environ, "DATABASE_URL": _database_url(), "PGAPPNAME": WORKER_APP,
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--no-reload", "--no-startup-delay",
         "--interval", "0.2", "--retry-max", "1", "--verbosity", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        first = _queued_export(user)
        _wait_for(lambda: ExportJob.objects.get(pk=first.pk).state == "failed", what="a first job")
        _allow_connections(False)
        try:
            terminate_others()
            _read_until(worker, b"database unavailable")
            _read_until(worker, b"database unavailable")  # and it tried again
            assert worker.poll() is None
        finally:
            _allow_connections(True)
        second = _queued_export(user)
        _wait_for(lambda: ExportJob.objects.get(pk=second.pk).state == "failed", what="the job")
        second.refresh_from_db()
        assert "jurisdiction" in second.error and second.worker.endswith(f":{worker.pid}")
    finally:
        worker.terminate()
        worker.communicate(timeout=30)


@pytest.mark.django_db
def test_the_task_an_outage_cut_off_is_recorded_as_failed_when_the_database_is_back():
    user = User.objects.create_user("worker-cut-off", password="pw-for-tests")
    mine, theirs = _queued_export(user), _queued_export(user)
    for job, worker_id in [(mine, "worker-1"), (theirs, "worker-2")]:
        DBTaskResult.objects.filter(id=job.task_id).update(
            status=TaskResultStatus.RUNNING, worker_ids=[worker_id]
        )
    worker = ReconnectingWorker(queue_names=["default"], interval=0, batch=True,
                                backend_name="default", startup_delay=False, max_tasks=None,
                                worker_id="worker-1", excluded_queue_names=[])  # fmt: skip
    assert worker.fail_interrupted(OperationalError("server closed the connection")) == 1
    cut_off = DBTaskResult.objects.get(id=mine.task_id)
    assert cut_off.status == TaskResultStatus.FAILED
    assert cut_off.exception_class_path == "django.db.utils.OperationalError"
    assert DBTaskResult.objects.get(id=theirs.task_id).status == TaskResultStatus.RUNNING
