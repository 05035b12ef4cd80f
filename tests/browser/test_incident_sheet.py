"""The incident sheet as a responder prints it: on screen, then as the printer sees it."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from registry import services as registry_services
from registry.models import Equipment
from response import services
from response.dispatch import answer_dispatch, dispatch_incident
from response.locate import at_equipment
from response.models import IncidentState
from tests.browser.conftest import ARTIFACTS, BROWSER, log_in

pytestmark = BROWSER


def _incident():
    """A trapped-passenger call at a demo elevator with a maintainer: asked, answered, arrived."""
    user = User.objects.get(username="responder")
    device = (
        Equipment.objects.filter(region_id="640104", kind="3000", maintenance_unit__isnull=False)
        .exclude(location=None)
        .order_by("pk")
        .first()
    )
    # A boiler next door, within the boilers' hazard radius: the sheet's map draws it.
    boiler, _ = registry_services.register_equipment(
        acting_user=None,
        variety_code="1310",
        use_unit=device.use_unit,
        device_code="1310T1234202009901",
        location=Point(device.location.x + 0.0015, device.location.y + 0.0005, srid=4326),
        commissioned_on=dt.date(2020, 6, 1),
    )
    reported = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    incident = services.report_incident(
        at_equipment(user, device.pk),
        acting_user=user,
        fault_code="11",
        summary="电梯困人，2 人",
        reported_at=reported,
    )
    asked = dispatch_incident(incident.pk, acting_user=user, at=reported + dt.timedelta(minutes=1))
    answer_dispatch(asked.pk, "responded", acting_user=user, at=reported + dt.timedelta(minutes=3))
    services.change_incident_state(
        incident.pk, IncidentState.ARRIVED, acting_user=user, at=reported + dt.timedelta(minutes=18)
    )
    return incident, device, boiler


def test_responder_opens_prints_and_downloads_the_incident_sheet(demo_site, page):
    incident, device, boiler = _incident()
    log_in(page, demo_site.url, "responder")
    page.goto(f"{demo_site.url}/response/incidents/{incident.pk}/sheet/")
    page.wait_for_selector("#sheet-map .leaflet-container")
    page.wait_for_selector(".sheet-incident-marker")
    page.wait_for_timeout(500)

    assert f"No. {incident.pk}" in page.locator("h1").inner_text()
    assert device.device_code in page.locator("#sheet-equipment").inner_text()
    assert "达标" in page.locator("#sheet-arrival").inner_text()
    assert page.locator("#sheet-timeline tbody tr").count() == incident.events.count()
    assert boiler.device_code in page.locator("#sheet-hazards").inner_text()
    # The map is drawn and framed: the incident marker lies inside the map's box.
    box = page.locator("#sheet-map").bounding_box()
    marker = page.locator(".sheet-incident-marker").bounding_box()
    assert box["x"] <= marker["x"] <= box["x"] + box["width"]
    assert box["y"] <= marker["y"] <= box["y"] + box["height"]
    page.screenshot(path=ARTIFACTS / "incident-sheet.png", full_page=True)

    page.emulate_media(media="print")
    # The printable width of A4 portrait less the page margins (186 mm at 96 dpi): what paper shows.
    page.set_viewport_size({"width": 703, "height": 1000})
    page.wait_for_timeout(300)
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".sheet-actions").is_visible()
    page.screenshot(path=ARTIFACTS / "incident-sheet-print.png", full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "incident-sheet.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert 1 <= pages <= 4, pages  # an A4 portrait sheet of a few pages, not a sprawl
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1440, "height": 900})

    with page.expect_download() as download:
        page.click("#sheet-download")
    assert download.value.suggested_filename.startswith(f"事件单-incident-{incident.pk}-")
    # The file opened away from the server still draws its map: everything it needs is inside it.
    saved = ARTIFACTS / "incident-sheet-download.html"
    download.value.save_as(saved)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(saved.as_uri())
    page.wait_for_selector("#sheet-map .leaflet-container .sheet-incident-marker")
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []

    assert page.errors == []
    assert page.foreign_requests == []
