"""QR labels: a signed-in, scoped read that issues a token where there is none."""

from __future__ import annotations

import pytest
from django.test import Client

from public.models import PublicToken
from tests.conftest import XINGQING, XIXIA


@pytest.fixture
def supervisor(users) -> Client:
    client = Client()
    client.force_login(users["xingqing"])
    return client


def test_a_device_label_carries_its_public_address_as_a_qr(make_site, supervisor):
    site = make_site(XINGQING)
    response = supervisor.get(f"/public/labels/equipment/{site.device.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and 'class="segno"' in body
    assert f"http://testserver/p/{site.token}/" in body or site.token not in body
    assert site.device.certificate_number in body


def test_printing_issues_a_token_where_there_is_none(make_site, supervisor):
    site = make_site(XINGQING)
    PublicToken.objects.filter(equipment=site.device).delete()
    assert supervisor.get(f"/public/labels/equipment/{site.device.pk}/").status_code == 200
    token = PublicToken.objects.get(equipment=site.device).token
    assert Client().get(f"/p/{token}/").status_code == 200


def test_a_units_labels_are_its_devices_in_use(make_site, supervisor):
    site = make_site(XINGQING)
    response = supervisor.get(f"/public/labels/units/{site.use_unit.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count('class="qr-label"') == 1


def test_another_countys_labels_are_not_found(make_site, supervisor):
    theirs = make_site(XIXIA)
    assert supervisor.get(f"/public/labels/equipment/{theirs.device.pk}/").status_code == 404
    assert supervisor.get(f"/public/labels/units/{theirs.use_unit.pk}/").status_code == 404
    assert supervisor.get("/public/labels/equipment/2147480000/").status_code == 404


def test_labels_need_a_sign_in(make_site):
    site = make_site()
    response = Client().get(f"/public/labels/equipment/{site.device.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
