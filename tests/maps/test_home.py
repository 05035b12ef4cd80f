"""The home dashboard: numbers and map of the user's jurisdiction only."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import User
from geo.models import Region
from registry import services
from registry.models import Equipment
from tests.conftest import XINGQING, XIXIA

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_equipment):
    """Three devices in Xingqing (one overdue after a failed inspection), two in Xixia, all recently commissioned."""
    recent = dt.date.today() - dt.timedelta(days=30)
    mine = [make_equipment(XINGQING, commissioned_on=recent) for _ in range(3)]
    services.record_inspection(mine[0], acting_user=None, conclusion="fail", inspected_on=recent)
    theirs = [
        make_equipment(XIXIA, commissioned_on=recent, device_code=f"3110XIXIA2020{n:05d}")
        for n in range(2)
    ]
    return mine, theirs


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_user_without_agency_gets_no_data(client, db):
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests"))
    response = client.get(reverse("home"))
    assert response.status_code == 403


def test_county_sees_only_its_county(client, users, world):
    mine, theirs = world
    client.force_login(users["xingqing"])
    response = client.get(reverse("home"))
    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.totals.devices, summary.totals.overdue) == (3, 1)
    assert [row.code for row in summary.by_region] == [XINGQING]
    page = response.content.decode()
    assert "西夏区" not in page
    assert not any(device.device_code in page for device in theirs)
    assert mine[0].device_code in page  # the overdue device's popup


def test_city_sees_its_counties_side_by_side(client, users, world):
    client.force_login(users["city"])
    summary = client.get(reverse("home")).context["summary"]
    rows = {row.code: (row.devices, row.overdue) for row in summary.by_region}
    counties = set(Region.objects.counties().within_prefix("6401").values_list("code", flat=True))
    assert set(rows) == counties  # every county listed, the empty ones too
    assert {code: counts for code, counts in rows.items() if counts != (0, 0)} == {
        XINGQING: (3, 1),
        XIXIA: (2, 0),
    }
    assert summary.totals.devices == Equipment.objects.within_prefix("6401").count()


def test_province_groups_by_city(client, users, world):
    client.force_login(users["province"])
    summary = client.get(reverse("home")).context["summary"]
    assert {row.code: row.devices for row in summary.by_region if row.devices} == {"6401": 5}
    assert {row.code for row in summary.by_region} == {"6401", "6402", "6403", "6404", "6405"}


def test_county_without_equipment_still_gets_its_map(client, users):
    client.force_login(users["dawukou"])
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert [(row.code, row.devices) for row in response.context["summary"].by_region] == [
        ("640202", 0)
    ]
    assert "大武口区" in response.content.decode()


def test_home_page_loads_no_asset_from_the_internet(client, users, world):
    client.force_login(users["xingqing"])
    page = client.get(reverse("home")).content.decode()
    assert "https://" not in page
    assert "http://" not in page


def test_home_query_count_does_not_grow_with_devices(
    client, users, make_equipment, django_assert_max_num_queries
):
    for _ in range(12):
        device = make_equipment(XINGQING)
        services.record_inspection(
            device, acting_user=None, conclusion="fail", inspected_on=dt.date(2026, 1, 5)
        )
    client.force_login(users["xingqing"])
    client.get(reverse("home"))  # the first view simplifies and stores the outlines (geo.outlines)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("home")).status_code == 200


def test_registry_text_cannot_run_as_code_in_the_map(client, users, world):
    """folium writes popups and tooltips into JavaScript template literals inside the page's own
    (nonce'd) script: a name with `${…}` or a backtick would run there, the CSP cannot stop it."""
    from registry.models import Accident, EmergencyResource
    from tests.conftest import inside

    hostile = "救援队${document.title='pwned'}`"
    EmergencyResource.objects.create(
        name=hostile, resource_type="rescue_team", location=inside(XINGQING), region_id=XINGQING
    )
    Accident.objects.create(
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        location=inside(XINGQING),
        region_id=XINGQING,
        kind=hostile,
    )
    client.force_login(users["xingqing"])
    page = client.get(reverse("home")).content.decode()
    assert "救援队" in page  # both are on the map
    assert "${document.title" not in page and "'pwned'}`" not in page
