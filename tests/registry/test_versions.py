"""Optimistic concurrency on registry records: every UPDATE raises the row's version in the
database, and an admin form posted over a newer version is refused, never saved over it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from registry import services
from registry.admin.common import STALE
from registry.models import Equipment, Unit
from tests.conftest import XINGQING
from tests.leaks.writes import form_fields

pytestmark = pytest.mark.django_db


def version_of(record) -> int:
    return type(record).objects.values_list("version", flat=True).get(pk=record.pk)


def test_every_update_raises_the_version_whatever_writes_it(make_equipment):
    device = make_equipment(XINGQING)
    start = version_of(device)
    services.update_equipment(device, acting_user=None, address="一号路")
    assert version_of(device) == start + 1
    with connection.cursor() as cursor:  # a bulk path's own SQL, as the import's commit writes
        cursor.execute(
            "UPDATE registry_equipment SET address = '二号路' WHERE id = %s", [device.pk]
        )
    assert version_of(device) == start + 2


def opened(client: Client, url: str, model_name: str) -> dict:
    """The change form as the browser holds it once the page is open."""
    page = client.get(url)
    assert page.status_code == 200
    return form_fields(page.content.decode(), f"{model_name}_form")


@pytest.fixture
def two_supervisors(users):
    users["xingqing"].is_staff = users["city"].is_staff = True
    users["xingqing"].save(), users["city"].save()
    first, second = Client(), Client()
    first.force_login(users["xingqing"])
    second.force_login(users["city"])
    return first, second


def test_the_second_of_two_saves_is_refused_not_saved_over_the_first(two_supervisors, make_unit):
    unit = make_unit(XINGQING)
    url = f"/admin/registry/unit/{unit.pk}/change/"
    first, second = two_supervisors
    mine, theirs = opened(first, url, "unit"), opened(second, url, "unit")
    assert mine["seen_version"] == theirs["seen_version"] == str(version_of(unit))

    saved = second.post(url, {**theirs, "address": "他们改的地址"})
    assert saved.status_code == 302
    refused = first.post(url, {**mine, "address": "我改的地址"})
    assert refused.status_code == 200
    assert STALE in refused.content.decode()
    assert Unit.objects.get(pk=unit.pk).address == "他们改的地址"

    # Opened again, the change goes through.
    again = opened(first, url, "unit")
    assert first.post(url, {**again, "address": "我改的地址"}).status_code == 302
    assert Unit.objects.get(pk=unit.pk).address == "我改的地址"


def test_a_form_without_its_version_is_refused(two_supervisors, make_equipment):
    device = make_equipment(XINGQING)
    url = f"/admin/registry/equipment/{device.pk}/change/"
    first, _ = two_supervisors
    fields = opened(first, url, "equipment")
    del fields["seen_version"]
    refused = first.post(url, {**fields, "address": "无版本的修改"})
    assert refused.status_code == 200 and STALE in refused.content.decode()
    assert Equipment.objects.get(pk=device.pk).address != "无版本的修改"
