"""Text PostgreSQL cannot keep and digits int() reads but the database would not: each a 400
naming the field (or ignored where the page ignores a bad filter), never a 500. Found by a review
of issue 23's pages (the licensing forms, the manufacturing view, the feed)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from licensing.models import Application

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_nul_in_a_form_is_a_400_naming_it_and_nothing_is_filed(users, make_unit):
    unit = make_unit(roles=("manufacture",))
    answer = signed_in(users["xingqing"]).post(
        "/licensing/applications/new/",
        {"kind": "design", "scope": "2000:D", "unit": unit.credit_code, "note": "补正\x00"},
    )
    assert answer.status_code == 400
    assert "note" in answer.content.decode()
    assert not Application.objects.exists()


def test_a_nul_in_a_query_is_a_400_naming_it(users):
    client = signed_in(users["xingqing"])
    page = client.get("/map/list/equipment/", {"q": "电梯\x00"})
    assert page.status_code == 400 and "q:" in page.content.decode()
    api = client.get("/api/search/", {"q": "电梯\x00"}, HTTP_ACCEPT="application/json")
    assert api.status_code == 400
    assert list(api.json()["errors"]) == ["q"]


def test_unicode_digits_are_no_id(users, make_unit):
    # "²".isdigit() is true and int("²") raises: neither is an id.
    client = signed_in(users["xingqing"])
    assert client.get("/inspections/manufacturing/", {"maker": "²"}).status_code == 200
    api = APIClient()
    api.force_authenticate(users["xingqing"])
    answer = api.post("/inspections/api/feed/", {"body": "²", "records": []}, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["body"]
