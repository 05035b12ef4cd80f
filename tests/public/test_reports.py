"""A member of the public's report: its validation, the incident it opens on the right county's
desk, the call-back number as personal data, CSRF without a session."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from accounts.models import AuditEntry
from public.models import PublicReport
from response.models import Incident, IncidentEvent, IncidentEventKind
from tests.conftest import XINGQING, XIXIA

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
PHONE = "13912345678"


def post(site, data, *, client=None, json=False, **files):
    client = client or Client()
    extra = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post(f"/p/{site.token}/report/", {**data, **files}, **extra)


def upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="image/png")


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"kind": "trapped"}, "phone", "phone.required"),
        ({"kind": "trapped", "phone": "12345"}, "phone", "phone.format"),
        ({"kind": "fire", "phone": PHONE}, "kind", "kind.unknown"),
        ({"phone": PHONE}, "kind", "kind.unknown"),
        ({"kind": "other", "phone": PHONE, "description": "长" * 501}, "description",
         "description.length"),
    ],
)  # fmt: skip
def test_a_bad_report_is_refused_naming_the_field(make_site, data, field, rule):
    site = make_site()
    response = post(site, data, json=True)
    assert response.status_code == 400
    assert [e["rule"] for e in response.json()["errors"][field]] == [rule]
    page = post(site, data)
    assert page.status_code == 400
    assert f'name="{field}"' in page.content.decode()
    assert not Incident.objects.exists() and not PublicReport.objects.exists()


def test_a_photo_must_be_an_image(make_site):
    site = make_site()
    response = post(site, {"kind": "hazard", "phone": PHONE}, json=True,
                    photo=upload("x.png", GIF))  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"]["photo"][0]["rule"] == "photo.type"
    assert not Incident.objects.exists()


@override_settings(PUBLIC_PHOTO_MAX_BYTES=1000)
def test_a_photo_has_a_size_limit(make_site):
    site = make_site()
    big = PNG + b"\x00" * 1000
    response = post(site, {"kind": "hazard", "phone": PHONE}, json=True, photo=upload("x.png", big))
    assert response.status_code == 400
    assert response.json()["errors"]["photo"][0]["rule"] == "photo.size"
    assert not Incident.objects.exists()


def test_a_trapped_passenger_opens_an_incident_on_the_devices_county_desk(make_site, responders):
    site = make_site(XIXIA)
    response = post(site, {"kind": "trapped", "phone": PHONE, "description": "电梯停在3楼"},
                    photo=upload("p.png", PNG))  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == f"/p/{site.token}/report/done/"
    incident = Incident.objects.get()
    assert incident.region_id == XIXIA
    assert incident.equipment == site.device
    assert incident.fault_code == "11"
    assert incident.reported_by is None
    assert incident.state == "reported"
    assert "电梯停在3楼" in incident.summary
    # The number is personal: masked in the incident, whole only in the report.
    assert PHONE not in incident.summary and "139****5678" in incident.summary
    report = PublicReport.objects.get()
    assert (report.incident, report.phone, report.photo_type) == (incident, PHONE, "image/png")
    assert bytes(report.photo) == PNG
    event = IncidentEvent.objects.get(incident=incident)
    assert event.kind == IncidentEventKind.REPORTED
    trail = AuditEntry.objects.get(action="public_report.received")
    assert trail.after["phone"] == "139****5678" and "photo" not in trail.after
    assert AuditEntry.objects.filter(
        action="incident.reported", object_pk=str(incident.pk)
    ).exists()

    # The county's responder has it on the desk; the neighbouring county's does not.
    theirs, mine = Client(), Client()
    theirs.force_login(responders["xixia"])
    mine.force_login(responders["xingqing"])
    listed = theirs.get("/response/api/incidents/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert incident.pk in [row["id"] for row in rows]
    listed = mine.get("/response/api/incidents/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert incident.pk not in [row["id"] for row in rows]


def test_the_report_needs_the_csrf_cookie_not_a_session(make_site):
    site = make_site()
    client = Client(enforce_csrf_checks=True)
    assert post(site, {"kind": "trapped", "phone": PHONE}, client=client).status_code == 403
    form = client.get(f"/p/{site.token}/report/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())[1]
    response = post(site, {"kind": "trapped", "phone": PHONE, "csrfmiddlewaretoken": token},
                    client=client)  # fmt: skip
    assert response.status_code == 302
    assert Incident.objects.count() == 1


@override_settings(PUBLIC_RATE_LIMITS={"lookup": (10, 60), "report": (2, 600)})
def test_reports_are_limited_per_client(make_site):
    site = make_site()
    client = Client(REMOTE_ADDR="203.0.113.20")
    statuses = [post(site, {"kind": "hazard", "phone": PHONE}, client=client, json=True).status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [201, 201, 429]
    assert Incident.objects.count() == 2


def test_the_desk_reads_the_number_masked_or_audited(make_site, responders):
    site = make_site(XINGQING)
    post(site, {"kind": "trapped", "phone": PHONE})
    report = PublicReport.objects.get()
    responder, analyst, other = Client(), Client(), Client()
    responder.force_login(responders["xingqing"])
    analyst.force_login(responders["analyst"])
    other.force_login(responders["xixia"])

    body = responder.get(f"/public/reports/{report.pk}/").content.decode()
    assert PHONE in body
    read = AuditEntry.objects.get(action="personal_data.read", object_pk=str(report.pk))
    assert read.actor == responders["xingqing"] and read.after["fields"] == ["phone"]

    body = analyst.get(f"/public/reports/{report.pk}/").content.decode()
    assert PHONE not in body and "139****5678" in body
    assert other.get(f"/public/reports/{report.pk}/").status_code == 404
    assert other.get(f"/public/reports/{report.pk}/photo/").status_code == 404
    listing = responder.get("/public/reports/").content.decode()
    assert f"#{report.incident_id}" in listing and PHONE not in listing
