"""Personal data on every read surface besides the admin and the detail pages (issue 17).

The analyst never gets a full phone number or contact name in any answer. Exports, OGC features,
the map's GeoJSON and the registry API carry no personal data for anyone (PIPL minimisation:
layers.fields checks its columns against registry.personal), so nothing there is audited; the
response card and contact answer show the supervisor the full phone and audit it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from exports.core import export_layer
from registry import services
from registry.personal import mask_phone
from tests.conftest import XINGQING, inside

pytestmark = pytest.mark.django_db

UNIT_PHONE, RESOURCE_PHONE, STAFF_PHONE = "13912345678", "13887654321", "13700001111"
SECRETS = (UNIT_PHONE, RESOURCE_PHONE, STAFF_PHONE, "张三丰", "李四光", "王五常")
ROLES = ["xingqing_analyst", "xingqing"]


@pytest.fixture
def people(make_unit, make_equipment):
    unit = make_unit(XINGQING, contact_name="张三丰", contact_phone=UNIT_PHONE)
    resource = services.register_resource(
        acting_user=None,
        name="兴庆救援队",
        resource_type="rescue_team",
        location=inside(XINGQING),
        contact_name="李四光",
        contact_phone=RESOURCE_PHONE,
        unit=unit,
    )
    services.register_person(
        acting_user=None,
        name="王五常",
        role="operator",
        employer=unit,
        phone=STAFF_PHONE,
        region_code=XINGQING,
    )
    device = make_equipment(XINGQING, use_unit=unit, maintenance_unit=unit)
    return {"unit": unit, "resource": resource, "device": device}


def reads() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="personal_data.read").order_by("id"))


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


# --------------------------------------------------------------------------- no personal data at all


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer", ["units", "resources", "equipment"])
def test_ogc_features_carry_no_personal_data(client, users, people, role, layer):
    client.force_login(users[role])
    response = client.get(f"/ogcapi/collections/{layer}/items")
    assert response.status_code == 200
    assert response.json()["numberReturned"] >= 1
    assert_no_secret(response.content.decode())
    assert reads() == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer", ["units", "resources"])
def test_ogc_single_feature_carries_no_personal_data(client, users, people, role, layer):
    client.force_login(users[role])
    record = people["unit" if layer == "units" else "resource"]
    response = client.get(f"/ogcapi/collections/{layer}/items/{record.pk}")
    assert response.status_code == 200
    assert_no_secret(response.content.decode())


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer", ["units", "resources"])
@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_exports_carry_no_personal_data(tmp_path, users, people, role, layer, fmt):
    destination = tmp_path / f"out.{fmt}"
    export_layer(users[role], layer, None, None, fmt, "wgs84", destination)
    text = destination.read_text(encoding="utf-8-sig")
    assert "兴庆救援队" in text or people["unit"].name in text  # the rows are there
    assert_no_secret(text)
    assert reads() == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/api/units/", "/api/resources/", "/api/equipment/"])
def test_registry_api_lists_carry_no_personal_data(client, users, people, role, path):
    client.force_login(users[role])
    response = client.get(path)
    assert response.status_code == 200
    assert_no_secret(response.content.decode())


@pytest.mark.parametrize("role", ROLES)
def test_unit_search_does_not_match_phones_or_contacts(client, users, people, role):
    # A search that matched phone digits would tell the analyst a number it may not read.
    client.force_login(users[role])
    for term in (UNIT_PHONE, UNIT_PHONE[:7], "张三丰"):
        assert client.get("/api/units/", {"search": term}).json()["count"] == 0
    found = client.get("/api/units/", {"search": people["unit"].name}).content.decode()
    assert people["unit"].name in found


# --------------------------------------------------------------------------- masked or audited


@pytest.mark.parametrize(
    ("url_name", "key", "phone"),
    [
        ("response:resource-contact", "resource", RESOURCE_PHONE),
        ("response:equipment-card", "device", UNIT_PHONE),
    ],
)
def test_response_answers_mask_for_the_analyst_and_audit_the_supervisor(
    client, users, people, url_name, key, phone
):
    url = reverse(url_name, args=[people[key].pk])
    client.force_login(users["xingqing_analyst"])
    masked = client.get(url)
    assert masked.status_code == 200
    assert phone not in masked.content.decode()
    assert mask_phone(phone) in masked.content.decode()
    assert reads() == []

    client.force_login(users["xingqing"])
    full = client.get(url)
    assert phone in full.content.decode()
    audited = reads()
    assert audited and all(r.actor.username == "xingqing" for r in audited)
    assert "contact_phone" in audited[0].after["fields"]
