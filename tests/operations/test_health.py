"""/healthz and /readyz: open to anyone, a status code and one word, no session; readiness fails
on each thing it checks (a worker connected, room for exports) and says which only in the log."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from operations import health, pg

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_connected():
    """A connection named as the worker's are (manage.py sets PGAPPNAME for run_worker)."""
    with pg.connect(
        connection.settings_dict["NAME"], application_name=health.WORKER_APPLICATION_NAME
    ):
        yield


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.READY_MIN_FREE_EXPORT_BYTES = 1
    return settings


def test_the_probes_have_their_addresses():
    assert (reverse("healthz"), reverse("readyz")) == ("/healthz", "/readyz")


def test_liveness_is_ok_and_touches_no_database(client, users, django_assert_num_queries):
    client.force_login(users["xingqing"])  # a session cookie is neither read nor renewed
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert response["Cache-Control"] == "no-store"
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_ready_when_everything_is(client, worker_connected, exports_dir):
    response = client.get("/readyz")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert "Set-Cookie" not in response


def test_not_ready_without_a_worker_and_only_the_log_says_why(client, exports_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="operations.health"):
        response = client.get("/readyz")
    assert (response.status_code, response.content) == (503, b"unavailable\n")
    assert "worker not ready" in caplog.text


def test_not_required_worker_is_not_checked(client, exports_dir):
    exports_dir.READY_REQUIRES_WORKER = False
    assert client.get("/readyz").status_code == 200


def test_not_ready_without_room_for_exports(client, worker_connected, exports_dir, caplog):
    exports_dir.READY_MIN_FREE_EXPORT_BYTES = 1 << 62  # more than any disk has
    with caplog.at_level(logging.WARNING, logger="operations.health"):
        assert client.get("/readyz").status_code == 503
    assert "export_space not ready" in caplog.text


def test_not_ready_when_the_export_directory_cannot_be_made(
    client, worker_connected, settings, tmp_path
):
    (tmp_path / "file").write_text("x")
    settings.EXPORT_ROOT = tmp_path / "file" / "exports"  # under a file: mkdir fails
    assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_write_nothing(client, path):
    assert client.post(path).status_code == 405


def test_the_probes_skip_the_https_redirect_and_the_host_check(
    client, settings, worker_connected, exports_dir
):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["segis.example.gov.cn"]
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert (
        client.get("/", HTTP_HOST="segis.example.gov.cn").status_code == 301
    )  # the rest is redirected


def test_a_primary_is_not_taken_for_a_replica():
    # The lag query on a server that is no standby says so (None): such an alias is not ready.
    assert health.replica_lag("default") is None


@pytest.mark.parametrize(
    ("method", "path", "reads_late"),
    [
        ("GET", "/tiles/equipment/10/1/1.pbf", True),
        ("HEAD", "/ogcapi/collections", True),
        ("POST", "/tiles/equipment/10/1/1.pbf", False),  # a write never
        ("GET", "/registry/equipment/1/", False),  # a page that may read its own writes
    ],
)
def test_only_read_only_surfaces_may_read_from_a_replica(rf, method, path, reads_late):
    from operations import replicas

    seen = []
    middleware = replicas.ReplicaReadsMiddleware(
        lambda request: seen.append(replicas.reads_may_lag())
    )
    middleware(rf.generic(method, path))
    assert seen == [reads_late]
    assert replicas.reads_may_lag() is False  # and only for that request
