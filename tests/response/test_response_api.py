"""The response API: every endpoint signed-in only, scoped to the county, 400s naming the parameter."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from drf_spectacular.validation import validate_schema

from accounts.models import AuditEntry
from registry import services as registry_services
from registry.models.events import ResourceType
from response import services
from response.api import ResourceContactSerializer
from response.incident_api import IncidentStatesSerializer
from response.locate import by_code
from response.models import IncidentState
from tests.common.shapes import assert_shape
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db

API = "/response/api"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def where(code: str) -> str:
    point = inside(code)
    return f"{point.x},{point.y}"


def errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


@pytest.fixture
def elevator(make_equipment, make_unit):
    maintainer = make_unit(
        roles=("maintenance",), name="兴庆维保", contact_name="李工", contact_phone="13912345678"
    )
    device = make_equipment(rescue_id="962222", maintenance_unit=maintainer)
    device.use_unit.contact_phone = "13800001111"
    device.use_unit.save()
    return device


@pytest.fixture
def theirs(make_equipment, responders, make_resources):
    """西夏区's device, resource and incident: nothing of them may reach 兴庆区's responder."""
    device = make_equipment(XIXIA, rescue_id="963333")
    [resource] = make_resources(XIXIA, 1, seed=5, resource_type="fire_station")
    [located] = by_code(responders["xixia"], device.rescue_id)
    incident = services.report_incident(
        located, acting_user=responders["xixia"], summary="西夏困人"
    )
    return {"equipment": device, "resource": resource, "incident": incident}


@pytest.fixture
def mine(elevator, responders, make_resources):
    [resource] = make_resources(XINGQING, 1, seed=6, resource_type="fire_station")
    [located] = by_code(responders["xingqing"], elevator.rescue_id)
    incident = services.report_incident(
        located, acting_user=responders["xingqing"], summary="兴庆困人"
    )
    return {"equipment": elevator, "resource": resource, "incident": incident}


def endpoints(pk: int = 1) -> list[str]:
    point = where(XINGQING)
    return [
        f"{API}/locate/?point={point}",
        f"{API}/around/?point={point}",
        f"{API}/around/resources/?point={point}",
        f"{API}/around/equipment/?point={point}",
        f"{API}/equipment/{pk}/",
        f"{API}/resources/{pk}/contact/",
        f"{API}/incidents/",
        f"{API}/incidents/{pk}/",
        f"{API}/incidents/{pk}/transition/",
        f"{API}/incidents/{pk}/events/",
    ]


def test_anonymous_callers_are_refused_everywhere(client):
    for url in endpoints():
        assert client.get(url).status_code in (401, 403), url
    assert client.post(f"{API}/incidents/", {"point": where(XINGQING)}).status_code in (401, 403)


def test_enterprise_users_are_refused_everywhere(responders):
    client = client_for(responders["enterprise"])
    for url in endpoints():
        assert client.get(url).status_code == 403, url


def test_readers_who_do_not_respond_cannot_write(responders, mine):
    client = client_for(responders["analyst"])
    pk = mine["incident"].pk
    assert client.get(f"{API}/incidents/{pk}/").status_code == 200
    assert client.post(f"{API}/incidents/", {"point": where(XINGQING)}).status_code == 403
    transition = {"state": "dispatched"}
    assert client.post(f"{API}/incidents/{pk}/transition/", transition).status_code == 403
    assert client.post(f"{API}/incidents/{pk}/events/", {"note": "x"}).status_code == 403


# --- locate ----------------------------------------------------------------------------------


def test_locate_answers_the_point_and_what_matched(responders, elevator):
    client = client_for(responders["xingqing"])
    body = client.get(f"{API}/locate/", {"code": elevator.rescue_id}).json()
    [match] = body["matches"]
    assert match["how"] == "code"
    assert match["equipment"]["id"] == elevator.pk
    assert (match["lon"], match["lat"]) == (elevator.location.x, elevator.location.y)
    assert match["region"] == {"code": XINGQING, "name": "兴庆区", "urban": True}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "query"),
        ({"point": "38.47,106.27"}, "point"),
        ({"point": "106.27,38.47", "crs": "webmercator"}, "crs"),
        ({"click": "abc"}, "click"),
        ({"code": "000000"}, "code"),
        ({"unit": "z"}, "unit"),
    ],
)
def test_locate_names_the_bad_parameter(responders, params, field):
    assert field in errors(client_for(responders["xingqing"]).get(f"{API}/locate/", params))


def test_their_codes_answer_like_unknown_ones(responders, theirs):
    client = client_for(responders["xingqing"])
    foreign = client.get(f"{API}/locate/", {"code": theirs["equipment"].rescue_id})
    unknown = client.get(f"{API}/locate/", {"code": "969999"})
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.content.decode().replace("963333", "969999") == unknown.content.decode()


# --- around ----------------------------------------------------------------------------------


def test_around_lists_resources_of_each_type_and_hazards(responders, mine, theirs):
    client = client_for(responders["xingqing"])
    body = client.get(f"{API}/around/", {"equipment": mine["equipment"].pk, "k": 2}).json()
    assert set(body["resources"]) == set(ResourceType.values)
    [station] = body["resources"]["fire_station"]
    assert station["id"] == mine["resource"].pk  # theirs, in 西夏区, is not offered
    assert station["eta_min"] > 0 and body["speed_kmh"] == 20.0
    assert body["equipment"]["id"] == mine["equipment"].pk
    assert body["hazards"]["radii_m"] == {
        "1000": 300.0,
        "2000": 500.0,
        "8000": 300.0,
        "filling": 800.0,
    }


def test_the_city_sees_across_its_districts(users, mine, theirs):
    body = (
        client_for(users["city"])
        .get(f"{API}/around/resources/", {"point": where(XINGQING), "type": "fire_station", "k": 5})
        .json()
    )
    ids = {r["id"] for r in body["resources"]["fire_station"]}
    assert {mine["resource"].pk, theirs["resource"].pk} <= ids


def test_around_equipment_with_an_explicit_radius(responders, mine, theirs, make_equipment):
    client = client_for(responders["xingqing"])
    near = make_equipment(variety_code="2150", location=mine["equipment"].location)
    body = client.get(
        f"{API}/around/equipment/",
        {"equipment": mine["equipment"].pk, "radius": 50000, "kind": "2000,3000"},
    ).json()
    ids = {i["id"] for i in body["items"]}
    assert {near.pk, mine["equipment"].pk} <= ids
    assert theirs["equipment"].pk not in ids
    assert body["radii_m"] == {"2000": 50000.0, "3000": 50000.0}


HERE = "here"  # stands for a point inside 兴庆区


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("around/equipment", {"point": HERE, "radius": "-10"}, "radius"),
        ("around/equipment", {"point": HERE, "radius": "1e9"}, "radius"),
        ("around/equipment", {"point": HERE, "kind": "3000"}, "radius"),
        ("around/equipment", {"point": HERE, "kind": "9999"}, "kind"),
        ("around/resources", {"point": HERE, "k": "0"}, "k"),
        ("around/resources", {"point": HERE, "k": "100"}, "k"),
        ("around/resources", {"point": HERE, "type": "helicopter"}, "type"),
        ("around", {"point": HERE, "radius": "abc"}, "radius"),
        ("around", {}, "location"),
        ("around/resources", {"point": HERE, "click": HERE}, "point"),
        ("around/resources", {"point": "106.5,91"}, "point"),
        ("around/resources", {"equipment": "abc"}, "equipment"),
        ("around", {"equipment": "2147480000"}, "equipment"),
    ],
)
def test_around_names_the_bad_parameter(responders, path, params, field):
    params = {name: where(XINGQING) if value == HERE else value for name, value in params.items()}
    assert field in errors(client_for(responders["xingqing"]).get(f"{API}/{path}/", params))


def test_their_equipment_is_not_around_for_me(responders, theirs):
    client = client_for(responders["xingqing"])
    pk = theirs["equipment"].pk
    for path in ("around", "around/resources", "around/equipment"):
        answer = client.get(f"{API}/{path}/", {"equipment": pk})
        assert errors(answer)["equipment"][0]["rule"] == "equipment.not_found"


# --- the equipment card and contacts ---------------------------------------------------------


def test_the_card_shows_contacts_in_full_to_responders_and_audits_it(responders, elevator):
    client = client_for(responders["xingqing"])
    card = client.get(f"{API}/equipment/{elevator.pk}/").json()
    assert card["use_unit"]["contact_phone"] == "13800001111"
    assert card["maintenance_unit"]["contact_phone"] == "13912345678"
    assert card["maintenance_unit"]["contact_name"] == "李工"
    audited = AuditEntry.objects.filter(action="personal_data.read", actor=responders["xingqing"])
    assert {(a.model, a.object_pk) for a in audited} == {
        ("registry.Unit", str(elevator.use_unit_id)),
        ("registry.Unit", str(elevator.maintenance_unit_id)),
    }


def test_the_card_masks_contacts_for_analysts_and_audits_nothing(responders, elevator):
    card = client_for(responders["analyst"]).get(f"{API}/equipment/{elevator.pk}/").json()
    assert card["maintenance_unit"]["contact_phone"] == "139****5678"
    assert card["maintenance_unit"]["masked"] is True
    assert not AuditEntry.objects.filter(action="personal_data.read").exists()


def test_the_card_carries_the_last_inspection_and_past_accidents(responders, elevator):
    user = responders["xingqing"]
    registry_services.record_inspection(
        elevator, acting_user=None, conclusion="fail", inspected_on=dt.date.today(), defects=3
    )
    registry_services.record_accident(
        acting_user=None,
        occurred_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        kind="困人",
        equipment=elevator,
    )
    card = client_for(user).get(f"{API}/equipment/{elevator.pk}/").json()
    assert card["last_inspection"]["conclusion"] == "fail"
    assert card["overdue"] is True  # a failed inspection leaves no next date
    assert [a["kind"] for a in card["accidents"]] == ["困人"]


def test_a_resource_contact_is_audited(responders, mine):
    resource = mine["resource"]
    body = client_for(responders["xingqing"]).get(f"{API}/resources/{resource.pk}/contact/").json()
    assert_shape(ResourceContactSerializer(), body)
    assert body["contact_phone"] == resource.contact_phone
    assert AuditEntry.objects.filter(
        action="personal_data.read", model="registry.EmergencyResource", object_pk=str(resource.pk)
    ).exists()


# --- incidents -------------------------------------------------------------------------------


def test_an_incident_reported_from_a_gcj02_point(responders):
    import prcoords

    point = inside(XINGQING)
    gcj = prcoords.wgs_gcj((point.y, point.x))
    answer = client_for(responders["xingqing"]).post(
        f"{API}/incidents/",
        {
            "point": f"{gcj.lon},{gcj.lat}",
            "crs": "gcj02",
            "summary": "锅炉房冒汽",
            "fault_code": "",
        },
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["source_crs"] == "gcj02" and body["located_by"] == "coordinates"
    assert abs(body["lon"] - point.x) < 1e-7 and abs(body["lat"] - point.y) < 1e-7
    assert [e["to_state"] for e in body["events"]] == ["reported"]


def test_an_incident_reported_at_a_device_then_moved_through_the_api(responders, elevator):
    client = client_for(responders["xingqing"])
    body = client.post(
        f"{API}/incidents/",
        {"equipment": elevator.pk, "fault_code": "11"},
        content_type="application/json",
    ).json()
    pk = body["id"]
    assert body["equipment"]["id"] == elevator.pk and body["located_by"] == "code"
    states = client.get(f"{API}/incidents/{pk}/transition/").json()
    assert_shape(IncidentStatesSerializer(), states)
    assert states["allowed_states"] == [
        "dispatched",
        "false_alarm",
    ]
    moved = client.post(
        f"{API}/incidents/{pk}/transition/", {"state": "dispatched", "note": "通知维保"},
        content_type="application/json",
    )  # fmt: skip
    assert moved.status_code == 200 and moved.json()["state"] == "dispatched"
    refused = client.post(
        f"{API}/incidents/{pk}/transition/", {"state": "closed"}, content_type="application/json"
    )
    assert errors(refused)["state"][0]["rule"] == "state.transition"
    noted = client.post(f"{API}/incidents/{pk}/events/", {"note": "乘客情绪稳定"})
    assert noted.status_code == 201
    kinds = [e["kind"] for e in client.get(f"{API}/incidents/{pk}/events/").json()["events"]]
    assert kinds == ["reported", "state_change", "note"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "location"),
        ({"point": "106.2,38.4", "click": "106.2,38.4"}, "point"),
        ({"click": "106.2,38.4", "crs": "gcj02"}, "crs"),
        ({"equipment": "0"}, "equipment"),
        ({"unit": "2147480000"}, "unit"),
        ({"reported_at": "tomorrow"}, "reported_at"),
        ({"summary": "x" * 2001}, "summary"),
    ],
)
def test_reporting_names_the_bad_field(responders, data, field):
    answer = client_for(responders["xingqing"]).post(
        f"{API}/incidents/", data, content_type="application/json"
    )
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert field in body.get("errors", body)


def test_incidents_are_listed_in_a_constant_number_of_queries(responders, elevator):
    user = responders["xingqing"]
    [located] = by_code(user, elevator.rescue_id)
    for _ in range(3):
        services.report_incident(located, acting_user=user)
    client = client_for(user)
    client.get(f"{API}/incidents/")  # warm the session and the user
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{API}/incidents/").json()["count"] == 3
    for _ in range(5):
        services.report_incident(located, acting_user=user)
    with CaptureQueriesContext(connection) as more:
        assert client.get(f"{API}/incidents/").json()["count"] == 8
    assert len(more) == len(few) <= 5


@pytest.mark.parametrize(
    ("state", "count"), [("open", 1), ("ended", 0), ("reported", 1), ("closed", 0)]
)
def test_incidents_filter_by_state(responders, mine, state, count):
    body = client_for(responders["xingqing"]).get(f"{API}/incidents/", {"state": state}).json()
    assert body["count"] == count


def test_an_unknown_state_filter_is_named(responders):
    assert "state" in errors(
        client_for(responders["xingqing"]).get(f"{API}/incidents/", {"state": "x"})
    )


# --- scoping, endpoint by endpoint -------------------------------------------------------------


def test_their_records_answer_like_missing_ones_on_every_detail_endpoint(responders, mine, theirs):
    client = client_for(responders["xingqing"])
    for label, template in [
        ("equipment", f"{API}/equipment/{{}}/"),
        ("resource", f"{API}/resources/{{}}/contact/"),
        ("incident", f"{API}/incidents/{{}}/"),
        ("incident", f"{API}/incidents/{{}}/transition/"),
        ("incident", f"{API}/incidents/{{}}/events/"),
    ]:
        their = client.get(template.format(theirs[label].pk))
        missing = client.get(template.format(2147480000))
        assert their.status_code == missing.status_code == 404, template
        assert their.content == missing.content
        assert client.get(template.format(mine[label].pk)).status_code == 200, template


def test_their_incident_cannot_be_moved_or_noted(responders, theirs):
    client = client_for(responders["xingqing"])
    pk = theirs["incident"].pk
    for path, data in [("transition", {"state": "dispatched"}), ("events", {"note": "x"})]:
        assert client.post(f"{API}/incidents/{pk}/{path}/", data).status_code == 404
    theirs["incident"].refresh_from_db()
    assert theirs["incident"].state == IncidentState.REPORTED
    assert theirs["incident"].events.count() == 1


def test_their_incidents_are_not_listed(responders, users, mine, theirs):
    listed = client_for(responders["xingqing"]).get(f"{API}/incidents/").json()["results"]
    assert [i["id"] for i in listed] == [mine["incident"].pk]
    everyone = client_for(users["city"]).get(f"{API}/incidents/").json()["results"]
    assert {i["id"] for i in everyone} == {mine["incident"].pk, theirs["incident"].pk}


def test_an_incident_cannot_be_reported_in_another_county(responders, theirs):
    client = client_for(responders["xingqing"])
    for data in [{"point": where(XIXIA)}, {"equipment": theirs["equipment"].pk}]:
        answer = client.post(f"{API}/incidents/", data, content_type="application/json")
        assert answer.status_code == 400
        assert set(answer.json()["errors"]) <= {"point", "equipment"}


def test_the_schema_documents_the_response_api(users):
    client = client_for(users["national"])
    schema = client.get("/api/schema/?format=json").json()
    validate_schema(schema)
    assert {"/response/api/locate/", "/response/api/incidents/{id}/transition/"} <= set(
        schema["paths"]
    )


@pytest.mark.parametrize(
    ("path", "params", "statements"),
    [
        # The county and the nearest resources' first step share one statement.
        ("around/resources/", {"k": 5}, 3),
        ("around/equipment/", {"radius": 5000, "kind": "1000,2000,3000,filling"}, 4),
    ],
)
def test_around_is_one_statement_after_the_county(
    responders, mine, theirs, path, params, statements
):
    """Session, user, the county of the point, and one statement, however much is found."""
    client, query = client_for(responders["xingqing"]), {"point": where(XINGQING), **params}
    client.get(f"{API}/{path}", query)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{API}/{path}", query).status_code == 200
    assert len(captured) == statements, [q["sql"][:80] for q in captured]
