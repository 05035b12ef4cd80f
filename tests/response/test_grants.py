"""Cross-jurisdiction grants: another county reads a shared incident while the grant lasts, audited,
and never acts on it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEntry, Role, User
from response import services
from response.exceptions import ResponseError
from response.locate import by_code
from response.models import IncidentGrant, IncidentState
from tests.conftest import SHIZUISHAN_DAWUKOU, XIXIA, YINCHUAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responders, make_equipment):
    elevator = make_equipment(rescue_id="962222", address="兴庆区解放西街1号")
    [located] = by_code(responders["xingqing"], elevator.rescue_id)
    return services.report_incident(
        located, acting_user=responders["xingqing"], query=elevator.rescue_id, fault_code="11"
    )


@pytest.fixture
def dawukou(agencies) -> User:
    return User.objects.create_user(
        "responder_dawukou", password="pw", agency=agencies[SHIZUISHAN_DAWUKOU], role=Role.RESPONDER
    )


def client(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def share(incident, user, grantee=XIXIA, hours=4.0, reason="西夏区救援队跨区支援"):
    return services.grant_incident(
        incident.pk, grantee_code=grantee, hours=hours, reason=reason, acting_user=user
    )


def listed_ids(user) -> set[int]:
    response = client(user).get("/response/api/incidents/")
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_without_a_grant_the_other_county_sees_nothing(responders, incident):
    assert listed_ids(responders["xixia"]) == set()
    assert (
        client(responders["xixia"]).get(f"/response/api/incidents/{incident.pk}/").status_code
        == 404
    )


def test_a_grant_lets_the_grantee_read_the_incident_marked_shared(responders, incident):
    share(incident, responders["xingqing"])
    xixia = responders["xixia"]
    assert listed_ids(xixia) == {incident.pk}
    response = client(xixia).get(f"/response/api/incidents/{incident.pk}/")
    assert response.status_code == 200
    assert response.json()["shared"] is True
    own = client(responders["xingqing"]).get(f"/response/api/incidents/{incident.pk}/").json()
    assert own["shared"] is False


def test_the_grant_reaches_the_grantee_and_those_above_it_only(responders, incident, dawukou):
    share(incident, responders["xingqing"], grantee=SHIZUISHAN_DAWUKOU)
    assert listed_ids(dawukou) == {incident.pk}
    assert listed_ids(responders["xixia"]) == set()  # a sibling of the owner is not the grantee


def test_every_read_through_a_grant_is_audited_and_own_reads_are_not(responders, incident):
    share(incident, responders["xingqing"])
    client(responders["xixia"]).get(f"/response/api/incidents/{incident.pk}/")
    client(responders["xixia"]).get(f"/response/api/incidents/{incident.pk}/events/")
    client(responders["xingqing"]).get(f"/response/api/incidents/{incident.pk}/")
    reads = AuditEntry.objects.filter(action="incident.read_shared").order_by("id")
    assert [(a.actor, a.object_pk) for a in reads] == [(responders["xixia"], str(incident.pk))] * 2


def test_granting_and_revoking_are_audited_and_on_the_timeline(responders, incident):
    grant = share(incident, responders["xingqing"])
    services.revoke_grant(grant.pk, acting_user=responders["xingqing"])
    actions = list(
        AuditEntry.objects.filter(model="response.IncidentGrant")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["incident.shared", "incident.share_revoked"]
    assert incident.events.filter(note__contains="西夏区救援队跨区支援").exists()


@pytest.mark.parametrize(
    "path, body",
    [
        ("transition/", {"state": IncidentState.DISPATCHED}),
        ("events/", {"note": "到场"}),
        ("dispatch/", {}),
        ("grants/", {"grantee": SHIZUISHAN_DAWUKOU, "hours": 1, "reason": "再转授"}),
    ],
)
def test_the_grantee_reads_but_never_acts(responders, incident, path, body):
    share(incident, responders["xingqing"])
    response = client(responders["xixia"]).post(
        f"/response/api/incidents/{incident.pk}/{path}", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["incident"][0]["rule"] == "incident.shared"
    incident.refresh_from_db()
    assert incident.state == IncidentState.REPORTED
    assert IncidentGrant.objects.count() == 1


def test_an_expired_grant_shows_nothing(responders, incident):
    grant = share(incident, responders["xingqing"])
    IncidentGrant.objects.filter(pk=grant.pk).update(
        granted_at=timezone.now() - dt.timedelta(hours=5),
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    assert listed_ids(responders["xixia"]) == set()
    assert (
        client(responders["xingqing"])
        .get(f"/response/api/grants/{grant.pk}/revoke/")
        .json()["status"]
        == "expired"
    )


def test_a_revoked_grant_shows_nothing_and_cannot_be_revoked_twice(responders, incident):
    grant = share(incident, responders["xingqing"])
    response = client(responders["xingqing"]).post(f"/response/api/grants/{grant.pk}/revoke/")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert listed_ids(responders["xixia"]) == set()
    again = client(responders["xingqing"]).post(f"/response/api/grants/{grant.pk}/revoke/")
    assert again.json()["errors"]["grant"][0]["rule"] == "grant.ended"


def test_the_grantee_can_neither_revoke_nor_see_the_revoke_endpoint_of_others(
    responders, incident, dawukou
):
    grant = share(incident, responders["xingqing"])
    assert (
        client(responders["xixia"]).post(f"/response/api/grants/{grant.pk}/revoke/").status_code
        == 404
    )
    assert client(dawukou).get(f"/response/api/grants/{grant.pk}/revoke/").status_code == 404
    assert IncidentGrant.objects.get(pk=grant.pk).status == "active"


@pytest.mark.parametrize(
    "changes, field, rule",
    [
        ({"hours": 0}, "hours", "hours.range"),
        ({"hours": -3}, "hours", "hours.range"),
        ({"hours": 73}, "hours", "hours.range"),
        ({"reason": "   "}, "reason", "reason.required"),
        ({"grantee": "999999"}, "grantee", "grantee.unknown"),
        ({"grantee": YINCHUAN}, "grantee", "grantee.already_sees"),
    ],
)
def test_a_bad_grant_is_refused_naming_the_field(responders, incident, changes, field, rule):
    body = {"grantee": XIXIA, "hours": 4, "reason": "支援", **changes}
    response = client(responders["xingqing"]).post(
        f"/response/api/incidents/{incident.pk}/grants/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["rule"] == rule
    assert IncidentGrant.objects.count() == 0


def test_the_longest_grant_follows_the_setting(responders, incident, settings):
    settings.RESPONSE_GRANT_MAX_HOURS = 2
    with pytest.raises(ResponseError, match="2 hours"):
        share(incident, responders["xingqing"], hours=3)
    grant = share(incident, responders["xingqing"], hours=2)
    assert grant.expires_at - grant.granted_at == dt.timedelta(hours=2)


def test_readers_cannot_grant(responders, incident):
    response = client(responders["analyst"]).post(
        f"/response/api/incidents/{incident.pk}/grants/",
        {"grantee": XIXIA, "hours": 1, "reason": "x"},
        format="json",
    )
    assert response.status_code == 403
