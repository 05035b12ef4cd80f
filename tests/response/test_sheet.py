"""The printable incident sheet: the facts as the database holds them, contacts masked or audited,
scoped to the county, no asset from another host, a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from geo.offline import external_asset_urls
from registry import services as registry_services
from registry.models import EmergencyResource
from registry.models.events import ResourceType
from response import services
from response.dispatch import answer_dispatch, dispatch_incident
from response.locate import by_code, for_incident
from response.models import DispatchTier, IncidentState
from tests.conftest import XINGQING, XIXIA, inside
from tests.response.conftest import metres

pytestmark = pytest.mark.django_db

MAINTAINER_PHONE = "13912345678"
USE_UNIT_PHONE = "13800001111"


def sheet_url(pk: int, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/response/incidents/{pk}/sheet/" + (f"?{query}" if query else "")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(response) -> str:
    """The page's visible text, tags dropped and entities undone, whitespace collapsed."""
    body = response.content.decode()
    body = re.sub(r"<script\b.*?</script>|<style\b.*?</style>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def world(make_equipment, make_unit, responders, make_resources):
    """A trapped-passenger call at an elevator, asked of its maintainer, who answered and arrived;
    a boiler next door, a pressure vessel too far to matter, resources scattered in the county."""
    maintainer = make_unit(
        roles=("maintenance",), name="兴庆维保", contact_name="李工", contact_phone=MAINTAINER_PHONE
    )
    elevator = make_equipment(rescue_id="962222", maintenance_unit=maintainer)
    elevator.use_unit.contact_phone = USE_UNIT_PHONE
    elevator.use_unit.contact_name = "王经理"
    elevator.use_unit.save()
    registry_services.record_inspection(
        elevator,
        acting_user=None,
        conclusion="pass",
        inspected_on=dt.date(2026, 3, 2),
        report_number="JY-2026-0042",
    )
    registry_services.record_accident(
        acting_user=None,
        occurred_at=timezone.make_aware(dt.datetime(2024, 5, 6, 9, 30)),
        kind="剪切",
        equipment=elevator,
        location=elevator.location,
        injuries=1,
    )
    here = elevator.location
    boiler = make_equipment(variety_code="1310", location=Point(here.x + 0.001, here.y, srid=4326))
    far_vessel = make_equipment(
        variety_code="2150", location=Point(here.x + 0.02, here.y, srid=4326)
    )
    resources = make_resources(XINGQING, 30, seed=11)

    user = responders["xingqing"]
    reported = timezone.now().replace(microsecond=0) - dt.timedelta(hours=3)
    [located] = by_code(user, elevator.rescue_id)
    incident = services.report_incident(
        located, acting_user=user, fault_code="11", summary="3号楼电梯困人", reported_at=reported
    )
    asked = dispatch_incident(
        incident.pk, acting_user=user, at=reported + dt.timedelta(minutes=2), note="电话已通"
    )
    answer_dispatch(asked.pk, "responded", acting_user=user, at=reported + dt.timedelta(minutes=5))
    services.change_incident_state(
        incident.pk, IncidentState.ARRIVED, acting_user=user, note="到场",
        at=reported + dt.timedelta(minutes=27),
    )  # fmt: skip
    incident.refresh_from_db()
    return {
        "incident": incident,
        "elevator": elevator,
        "maintainer": maintainer,
        "boiler": boiler,
        "far_vessel": far_vessel,
        "resources": resources,
        "dispatch": asked,
        "reported": reported,
    }


def test_sheet_prints_the_incident_its_equipment_timeline_and_dispatches(responders, world):
    incident, elevator = world["incident"], world["elevator"]
    response = client_for(responders["xingqing"]).get(sheet_url(incident.pk))
    assert response.status_code == 200
    text = text_of(response)

    local = timezone.localtime(world["reported"])
    assert f"No. {incident.pk}" in text
    assert "11 困人" in text
    assert local.strftime("%Y-%m-%d %H:%M:%S") in text
    assert "兴庆区 640104" in text
    assert f"{elevator.location.x:.6f}, {elevator.location.y:.6f}" in text
    assert incident.source_crs == "wgs84" and "wgs84" in text
    # The equipment card: codes, variety, both parties, last inspection, past accident.
    for value in (elevator.device_code, elevator.rescue_id, "3110", "兴庆维保", "李工",
                  elevator.use_unit.name, "王经理", "2026-03-02", "JY-2026-0042", "剪切",
                  "2024-05-06 09:30"):  # fmt: skip
        assert value in text, value
    # Reported → arrived is 27 minutes, within the urban norm of 30.
    assert "27.0 分钟" in text and "达标" in text
    # Every timeline entry: reported, dispatched (ask), responded (answer), arrived.
    timeline = response.content.decode().split('id="sheet-timeline"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", timeline.split("<tbody>")[1], flags=re.S)
    assert len(rows) == incident.events.count()
    assert "到场" in text and "电话已通" in text
    # The one ask: its tier, party, asked and answered three minutes later.
    dispatches = response.content.decode().split('id="sheet-dispatches"')[1].split("</table>")[0]
    assert str(DispatchTier.CONTRACTED.label) in html.unescape(dispatches)
    assert "兴庆维保" in dispatches
    assert re.search(r'class="num">\s*3\.0\s*</td>', dispatches)


def test_hazards_and_nearest_resources_are_the_brute_force_answer(responders, world):
    response = client_for(responders["xingqing"]).get(sheet_url(world["incident"].pk))
    page = response.content.decode()
    hazards = page.split('id="sheet-hazards"')[1].split("</table>")[0]
    assert world["boiler"].device_code in hazards  # about 87 m, within the boilers' 300 m
    assert world["far_vessel"].device_code not in hazards  # about 1.7 km, beyond 500 m
    here = world["incident"].location
    table = page.split('id="sheet-resources"')[1].split("</table>")[0]
    names = re.findall(r"<td>([^<]*资源[^<]*)</td>", table)
    for resource_type in ResourceType.values:
        ranked = sorted(
            (r for r in world["resources"] if r.resource_type == resource_type),
            key=lambda r: (metres(here, r.location), r.pk),
        )
        assert [r.name for r in ranked[:3]] == [n for n in names if n in {r.name for r in ranked}]
    # The contacts of resources are not on the sheet: resource lists carry none.
    assert not any(r.contact_phone in page for r in world["resources"])


def test_a_role_without_personal_data_sees_masked_phones_and_leaves_no_audit(responders, world):
    before = AuditEntry.objects.filter(action="personal_data.read").count()
    response = client_for(responders["analyst"]).get(sheet_url(world["incident"].pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert MAINTAINER_PHONE not in page and USE_UNIT_PHONE not in page
    assert "139****5678" in page and "138****1111" in page
    assert AuditEntry.objects.filter(action="personal_data.read").count() == before


def test_a_responder_sees_full_phones_and_each_is_audited(responders, world):
    user = responders["xingqing"]
    response = client_for(user).get(sheet_url(world["incident"].pk))
    page = response.content.decode()
    assert MAINTAINER_PHONE in page and USE_UNIT_PHONE in page
    audited = AuditEntry.objects.filter(
        action="personal_data.read", actor=user, after__purpose="incident sheet"
    )
    assert set(audited.values_list("object_pk", flat=True)) == {
        str(world["maintainer"].pk),
        str(world["elevator"].use_unit_id),
    }
    assert all(entry.after["fields"] == ["contact_name", "contact_phone"] for entry in audited)


def test_another_countys_incident_is_a_404_like_a_missing_one(responders, world, make_equipment):
    device = make_equipment(XIXIA, rescue_id="963333")
    [located] = by_code(responders["xixia"], device.rescue_id)
    theirs = services.report_incident(located, acting_user=responders["xixia"], summary="西夏困人")
    client = client_for(responders["xingqing"])
    other = client.get(sheet_url(theirs.pk))
    missing = client.get(sheet_url(2_147_480_000))
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert "西夏" not in other.content.decode()
    assert client_for(responders["xixia"]).get(sheet_url(theirs.pk)).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in_and_enterprise_users_refused(
    client, responders, world
):
    response = client.get(sheet_url(world["incident"].pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert (
        client_for(responders["enterprise"]).get(sheet_url(world["incident"].pk)).status_code == 403
    )


def test_no_asset_comes_from_another_host(responders, world):
    client = client_for(responders["xingqing"])
    for response in (
        client.get(sheet_url(world["incident"].pk)),
        client.get(sheet_url(world["incident"].pk, download=1)),
    ):
        assert response.status_code == 200
        assert external_asset_urls(response.content.decode()) == []


def test_download_is_the_same_sheet_as_a_standalone_attachment(responders, world):
    incident = world["incident"]
    client = client_for(responders["xingqing"])
    page = client.get(sheet_url(incident.pk))
    download = client.get(sheet_url(incident.pk, download=1))
    assert download["Content-Disposition"].startswith("attachment;")
    assert f"incident-{incident.pk}-" in download["Content-Disposition"]
    assert "Content-Disposition" not in page
    body = download.content.decode()
    # Scripts and stylesheets are written in, so the file shows its map away from the server.
    assert not re.search(r"<script[^>]+src=", body)
    assert not re.search(r"<link[^>]+stylesheet", body)
    assert "L.map(" in body and ".leaflet-container" in body

    # The same sheet, less the link to download it.
    def same(response) -> str:  # the time the sheet was made may tick over between the two
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d(?!:)", "", text_of(response))

    assert same(page).replace(" 下载 HTML", "") == same(download)


def test_an_incident_without_equipment_still_renders(responders, make_resources):
    user = responders["xingqing"]
    point = inside(XINGQING)
    located = for_incident(user, point=f"{point.x},{point.y}")
    incident = services.report_incident(located, acting_user=user, query=f"{point.x},{point.y}")
    response = client_for(user).get(sheet_url(incident.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="sheet-no-equipment"' in page
    assert f"{point.x},{point.y}" in text_of(response)  # the coordinates as given
    assert "未到达" in text_of(response)
    assert EmergencyResource.objects.count() == 0 and "辖区内无" in page


@pytest.mark.parametrize("notes", [0, 25])
def test_queries_do_not_grow_with_the_timeline(
    responders, world, notes, django_assert_max_num_queries
):
    user = responders["xingqing"]
    incident = world["incident"]
    for i in range(notes):
        services.add_incident_note(incident, f"补充说明 {i}", acting_user=user)
    client = client_for(user)
    # Session and user, the incident with its timeline and asks (3), the card (device, inspection,
    # accidents, overdue, an audit row per unit shown in full), resources, hazards, the outline.
    with django_assert_max_num_queries(16):
        response = client.get(sheet_url(incident.pk))
    assert response.status_code == 200
    assert text_of(response).count("补充说明") == notes


def test_the_arrival_norm_comes_from_the_settings(responders, world, settings):
    # 27 minutes from report to arrival: within the default 30 of a city district, over 20.
    settings.RESPONSE_ARRIVAL_NORM_MIN = {"urban": 20, "rural": 60}
    text = text_of(client_for(responders["xingqing"]).get(sheet_url(world["incident"].pk)))
    assert "27.0 分钟" in text and "超时" in text
    assert "时限 20 分钟" in text


def test_a_shared_incident_prints_for_the_grantee_and_the_read_is_audited(responders, world):
    incident, guest = world["incident"], responders["xixia"]
    assert client_for(guest).get(sheet_url(incident.pk)).status_code == 404
    services.grant_incident(
        incident.pk,
        grantee_code=XIXIA,
        hours=2,
        reason="跨区支援",
        acting_user=responders["xingqing"],
    )
    response = client_for(guest).get(sheet_url(incident.pk))
    assert response.status_code == 200
    assert AuditEntry.objects.filter(
        action="incident.read_shared", actor=guest, object_pk=str(incident.pk)
    ).exists()
    # The device lies outside the guest's jurisdiction: the sheet says so, and shows no contacts.
    assert "涉及设备不在您的辖区内" in text_of(response)
    assert MAINTAINER_PHONE not in response.content.decode()
