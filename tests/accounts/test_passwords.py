"""The password policy (accounts/passwords.py, AUTH_PASSWORD_VALIDATORS) and its expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.demo import DEMO_PASSWORD
from accounts.models import AuditEntry, PasswordHistory

pytestmark = pytest.mark.django_db


def refusals(password: str, user=None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("county123", {"password_too_short", "password_too_simple"}),  # the example
        ("abcdefghijkl", {"password_too_simple"}),  # one class
        ("abcdefgh1234", {"password_too_simple"}),  # two classes
        ("Abc-12", {"password_too_short"}),  # three classes, six characters
        ("abcdefgh-1234", set()),  # lower, digit, symbol
        ("Abcdefgh1234", set()),  # upper, lower, digit
        ("巡查员密码abcd1234", set()),  # Chinese characters count as symbols
        (DEMO_PASSWORD, set()),  # the demo accounts' password still passes
    ],
)
def test_length_and_character_classes(password, codes):
    assert refusals(password) == codes


def test_the_last_five_passwords_are_refused(users):
    user = users["xingqing"]
    used = [f"Segis-pass-{n:02d}" for n in range(6)]
    for password in used:
        user.set_password(password)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 5
    for recent in used[1:]:
        assert refusals(recent, user) == {"password_reused"}
    assert refusals(used[0], user) == set()  # six changes ago: allowed again
    assert refusals(used[1], users["xixia"]) == set()  # another user's history is theirs


def test_setting_a_password_restarts_its_clock(users):
    user = users["xingqing"]
    user.password_changed_at = timezone.now() - dt.timedelta(days=200)
    user.save()
    user.set_password("Segis-pass-new")
    user.save()
    user.refresh_from_db()
    assert timezone.now() - user.password_changed_at < dt.timedelta(minutes=1)


def expire(user, days: int = 91) -> None:
    user.password_changed_at = timezone.now() - dt.timedelta(days=days)
    user.save(update_fields=["password_changed_at"])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_expired_password_leads_to_the_change_page(users):
    expire(users["xingqing"])
    client = signed_in(users["xingqing"])
    response = client.get("/map/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/?next=%2Fmap%2F"
    assert client.get("/accounts/password/").status_code == 200


def test_an_api_call_with_an_expired_password_is_a_403_naming_it(users):
    expire(users["xingqing"])
    response = signed_in(users["xingqing"]).get("/api/equipment/")
    assert response.status_code == 403
    assert response.json()["errors"]["password"][0]["rule"] == "password_expired"


def test_changing_the_password_lets_the_user_in_again(users):
    expire(users["xingqing"])
    client = signed_in(users["xingqing"])
    weak = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-for-tests",
            "new_password1": "county123",
            "new_password2": "county123",
        },
    )
    assert weak.status_code == 200 and "至少 3 类" in weak.content.decode()
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-for-tests",
            "new_password1": "Xingqing-2026!",
            "new_password2": "Xingqing-2026!",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    assert client.get("/map/").status_code == 200
    assert AuditEntry.objects.filter(action="password.changed", actor=users["xingqing"]).exists()


def test_a_young_password_or_expiry_turned_off_lets_the_user_through(users, settings):
    expire(users["xingqing"], days=89)
    client = signed_in(users["xingqing"])
    assert client.get("/map/").status_code == 200
    expire(users["xingqing"], days=400)
    settings.SEGIS_PASSWORD_MAX_AGE = dt.timedelta(0)
    assert client.get("/map/").status_code == 200
