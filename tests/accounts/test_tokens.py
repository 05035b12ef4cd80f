"""API tokens (accounts.tokens) and the token page (/accounts/token/): issuing replaces, only a
digest is stored and the key is shown once, tokens expire and can be revoked, the audit trail
records it without the key, and the page tells a user how to connect their GIS."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, AuditEntry
from accounts.tokens import issue_api_token

pytestmark = pytest.mark.django_db

PAGE = "/accounts/token/"
OGC = "/ogcapi/collections"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def key_in(text: str) -> str | None:
    found = re.search(r'id="api-token">([0-9a-f]{40})<', text)
    return found[1] if found else None


def shown_key(client: Client) -> str | None:
    return key_in(client.get(PAGE).content.decode())


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(PAGE).status_code == 302
    assert not ApiToken.objects.exists()


def test_a_user_creates_a_token_and_it_opens_the_ogc_api(users):
    client = signed_in(users["xingqing"])
    assert shown_key(client) is None
    assert "您还没有令牌" in client.get(PAGE).content.decode()
    response = client.post(PAGE)
    assert response.status_code == 302 and response["Location"] == PAGE
    key = shown_key(client)
    assert ApiToken.objects.get(user=users["xingqing"]).digest == sha256(key)
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get(OGC).status_code == 200


def test_replacing_the_token_stops_the_old_one(users):
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    old = shown_key(client)
    client.post(PAGE)
    new = shown_key(client)
    assert new != old
    assert ApiToken.objects.usable().filter(user=users["xingqing"]).count() == 1
    assert Client(HTTP_AUTHORIZATION=f"Token {old}").get(OGC).status_code == 401
    assert Client(HTTP_AUTHORIZATION=f"Token {new}").get(OGC).status_code == 200


def test_issuing_is_audited_without_the_key(users):
    user = users["xingqing"]
    key = issue_api_token(user).key
    entry = AuditEntry.objects.get(action="api_token.issued")
    assert entry.actor == user and entry.object_pk == str(user.pk)
    assert entry.region_code == "640104"
    assert key not in repr((entry.before, entry.after))


def test_the_page_explains_qgis_arcgis_and_gdal(users):
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    response = client.get(PAGE)
    text = response.content.decode()
    key = key_in(text)
    assert "http://testserver/ogcapi<" in text  # the service URL, without a trailing slash
    assert "方法 “Basic”" in text  # QGIS 3.22: user name + token
    assert "ArcGIS Pro" in text and "<code>xingqing</code>" in text  # user name + token
    assert f'GDAL_HTTP_HEADERS "Authorization: Token {key}"' in text
    assert "no-store" in response["Cache-Control"]


def test_each_user_sees_only_their_own_token(users):
    theirs = issue_api_token(users["xixia"]).key
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    text = client.get(PAGE).content.decode()
    assert key_in(text) and theirs not in text


def test_the_header_links_the_page(users):
    text = signed_in(users["xingqing"]).get("/").content.decode()
    assert f'href="{PAGE}"' in text


@pytest.mark.parametrize(
    "path",
    ["/admin/authtoken/tokenproxy/", "/admin/accounts/apitoken/", "/admin/otp_totp/totpdevice/"],
)
def test_no_admin_lists_every_users_credentials(users, path):
    """Tokens and second factors are their owners' business (the user admin revokes or resets)."""
    admin = users["national"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    issue_api_token(users["xingqing"])
    assert signed_in(admin).get(path).status_code == 404


def test_only_the_digest_is_stored(users):
    key = issue_api_token(users["xingqing"]).key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = repr(cursor.fetchall())
    assert key not in stored and sha256(key) in stored


def test_the_key_is_shown_once(users):
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    assert shown_key(client) is not None
    text = client.get(PAGE).content.decode()
    assert key_in(text) is None and 'id="token-dates"' in text


def test_a_token_expires_after_the_configured_days(users, settings):
    settings.SEGIS_API_TOKEN_DAYS = 90
    token = issue_api_token(users["xingqing"])
    lifetime = token.expires_at - timezone.now()
    assert dt.timedelta(days=89, hours=23) < lifetime <= dt.timedelta(days=90)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = Client(HTTP_AUTHORIZATION=f"Token {token.key}").get(OGC)
    assert response.status_code == 401
    assert "过期" in response.json()["errors"]["token"][0]["message"]


def test_the_owner_revokes_the_token_on_the_page(users):
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    key = shown_key(client)
    response = client.post(PAGE, {"action": "revoke"})
    assert response.status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get(OGC).status_code == 401
    assert "no-token" in client.get(PAGE).content.decode()
    entry = AuditEntry.objects.get(action="api_token.revoked")
    assert entry.actor == users["xingqing"] and key not in repr(entry.after)


def test_basic_authentication_with_the_token_still_works(users):
    key = issue_api_token(users["xingqing"]).key
    basic = base64.b64encode(f"xingqing:{key}".encode()).decode()
    assert Client(HTTP_AUTHORIZATION=f"Basic {basic}").get(OGC).status_code == 200
    wrong = base64.b64encode(f"xixia:{key}".encode()).decode()
    assert Client(HTTP_AUTHORIZATION=f"Basic {wrong}").get(OGC).status_code == 401


def test_a_deactivated_users_token_stops(users):
    key = issue_api_token(users["xingqing"]).key
    users["xingqing"].is_active = False
    users["xingqing"].save()
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get(OGC).status_code == 401
