"""Authorization failures (403 to a signed-in user) leave an audit row (accounts.middleware)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditEntry, User

pytestmark = pytest.mark.django_db


def test_a_403_to_a_signed_in_user_is_audited(agencies):
    nowhere = User.objects.create_user("nowhere", password="x", agency=None)  # no jurisdiction
    client = Client()
    client.force_login(nowhere)
    assert client.get("/ogcapi/collections").status_code == 403
    entry = AuditEntry.objects.get(action="access.denied")
    assert entry.actor == nowhere
    assert entry.after["path"] == "/ogcapi/collections" and entry.after["method"] == "GET"


def test_a_drf_403_names_the_api_user(users):
    enterprise = users["xingqing"]
    enterprise.role = "enterprise"
    enterprise.save()
    client = Client()
    client.force_login(enterprise)
    response = client.post("/api/equipment/", {}, content_type="application/json")
    assert response.status_code == 403
    assert AuditEntry.objects.filter(action="access.denied", actor=enterprise).count() == 1


def test_answers_other_than_403_and_anonymous_refusals_are_not(users):
    client = Client()
    client.force_login(users["xingqing"])
    client.get("/map/")
    Client().get("/ogcapi/collections")  # 401
    assert not AuditEntry.objects.filter(action="access.denied").exists()
