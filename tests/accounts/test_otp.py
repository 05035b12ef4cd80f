"""The TOTP second factor (django-otp): required, when SEGIS_REQUIRE_OTP is on, of administrators
and national and provincial accounts; enrolled with a QR code, verified after each sign-in. Codes
are computed here from RFC 6238, not by django-otp."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEntry
from accounts.tokens import issue_api_token

pytestmark = [
    pytest.mark.django_db,
]

SETUP, VERIFY = "/accounts/otp/setup/", "/accounts/otp/verify/"


def totp(key: bytes, at: float) -> str:
    """RFC 6238 with its defaults: HMAC-SHA1, 30-second steps, 6 digits."""
    mac = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6:06d}"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def enrol(client: Client) -> bytes:
    """Read the key off the setup page as a user's app would, and confirm it with a code."""
    page = client.get(SETUP).content.decode()
    assert "<svg" in page  # the QR code, inline
    key = base64.b32decode(re.search(r'id="otp-secret">([A-Z2-7=]+)<', page)[1])
    response = client.post(SETUP, {"code": totp(key, time.time()), "next": "/map/"})
    assert response.status_code == 302 and response["Location"] == "/map/"
    return key


@override_settings(SEGIS_REQUIRE_OTP=True)
@pytest.mark.parametrize("who", ["national", "province"])
def test_national_and_provincial_accounts_must_enrol(users, who):
    client = signed_in(users[who])
    response = client.get("/map/")
    assert response.status_code == 302 and response["Location"] == f"{SETUP}?next=%2Fmap%2F"
    enrol(client)
    assert client.get("/map/").status_code == 200
    assert TOTPDevice.objects.get(user=users[who]).confirmed


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_a_system_administrator_of_a_county_must_too(users):
    users["xixia"].role = "admin"
    users["xixia"].save()
    assert signed_in(users["xixia"]).get("/map/").status_code == 302


@override_settings(SEGIS_REQUIRE_OTP=True)
@pytest.mark.parametrize("who", ["city", "xingqing"])
def test_city_and_county_staff_are_not_asked(users, who):
    assert signed_in(users[who]).get("/map/").status_code == 200


def test_nobody_is_asked_when_the_setting_is_off(users):
    assert signed_in(users["national"]).get("/map/").status_code == 200


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_each_sign_in_asks_for_a_code(users):
    key = enrol(signed_in(users["national"]))
    client = signed_in(users["national"])  # a new session
    response = client.get("/map/")
    assert response.status_code == 302 and response["Location"] == f"{VERIFY}?next=%2Fmap%2F"
    wrong = client.post(VERIFY, {"code": "000000" if totp(key, time.time()) != "000000" else "1"})
    assert wrong.status_code == 400 and "动态口令不正确" in wrong.content.decode()
    assert AuditEntry.objects.filter(action="otp.failed", actor=users["national"]).count() == 1
    # The failure throttles the device for a second (django-otp); that is not under test here.
    TOTPDevice.objects.update(throttling_failure_timestamp=None, throttling_failure_count=0)
    # The next step's code: the enrolment used this step's, and a code is good once.
    right = client.post(VERIFY, {"code": totp(key, time.time() + 30), "next": "/map/"})
    assert right.status_code == 302 and right["Location"] == "/map/"
    assert client.get("/map/").status_code == 200


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_a_wrong_code_does_not_enrol(users):
    client = signed_in(users["national"])
    client.get(SETUP)
    assert client.post(SETUP, {"code": "12345"}).status_code == 400
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get("/map/").status_code == 302


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_verify_does_not_send_elsewhere_than_this_site(users):
    key = enrol(signed_in(users["national"]))
    client = signed_in(users["national"])
    response = client.post(
        VERIFY, {"code": totp(key, time.time() + 30), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_the_api_answers_403_naming_the_second_factor(users):
    response = signed_in(users["national"]).get("/api/equipment/")
    assert response.status_code == 403
    assert response.json()["errors"]["otp"][0]["rule"] == "otp_required"


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_api_tokens_are_not_asked_for_a_code(users):
    key = issue_api_token(users["national"]).key
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/ogcapi/collections").status_code == 200


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_an_administrator_resets_a_lost_phone(users):
    enrol(signed_in(users["province"]))
    admin = users["national"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    desk = signed_in(admin)
    enrol(desk)
    desk.post(
        "/admin/accounts/user/",
        {"action": "reset_second_factor", "_selected_action": [users["province"].pk]},
    )
    assert not TOTPDevice.objects.filter(user=users["province"]).exists()
    assert TOTPDevice.objects.filter(user=admin).exists()
    assert AuditEntry.objects.filter(action="user.otp_reset", actor=admin).exists()
    response = signed_in(users["province"]).get("/map/")
    assert response["Location"].startswith(SETUP)  # enrols again


@override_settings(SEGIS_REQUIRE_OTP=True)
def test_signing_in_with_the_password_alone_reaches_only_the_second_step(users):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "national", "password": "pw-for-tests", "next": "/map/"}
    )
    assert response.status_code == 302 and response["Location"] == "/map/"
    assert client.get("/map/")["Location"] == f"{SETUP}?next=%2Fmap%2F"
    assert client.get("/accounts/token/")["Location"].startswith(SETUP)  # no token without it
