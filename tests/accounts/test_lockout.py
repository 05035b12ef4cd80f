"""Sign-in throttling (django-axes): wrong passwords lock one username from one address out for
the cool-off, with a bilingual 429; an admin unlocks; every failure and the lockout are audited."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import AuditEntry

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
RIGHT, WRONG = "pw-for-tests", "not-the-password"


def sign_in(client: Client, username: str, password: str, **headers):
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def fail(client: Client, username: str, times: int) -> list[int]:
    return [sign_in(client, username, WRONG).status_code for _ in range(times)]


def test_the_right_password_signs_in(users):
    client = Client()
    assert sign_in(client, "xingqing", RIGHT).status_code == 302
    assert signed_in(client)


def test_after_the_limit_even_the_right_password_is_refused(users, settings):
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    # The form again with its error, until the failure that reaches the limit.
    assert fail(client, "xingqing", limit) == [200] * (limit - 1) + [429]
    response = sign_in(client, "xingqing", RIGHT)
    assert response.status_code == 429
    text = response.content.decode()
    assert "账号已锁定" in text and "locked for 30 minutes" in text
    assert not signed_in(client)


def test_fewer_failures_than_the_limit_do_not_lock(users, settings):
    client = Client()
    fail(client, "xingqing", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "xingqing", RIGHT).status_code == 302


def test_the_lockout_is_per_username_and_address(users, settings):
    fail(Client(REMOTE_ADDR="10.0.0.1"), "xingqing", settings.AXES_FAILURE_LIMIT)
    assert sign_in(Client(REMOTE_ADDR="10.0.0.1"), "xingqing", RIGHT).status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.0.0.2"), "xingqing", RIGHT).status_code == 302
    assert sign_in(Client(REMOTE_ADDR="10.0.0.1"), "xixia", RIGHT).status_code == 302


def test_the_lock_ends_after_the_cool_off(users, settings):
    client = Client()
    fail(client, "xingqing", settings.AXES_FAILURE_LIMIT)
    assert sign_in(client, "xingqing", RIGHT).status_code == 429
    past = dt.timedelta(minutes=1) + settings.AXES_COOLOFF_TIME
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - past)
    assert sign_in(client, "xingqing", RIGHT).status_code == 302


def test_a_json_client_gets_the_error_envelope(users, settings):
    client = Client()
    fail(client, "xingqing", settings.AXES_FAILURE_LIMIT)
    response = sign_in(client, "xingqing", RIGHT, HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    problem = response.json()["errors"]["username"][0]
    assert problem["rule"] == "locked_out" and " / " in problem["message"]


def test_an_administrator_unlocks_in_the_user_admin(users, settings):
    fail(Client(), "xingqing", settings.AXES_FAILURE_LIMIT)
    admin = users["national"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    desk = Client()
    desk.force_login(admin)
    response = desk.post(
        "/admin/accounts/user/",
        {"action": "unlock_sign_in", "_selected_action": [users["xingqing"].pk]},
    )
    assert response.status_code == 302
    assert sign_in(Client(), "xingqing", RIGHT).status_code == 302
    assert AuditEntry.objects.filter(
        action="user.sign_in_unlocked", object_pk=str(users["xingqing"].pk), actor=admin
    ).exists()


def test_a_county_administrator_cannot_unlock_another_countys_user(users, settings):
    fail(Client(), "xixia", settings.AXES_FAILURE_LIMIT)
    county_admin = users["xingqing"]
    county_admin.is_staff = county_admin.is_superuser = True  # every right, one jurisdiction
    county_admin.save()
    desk = Client()
    desk.force_login(county_admin)
    desk.post(
        "/admin/accounts/user/",
        {"action": "unlock_sign_in", "_selected_action": [users["xixia"].pk]},
    )
    assert sign_in(Client(), "xixia", RIGHT).status_code == 429


def test_failures_and_the_lockout_are_audited_without_the_password(users, settings):
    client = Client()
    fail(client, "xingqing", settings.AXES_FAILURE_LIMIT)
    sign_in(client, "nobody-by-this-name", WRONG)
    failed = AuditEntry.objects.filter(action="login.failed")
    mine = failed.filter(object_pk=str(users["xingqing"].pk))
    assert mine.count() == settings.AXES_FAILURE_LIMIT
    entry = mine.first()
    assert entry.actor is None and entry.region_code == "640104"
    assert entry.after["username"] == "xingqing" and entry.after["ip"] == "127.0.0.1"
    assert failed.filter(object_pk="", after__username="nobody-by-this-name").count() == 1
    assert AuditEntry.objects.filter(action="login.locked_out").count() == 1
    assert all(WRONG not in repr(e.after) for e in AuditEntry.objects.all())
