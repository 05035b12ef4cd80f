"""API tokens (accounts.tokens) and the token page (/accounts/token/): issuing replaces, the audit
trail records it without the key, and the page tells a user how to connect their GIS."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.models import AuditEntry
from accounts.tokens import issue_api_token

pytestmark = pytest.mark.django_db

PAGE = "/accounts/token/"
OGC = "/ogcapi/collections"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_key(client: Client) -> str | None:
    found = re.search(r'id="api-token">([0-9a-f]{40})<', client.get(PAGE).content.decode())
    return found[1] if found else None


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(PAGE).status_code == 302
    assert not Token.objects.exists()


def test_a_user_creates_a_token_and_it_opens_the_ogc_api(users):
    client = signed_in(users["xingqing"])
    assert shown_key(client) is None
    assert "您还没有令牌" in client.get(PAGE).content.decode()
    response = client.post(PAGE)
    assert response.status_code == 302 and response["Location"] == PAGE
    key = shown_key(client)
    assert key == Token.objects.get(user=users["xingqing"]).key
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get(OGC).status_code == 200


def test_replacing_the_token_stops_the_old_one(users):
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    old = shown_key(client)
    client.post(PAGE)
    new = shown_key(client)
    assert new != old
    assert Token.objects.filter(user=users["xingqing"]).count() == 1
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
    key = shown_key(client)
    assert "http://testserver/ogcapi<" in text  # the service URL, without a trailing slash
    assert "API Header" in text and "Authorization" in text  # QGIS
    assert "ArcGIS Pro" in text and "<code>xingqing</code>" in text  # user name + token
    assert f'GDAL_HTTP_HEADERS "Authorization: Token {key}"' in text
    assert "no-store" in response["Cache-Control"]


def test_each_user_sees_only_their_own_token(users):
    issue_api_token(users["xixia"])
    client = signed_in(users["xingqing"])
    client.post(PAGE)
    text = client.get(PAGE).content.decode()
    assert Token.objects.get(user=users["xixia"]).key not in text


def test_the_header_links_the_page(users):
    text = signed_in(users["xingqing"]).get("/").content.decode()
    assert f'href="{PAGE}"' in text


def test_drf_token_admin_is_not_offered(users):
    """It would list every user's key in clear; tokens are their owners' business."""
    admin = users["national"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    issue_api_token(users["xingqing"])
    response = signed_in(admin).get("/admin/authtoken/tokenproxy/")
    assert response.status_code == 404
