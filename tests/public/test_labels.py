"""QR labels: a signed-in, scoped read that issues a token where there is none."""

from __future__ import annotations

import pytest
from django.db import reset_queries
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


def test_a_units_sheet_takes_the_same_queries_for_many_devices(
    make_site, supervisor, django_assert_max_num_queries
):
    """Tokens are read in one query for the sheet (issued once, on the first print)."""
    from public.services import ensure_tokens
    from registry import services

    site = make_site(XINGQING)
    for n in range(12):
        device, _ = services.register_equipment(
            acting_user=None, variety_code="3110", use_unit=site.use_unit,
            location=site.device.location, device_code=f"3110T1234202110{n:03d}",
        )  # fmt: skip
        ensure_tokens([device], acting_user=None)
    url = f"/public/labels/units/{site.use_unit.pk}/"
    supervisor.get(url)  # the session's own first queries
    reset_queries()  # the request resets the log: counted from an empty one, none is lost
    with django_assert_max_num_queries(12) as counted:
        body = supervisor.get(url).content.decode()
    assert body.count('class="qr-label"') == 13
    assert 0 < len(counted) <= 12
