"""Detail pages of equipment, units, accidents and resources: scoped, masked, offline, bounded."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from geo.offline import external_asset_urls
from registry import services
from registry.models import UnitRole
from registry.models.equipment import LifecycleEventKind
from registry.personal import mask_name, mask_phone
from tests.conftest import XINGQING, XIXIA, inside

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
REGISTRATION = "31106401042020060001"


@pytest.fixture
def records(make_unit, make_equipment):
    """One of each record in Xingqing: an overdue elevator with history, its units, an accident, a resource."""
    user_unit = make_unit(
        XINGQING, contact_name="张三", contact_phone=PHONE, name="兴庆电梯使用单位"
    )
    maintainer = make_unit(XINGQING, roles=(UnitRole.MAINTENANCE,), name="兴庆维保公司")
    device = make_equipment(
        XINGQING,
        use_unit=user_unit,
        maintenance_unit=maintainer,
        registration_code=REGISTRATION,
        params={"rated_load_kg": 1000, "speed_mps": 1.75, "door_type": "中分"},
    )
    services.record_inspection(
        device, acting_user=None, conclusion="pass", inspected_on=dt.date(2021, 6, 1)
    )
    services.record_inspection(
        device,
        acting_user=None,
        conclusion="fail",
        inspected_on=dt.date(2023, 6, 1),
        report_number="REPORT-LATEST",
    )
    services.record_lifecycle_event(
        device,
        acting_user=None,
        kind=LifecycleEventKind.MAJOR_REPAIR,
        occurred_on=dt.date(2022, 3, 1),
    )
    accident = services.record_accident(
        acting_user=None,
        occurred_at=timezone.now() - dt.timedelta(days=3),
        kind="困人事故",
        equipment=device,
        address="兴庆区某小区",
    )
    resource = services.register_resource(
        acting_user=None,
        name="兴庆应急救援队",
        resource_type="rescue_team",
        location=inside(XINGQING),
        contact_name="李四",
        contact_phone=PHONE,
    )
    return {
        "equipment": device,
        "unit": user_unit,
        "maintainer": maintainer,
        "accident": accident,
        "resource": resource,
    }


PAGES = {
    "equipment": (
        "equipment-page",
        lambda r: [r.device_code, REGISTRATION, "兴庆电梯使用单位"],
    ),
    "unit": ("unit-page", lambda r: [r.name, r.credit_code]),
    "accident": ("accident-page", lambda r: [r.kind, "兴庆区某小区"]),
    "resource": ("resource-page", lambda r: [r.name, "李四"]),
}


def _get(client, user, key, records):
    name, _ = PAGES[key]
    client.force_login(user)
    return client.get(reverse(name, args=[records[key].pk]))


@pytest.mark.parametrize("key", PAGES)
def test_county_user_sees_the_record(client, users, records, key):
    response = _get(client, users["xingqing"], key, records)
    assert response.status_code == 200
    page = response.content.decode()
    for fact in PAGES[key][1](records[key]):
        assert fact in page, fact
    assert 'class="folium-map"' in page or "L.map(" in page


@pytest.mark.parametrize("key", PAGES)
def test_city_user_sees_its_countys_record(client, users, records, key):
    assert _get(client, users["city"], key, records).status_code == 200


@pytest.mark.parametrize("key", PAGES)
def test_other_county_gets_404_like_a_missing_record(client, users, records, key):
    assert _get(client, users["xixia"], key, records).status_code == 404
    client.force_login(users["xingqing"])
    assert client.get(reverse(PAGES[key][0], args=[2_147_480_000])).status_code == 404


@pytest.mark.parametrize("key", PAGES)
def test_anonymous_is_sent_to_login(client, records, key):
    response = client.get(reverse(PAGES[key][0], args=[records[key].pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("key", PAGES)
def test_page_loads_nothing_from_the_internet(client, users, records, key):
    page = _get(client, users["xingqing"], key, records).content.decode()
    assert external_asset_urls(page) == []
    assert "http://" not in page and "https://" not in page


@pytest.mark.parametrize("key", ["unit", "resource"])
def test_analyst_sees_masked_phone_supervisor_sees_it(client, users, records, key):
    masked = _get(client, users["xingqing_analyst"], key, records).content.decode()
    assert PHONE not in masked
    assert mask_phone(PHONE) in masked
    assert PHONE in _get(client, users["xingqing"], key, records).content.decode()


CONTACTS = {"unit": "张三", "resource": "李四"}


def personal_reads() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="personal_data.read").order_by("id"))


@pytest.mark.parametrize("key", CONTACTS)
def test_analyst_sees_the_contact_by_surname_only_and_leaves_no_read(client, users, records, key):
    page = _get(client, users["xingqing_analyst"], key, records).content.decode()
    assert CONTACTS[key] not in page
    assert mask_name(CONTACTS[key]) in page
    assert personal_reads() == []


@pytest.mark.parametrize("key", CONTACTS)
def test_each_full_read_of_a_page_leaves_one_audit_row(client, users, records, key):
    for _ in range(2):
        _get(client, users["xingqing"], key, records)
    record = records[key]
    rows = personal_reads()
    assert [(r.model, r.object_pk, r.actor.username) for r in rows] == [
        (record._meta.label, str(record.pk), "xingqing")
    ] * 2
    assert rows[0].after["fields"] == ["contact_name", "contact_phone"]
    assert rows[0].after["purpose"] == f"{record._meta.model_name} page"
    assert rows[0].region_code == XINGQING


def test_unit_page_staff_are_masked_for_the_analyst_and_named_in_the_read(client, users, records):
    staff_phone = "13611112222"
    person = services.register_person(
        acting_user=None,
        name="赵六",
        role="operator",
        employer=records["unit"],
        phone=staff_phone,
        region_code=XINGQING,
    )
    masked = _get(client, users["xingqing_analyst"], "unit", records).content.decode()
    assert "赵六" not in masked and staff_phone not in masked
    assert mask_name("赵六") in masked and mask_phone(staff_phone) in masked
    full = _get(client, users["xingqing"], "unit", records).content.decode()
    assert "赵六" in full and staff_phone in full
    (row,) = personal_reads()
    assert row.after["fields"] == ["contact_name", "contact_phone", "staff.name", "staff.phone"]
    assert row.after["related"] == {"registry.Person": [person.pk]}


@pytest.mark.parametrize("key", ["equipment", "accident", "maintainer"])
def test_pages_showing_no_personal_data_leave_no_read(client, users, records, key):
    client.force_login(users["xingqing"])
    name = "unit-page" if key == "maintainer" else PAGES[key][0]
    assert client.get(reverse(name, args=[records[key].pk])).status_code == 200
    assert personal_reads() == []


def test_equipment_page_shows_overdue_history_and_links(client, users, records):
    device, unit, maintainer = records["equipment"], records["unit"], records["maintainer"]
    response = _get(client, users["xingqing"], "equipment", records)
    page = response.content.decode()
    assert "逾期" in page  # the failed inspection left it without a due date
    assert reverse("unit-page", args=[unit.pk]) in page
    assert reverse("unit-page", args=[maintainer.pk]) in page
    assert reverse("accident-page", args=[records["accident"].pk]) in page
    assert "重大修理" in page
    # Parameters by the catalogue's labels and units, in its order; a key it does not define as given.
    assert response.context["params"] == [
        ("额定载重量", "1000 kg"),
        ("额定速度", "1.75 m/s"),
        ("door_type", "中分"),
    ]
    assert "rated_load_kg" not in page
    dates = [i.inspected_on for i in response.context["inspections"]]
    assert dates == [dt.date(2023, 6, 1), dt.date(2021, 6, 1)]
    assert page.index("REPORT-LATEST") < page.index("2021-06-01")
    assert device.device_code in page


def test_equipment_page_names_an_out_of_jurisdiction_unit_without_a_link(
    client, users, make_unit, make_equipment
):
    theirs = make_unit(XIXIA, roles=(UnitRole.MAINTENANCE,), name="西夏维保公司")
    device = make_equipment(XINGQING, maintenance_unit=theirs)
    client.force_login(users["xingqing"])
    page = client.get(reverse("equipment-page", args=[device.pk])).content.decode()
    assert "西夏维保公司" in page
    assert reverse("unit-page", args=[theirs.pk]) not in page


def test_equipment_page_flags_a_region_mismatch(client, users, make_equipment):
    device = make_equipment(XINGQING, declared_region_code=XIXIA)
    assert device.region_mismatch
    client.force_login(users["xingqing"])
    page = client.get(reverse("equipment-page", args=[device.pk])).content.decode()
    assert "区划不符" in page


def test_pipeline_page_draws_its_route(client, users, make_equipment):
    from django.contrib.gis.geos import LineString, MultiLineString

    start = inside(XINGQING)
    route = MultiLineString(
        LineString((start.x, start.y), (start.x + 0.001, start.y + 0.001)), srid=4326
    )
    device = make_equipment(XINGQING, variety_code="8110", route=route)
    client.force_login(users["xingqing"])
    response = client.get(reverse("equipment-page", args=[device.pk]))
    assert response.status_code == 200
    assert "MultiLineString" in response.content.decode()


def test_unit_page_counts_and_lists_its_devices_in_the_jurisdiction(
    client, users, records, make_equipment
):
    unit = records["unit"]
    more = [make_equipment(XINGQING, use_unit=unit) for _ in range(2)]
    elsewhere = make_equipment(XIXIA, use_unit=unit, device_code="3110XIXIA202000001")
    client.force_login(users["xingqing"])
    response = client.get(reverse("unit-page", args=[unit.pk]))
    counts = {row["kind"]: row["used"] for row in response.context["counts"]}
    assert counts == {"3000": 3}
    page = response.content.decode()
    for device in [records["equipment"], *more]:
        assert reverse("equipment-page", args=[device.pk]) in page
    assert elsewhere.device_code not in page


def test_unit_page_lists_at_most_fifty_devices(client, users, make_unit, make_equipment):
    unit = make_unit(XINGQING)
    for _ in range(52):
        make_equipment(XINGQING, use_unit=unit)
    client.force_login(users["xingqing"])
    response = client.get(reverse("unit-page", args=[unit.pk]))
    assert len(response.context["devices"]) == 50
    assert sum(row["used"] for row in response.context["counts"]) == 52


@pytest.mark.parametrize("key", PAGES)
def test_page_runs_a_bounded_number_of_queries(
    client, users, records, make_equipment, key, django_assert_max_num_queries
):
    # More history must not mean more queries.
    for _ in range(5):
        make_equipment(XINGQING, use_unit=records["unit"])
    for year in (2019, 2020):
        services.record_inspection(
            records["equipment"],
            acting_user=None,
            conclusion="pass",
            inspected_on=dt.date(year, 1, 1),
        )
    client.force_login(users["xingqing"])
    url = reverse(PAGES[key][0], args=[records[key].pk])
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
