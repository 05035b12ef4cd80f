"""The Django admin: scoped to the user's jurisdiction, writes through services, maps offline."""

from __future__ import annotations

import datetime as dt
import json
import re
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Agency, AuditEntry
from geo.models import Level, Region
from registry import services
from registry.models import (
    Accident,
    EmergencyResource,
    Equipment,
    Inspection,
    LifecycleEvent,
    Unit,
    UnitRole,
)
from registry.models.exchange import ExchangeConflict, ExchangePeer
from registry.synthetic.codes import certificate_number, national_id, registration_code
from tests.conftest import NINGXIA, XINGQING, XIXIA, YINCHUAN, inside

ADMIN_MODELS = [
    "geo.region",
    "accounts.agency",
    "accounts.user",
    "accounts.auditentry",
    "registry.variety",
    "registry.inspectionrule",
    "registry.equipment",
    "registry.inspection",
    "registry.lifecycleevent",
    "registry.unit",
    "registry.person",
    "registry.certificate",
    "registry.accident",
    "registry.emergencyresource",
    "registry.exchangepeer",
    "registry.exchangeconflict",
    "cylinders.cylinder",
    "licensing.licence",
    "cylinders.fillingrecord",
    "cylinders.violation",
    "cylinders.stationtoken",
]
EXTERNAL_ASSET = re.compile(
    r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I
)


def changelist(label: str) -> str:
    return f"/admin/{label.replace('.', '/')}/"


def change_page(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


@pytest.fixture
def staff(users):
    """Every fixture user as staff with all admin permissions; the agency still scopes them."""
    for user in users.values():
        user.is_staff = user.is_superuser = True
        user.save()
    return users


@pytest.fixture
def as_user(client, staff):
    def login(key: str):
        client.force_login(staff[key])
        return client

    return login


@pytest.fixture
def records(make_unit, make_equipment):
    """One record of each scoped kind in Xingqing and in Xixia (two counties of Yinchuan)."""
    made = {}
    for serial, code in enumerate((XINGQING, XIXIA), start=1):
        unit = make_unit(code, roles=(UnitRole.USE, UnitRole.MAINTENANCE))
        equipment = make_equipment(
            code,
            use_unit=unit,
            registration_code=registration_code("3110", code, dt.date(2015, 3, 1), serial),
            certificate_number=certificate_number("梯", "3110", "宁", "A", 900 + serial, 2020),
            rescue_id=f"{640100 + serial}",
        )
        inspection = services.record_inspection(
            equipment, acting_user=None, conclusion="pass", inspected_on=dt.date.today()
        )
        person = services.register_person(
            acting_user=None,
            name=f"测试人员{serial}",
            role="operator",
            region_code=code,
            employer=unit,
            national_id=national_id(code, dt.date(1990, 3, 7), serial),
            certificates=[
                {
                    "kind": "特种设备作业人员证",
                    "number": f"T{code}{serial:04d}",
                    "issued_on": dt.date(2022, 1, 1),
                    "expires_on": dt.date(2026, 1, 1),
                }
            ],
        )
        accident = services.record_accident(
            acting_user=None,
            occurred_at=timezone.now() - dt.timedelta(days=serial),
            kind="困人",
            equipment=equipment,
        )
        resource = services.register_resource(
            acting_user=None,
            name=f"救援队{serial}",
            resource_type="rescue_team",
            location=inside(code),
        )
        station = make_unit(code, roles=(UnitRole.FILLING,))
        cylinder = _filled_cylinder(station, code, serial)
        made[code] = SimpleNamespace(
            station=station,
            cylinder=cylinder,
            unit=unit,
            equipment=equipment,
            inspection=inspection,
            person=person,
            accident=accident,
            resource=resource,
        )
    # The national side's view of a province it pulls from, with one entry it refused.
    peer = ExchangePeer.objects.create(
        code=NINGXIA, name="宁夏", base_url="http://127.0.0.1:9/", token="not-shown-anywhere"
    )
    ExchangeConflict.objects.create(
        peer=peer,
        seq=7,
        kind="outside_province",
        operation="create",
        model="registry.Equipment",
        origin_pk=1,
        division_code="110101",
        message="区划不属于该省",
    )
    return made


def _filled_cylinder(station, code: str, serial: int):
    """A filling station's licence, key and cylinder, filled once while overdue (a violation)."""
    from cylinders import services as cylinder_services

    cylinder_services.grant_filling_licence(
        station, acting_user=None, number=f"TS4{code}-2030", valid_until=dt.date(2030, 1, 1)
    )
    cylinder = cylinder_services.register_cylinder(
        acting_user=None, owner=station, tag=f"ADMT{code}", maker_name="气瓶厂",
        serial_number=f"ADMS{serial}", made_on=dt.date(2020, 1, 1), kind="lpg", volume_l="35.5",
        working_pressure_mpa="2.1", design_life_years=8,
        next_inspection_due=dt.date.today() - dt.timedelta(days=20),
    )  # fmt: skip
    row = {"tag": cylinder.tag, "filled_at": timezone.now().isoformat(), "medium": "液化石油气",
           "quantity_kg": "14.5", "check_result": "pass", "operator_certificate": f"ADMO{code}"}  # fmt: skip
    cylinder_services.record_fillings(station, [row], acting_user=None)
    cylinder_services.issue_station_token(station, acting_user=None)  # its machine key
    return cylinder


def test_exchange_admin_is_national_and_never_shows_the_token(as_user, records):
    national = as_user("national")
    page = national.get(changelist("registry.exchangepeer"))
    assert page.status_code == 200 and "not-shown-anywhere" not in page.content.decode()
    peer = ExchangePeer.objects.get()
    assert "not-shown-anywhere" not in national.get(change_page(peer)).content.decode()
    for label in ("registry.exchangepeer", "registry.exchangeconflict"):
        assert as_user("province").get(changelist(label)).status_code == 403


def test_every_registered_model_is_covered():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered - {"auth.group"} == set(ADMIN_MODELS)


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_changelist_and_change_page_load_for_a_national_user(label, as_user, records):
    client = as_user("national")
    assert client.get(changelist(label)).status_code == 200
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"no {label} to open"
    assert client.get(change_page(obj)).status_code == 200


@pytest.mark.parametrize(
    ("label", "record"),
    [
        ("registry.equipment", "equipment"),
        ("registry.unit", "unit"),
        ("registry.accident", "accident"),
        ("registry.emergencyresource", "resource"),
        ("registry.person", "person"),
    ],
)
def test_county_user_lists_only_own_county(label, record, as_user, records):
    response = as_user("xingqing").get(changelist(label))
    shown = response.context["cl"].queryset
    assert set(shown.values_list("region_id", flat=True)) == {XINGQING}
    assert shown.filter(pk=getattr(records[XIXIA], record).pk).exists() is False
    assert shown.filter(pk=getattr(records[XINGQING], record).pk).exists()


@pytest.mark.parametrize("label", ["registry.inspection", "registry.lifecycleevent"])
def test_county_user_lists_only_history_of_own_county(label, as_user, records):
    shown = as_user("xingqing").get(changelist(label)).context["cl"].queryset
    assert shown.exists()
    assert set(shown.values_list("equipment__region_id", flat=True)) == {XINGQING}


def test_city_user_lists_both_counties(as_user, records):
    shown = as_user("city").get(changelist("registry.equipment")).context["cl"].queryset
    assert set(shown.values_list("region_id", flat=True)) == {XINGQING, XIXIA}


@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_another_countys_equipment_answers_404(page, as_user, records):
    device = records[XIXIA].equipment
    url = f"/admin/registry/equipment/{device.pk}/{page}/"
    assert as_user("xingqing").get(url).status_code == 404
    assert as_user("xixia").get(url).status_code == (403 if page == "delete" else 200)


def test_another_countys_region_answers_404(as_user):
    client = as_user("xingqing")
    assert client.get(f"/admin/geo/region/{XIXIA}/change/").status_code == 404
    assert client.get(f"/admin/geo/region/{XINGQING}/change/").status_code == 200


@pytest.mark.parametrize(
    "code",
    [
        "device_code",
        "registration_code",
        "certificate_number",
        "rescue_id",
        "unit_name",
        "credit_code",
    ],
)
def test_equipment_search_by_each_code(code, as_user, records):
    device = records[XINGQING].equipment
    term = {
        "unit_name": device.use_unit.name,
        "credit_code": device.use_unit.credit_code,
    }.get(code) or getattr(device, code)
    found = as_user("national").get(changelist("registry.equipment"), {"q": term})
    assert device.pk in {e.pk for e in found.context["cl"].result_list}
    assert records[XIXIA].equipment.pk not in {e.pk for e in found.context["cl"].result_list}


def test_certificate_search_accepts_full_width_brackets(as_user, records):
    device = records[XINGQING].equipment
    full_width = device.certificate_number.replace("(", "（").replace(")", "）")
    found = as_user("national").get(changelist("registry.equipment"), {"q": full_width})
    assert [e.pk for e in found.context["cl"].result_list] == [device.pk]


def test_overdue_filter_matches_the_queryset_rule(as_user, make_equipment):
    overdue = make_equipment(commissioned_on=dt.date(2001, 1, 1))  # first inspection long past
    current = make_equipment(commissioned_on=dt.date.today())
    failed = make_equipment()
    services.record_inspection(
        failed, acting_user=None, conclusion="fail", inspected_on=dt.date.today()
    )
    today = dt.date.today()
    expected = {
        e.pk
        for e in Equipment.objects.all()
        if e.status == "in_use" and (e.next_inspection_due is None or e.next_inspection_due < today)
    }
    assert expected >= {overdue.pk, failed.pk} and current.pk not in expected

    client = as_user("national")
    shown = client.get(changelist("registry.equipment"), {"overdue": "yes"}).context["cl"]
    assert set(shown.queryset.values_list("pk", flat=True)) == expected
    assert all(row.is_overdue for row in shown.result_list)
    not_shown = client.get(changelist("registry.equipment"), {"overdue": "no"}).context["cl"]
    assert set(not_shown.queryset.values_list("pk", flat=True)) == {current.pk}


def test_region_filter_lists_only_the_jurisdiction(as_user, records):
    response = as_user("city").get(changelist("registry.equipment"))
    spec = next(s for s in response.context["cl"].filter_specs if s.parameter_name == "region")
    codes = {code for code, _ in spec.lookup_choices}
    assert XINGQING in codes and XIXIA in codes
    assert all(code.startswith("6401") for code in codes)

    filtered = as_user("city").get(changelist("registry.equipment"), {"region": XIXIA})
    assert set(filtered.context["cl"].queryset.values_list("region_id", flat=True)) == {XIXIA}
    # A region outside the jurisdiction selects nothing, rather than everything.
    outside = as_user("city").get(changelist("registry.equipment"), {"region": "640202"})
    assert not outside.context["cl"].queryset.exists()
    # A county has nothing to drill into: the parameter is ignored, the county still scopes.
    county = as_user("xingqing").get(changelist("registry.equipment"), {"region": XIXIA})
    assert set(county.context["cl"].queryset.values_list("region_id", flat=True)) == {XINGQING}


def test_province_user_drills_down_from_cities_to_counties(as_user):
    client = as_user("province")
    top = client.get(changelist("registry.unit")).context["cl"].filter_specs[0]
    levels = set(
        Region.objects.filter(code__in=[c for c, _ in top.lookup_choices]).values_list(
            "level", flat=True
        )
    )
    assert levels == {Level.CITY}
    drilled = (
        client.get(changelist("registry.unit"), {"region": YINCHUAN}).context["cl"].filter_specs[0]
    )
    assert {XINGQING, XIXIA} <= {c for c, _ in drilled.lookup_choices}


def test_equipment_change_page_loads_nothing_from_the_internet(as_user, records):
    html = as_user("national").get(change_page(records[XINGQING].equipment)).content.decode()
    assert "vendor/ol/ol.js" in html and "js/offline-basemap.js" in html
    assert "/admin/geo/region/basemap.geojson" in html
    assert not EXTERNAL_ASSET.search(html), EXTERNAL_ASSET.search(html).group(0)
    assert "cdn.jsdelivr.net" not in html and "earthdata" not in html


def test_read_only_geometry_is_drawn_on_a_map(as_user):
    # Regions are read only: the boundary is a disabled map, not pages of WKT.
    html = as_user("xingqing").get(f"/admin/geo/region/{XINGQING}/change/").content.decode()
    assert 'id="id_boundary_map_map"' in html
    assert "MULTIPOLYGON" not in html
    # The widget's options are data attributes (the CSP runs no inline script).
    assert 'data-module="geodjango_boundary_map"' in html and 'data-readonly="true"' in html


def test_map_opens_on_the_users_jurisdiction(as_user):
    html = as_user("xingqing").get("/admin/registry/equipment/add/").content.decode()
    lon = float(re.search(r'data-default-lon="([\d.]+)"', html).group(1))
    lat = float(re.search(r'data-default-lat="([\d.]+)"', html).group(1))
    zoom = float(re.search(r'data-default-zoom="([\d.]+)"', html).group(1))
    xmin, ymin, xmax, ymax = Region.objects.get(code=XINGQING).boundary.extent
    assert xmin < lon < xmax and ymin < lat < ymax
    assert 8 <= zoom <= 12  # a county is tens of kilometres across


def test_basemap_is_the_users_jurisdiction(as_user, client):
    assert client.get("/admin/geo/region/basemap.geojson").status_code == 302  # login first
    collection = json.loads(as_user("xingqing").get("/admin/geo/region/basemap.geojson").content)
    assert [f["properties"]["code"] for f in collection["features"]] == [XINGQING]
    feature = collection["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert feature["properties"]["name"] == "兴庆区" and feature["properties"]["outer"] is True

    province = json.loads(as_user("province").get("/admin/geo/region/basemap.geojson").content)
    codes = [f["properties"]["code"] for f in province["features"]]
    assert NINGXIA in codes and XINGQING in codes
    assert all(code.startswith("64") for code in codes)


@pytest.mark.parametrize("devices", [5, 50])
def test_equipment_changelist_query_count_is_bounded(
    devices, as_user, make_equipment, django_assert_max_num_queries
):
    for _ in range(devices):
        make_equipment()
    client = as_user("national")
    with django_assert_max_num_queries(12):
        response = client.get(changelist("registry.equipment"))
    assert len(response.context["cl"].result_list) == devices


def test_equipment_changelist_queries_do_not_grow_with_rows(as_user, make_equipment):
    client = as_user("national")
    counts = []
    for _ in range(2):
        for _ in range(20):
            make_equipment()
        with CaptureQueriesContext(connection) as queries:
            client.get(changelist("registry.equipment"))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def equipment_form(use_unit: Unit, **fields) -> dict[str, str]:
    point = inside(use_unit.region_id).transform(3857, clone=True)
    data = {
        "variety": "3110",
        "device_code": "3110T12342021" + "00001",
        "registration_code": "",
        "certificate_number": "",
        "rescue_id": "",
        "location": point.json,
        "address": "测试路1号",
        "declared_region_code": "",
        "route": "",
        "use_unit": str(use_unit.pk),
        "maintenance_unit": "",
        "manufacturer": "",
        "installer": "",
        "manufactured_on": "",
        "commissioned_on": "2024-01-01",
        "params": "{}",
    }
    data.update(fields)
    return data


def test_add_equipment_with_an_invalid_device_code_shows_the_error(as_user, make_unit):
    unit = make_unit(XINGQING)
    before = (Equipment.objects.count(), LifecycleEvent.objects.count(), AuditEntry.objects.count())
    response = as_user("xingqing").post(
        "/admin/registry/equipment/add/", equipment_form(unit, device_code="3110T1234")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "device_code" in errors and "18" in errors["device_code"][0]
    after = (Equipment.objects.count(), LifecycleEvent.objects.count(), AuditEntry.objects.count())
    assert after == before


def test_add_equipment_goes_through_the_registration_service(as_user, make_unit, staff):
    unit = make_unit(XINGQING)
    response = as_user("xingqing").post("/admin/registry/equipment/add/", equipment_form(unit))
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    device = Equipment.objects.get(device_code="3110T1234202100001")
    assert device.region_id == XINGQING and device.kind == "3000"
    assert device.next_inspection_due is not None  # set by the interval rule on registration
    assert device.events.filter(kind="registration").count() == 1
    entry = AuditEntry.objects.get(action="equipment.registered", object_pk=str(device.pk))
    assert entry.actor == staff["xingqing"]


def test_add_equipment_outside_the_jurisdiction_is_a_location_error(as_user, make_unit):
    unit = make_unit(XINGQING)
    form = equipment_form(unit, location=inside(XIXIA).transform(3857, clone=True).json)
    response = as_user("xingqing").post("/admin/registry/equipment/add/", form)
    assert response.status_code == 200
    assert "location" in response.context["adminform"].form.errors
    assert not Equipment.objects.filter(device_code="3110T1234202100001").exists()


def change_form(device: Equipment, **fields) -> dict[str, str]:
    data = {
        "certificate_number": device.certificate_number,
        "rescue_id": device.rescue_id,
        "status": device.status,
        "location": device.location.transform(3857, clone=True).json,
        "address": device.address,
        "maintenance_unit": str(device.maintenance_unit_id or ""),
        "manufactured_on": "",
        "commissioned_on": str(device.commissioned_on or ""),
        "params": json.dumps(device.params),
        # The version the page would have been drawn at: the record's as it is now.
        "seen_version": str(Equipment.objects.get(pk=device.pk).version),
    }
    data.update(fields)
    return data


def test_change_equipment_goes_through_the_update_and_status_services(as_user, records):
    device = records[XINGQING].equipment
    response = as_user("xingqing").post(
        change_page(device), change_form(device, address="新地址8号", status="suspended")
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.address == "新地址8号" and device.status == "suspended"
    actions = set(
        AuditEntry.objects.filter(object_pk=str(device.pk)).values_list("action", flat=True)
    )
    assert {"equipment.updated", "equipment.status_changed"} <= actions
    assert device.events.filter(kind="suspension").exists()


def test_refused_status_change_is_a_status_error(as_user, records):
    device = services.change_equipment_status(
        records[XINGQING].equipment, "scrapped", acting_user=None
    )
    response = as_user("xingqing").post(change_page(device), change_form(device, status="in_use"))
    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    device.refresh_from_db()
    assert device.status == "scrapped"


def test_add_inspection_moves_the_due_date(as_user, make_equipment):
    device = make_equipment()
    inspected_on = dt.date.today() - dt.timedelta(days=1)
    response = as_user("xingqing").post(
        "/admin/registry/inspection/add/",
        {
            "equipment": str(device.pk),
            "kind": "periodic",
            "inspected_on": inspected_on.isoformat(),
            "conclusion": "pass",
            "defects": "0",
            "defect_notes": "",
            "report_number": "R-1",
            "body": "",
            "inspector": "",
        },
    )
    assert response.status_code == 302
    inspection = Inspection.objects.get(equipment=device, report_number="R-1")
    device.refresh_from_db()
    assert inspection.next_due is not None and device.next_inspection_due == inspection.next_due


def test_inspection_of_another_countys_equipment_is_refused(as_user, records):
    response = as_user("xingqing").post(
        "/admin/registry/inspection/add/",
        {
            "equipment": str(records[XIXIA].equipment.pk),
            "kind": "periodic",
            "inspected_on": dt.date.today().isoformat(),
            "conclusion": "pass",
            "defects": "0",
        },
    )
    assert response.status_code == 200
    assert "equipment" in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("label", "model"),
    [("registry.lifecycleevent", LifecycleEvent), ("accounts.auditentry", AuditEntry)],
)
def test_history_is_read_only(label, model, as_user, records):
    client = as_user("national")
    obj = model.objects.first()
    assert client.get(changelist(label) + "add/").status_code == 403
    assert client.post(change_page(obj), {}).status_code == 403
    assert client.get(f"/admin/{label.replace('.', '/')}/{obj.pk}/delete/").status_code == 403
    html = client.get(change_page(obj)).content.decode()
    assert 'name="_save"' not in html


def test_person_page_shows_only_the_masked_national_id(as_user, records):
    person = records[XINGQING].person
    html = as_user("xingqing").get(change_page(person)).content.decode()
    assert person.national_id_masked in html
    assert person.national_id_encrypted not in html and person.national_id_hash not in html
    assert national_id(XINGQING, dt.date(1990, 3, 7), 1) not in html


def test_person_found_by_national_id_through_its_hash(as_user, records):
    number = national_id(XINGQING, dt.date(1990, 3, 7), 1)
    found = as_user("national").get(changelist("registry.person"), {"q": number})
    assert [p.pk for p in found.context["cl"].result_list] == [records[XINGQING].person.pk]


def test_foreign_key_choices_are_scoped(as_user, records):
    form = as_user("xingqing").get("/admin/registry/equipment/add/").context["adminform"].form
    assert set(form.fields["use_unit"].queryset.values_list("region_id", flat=True)) == {XINGQING}
    autocomplete = as_user("xingqing").get(
        "/admin/autocomplete/",
        {"app_label": "registry", "model_name": "equipment", "field_name": "use_unit", "term": ""},
    )
    names = {r["text"] for r in json.loads(autocomplete.content)["results"]}
    assert records[XINGQING].unit.name in names and records[XIXIA].unit.name not in names


def test_county_user_cannot_create_a_wider_agency(as_user):
    response = as_user("xingqing").post(
        "/admin/accounts/agency/add/",
        {"name": "假省局", "level": Level.PROVINCE, "region": XINGQING},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Agency.objects.filter(name="假省局").exists()


def test_unit_added_through_the_registration_service(as_user):
    from registry.synthetic.codes import credit_code

    response = as_user("xingqing").post(
        "/admin/registry/unit/add/",
        {
            "name": "后台新增单位",
            "credit_code": credit_code(XINGQING, 4242),
            "roles": ["use"],
            "address": "",
            "location": inside(XINGQING).transform(3857, clone=True).json,
            "region": "",
            "contact_name": "",
            "contact_phone": "",
        },
    )
    assert response.status_code == 302
    unit = Unit.objects.get(name="后台新增单位")
    assert unit.region_id == XINGQING
    assert AuditEntry.objects.filter(action="unit.registered", object_pk=str(unit.pk)).exists()


@pytest.mark.parametrize("model", [Accident, EmergencyResource, Unit])
def test_place_is_not_editable_after_registration(model, as_user, records):
    # No service re-places these records yet: location and region stay as registered.
    obj = model.objects.filter(region_id=XINGQING).first()
    form = as_user("xingqing").get(change_page(obj)).context["adminform"].form
    assert "location" not in form.fields and "region" not in form.fields


def test_current_maintenance_unit_elsewhere_keeps_the_device_editable(as_user, records):
    # Maintenance companies serve whole cities: a Xixia company may maintain a Xingqing lift.
    device = records[XINGQING].equipment
    Equipment.objects.filter(pk=device.pk).update(maintenance_unit=records[XIXIA].unit)
    device.refresh_from_db()
    client = as_user("xingqing")
    form = client.get(change_page(device)).context["adminform"].form
    choices = form.fields["maintenance_unit"].queryset
    assert set(choices.values_list("region_id", flat=True)) == {XINGQING, XIXIA}
    assert choices.filter(region_id=XIXIA).count() == 1  # that one company, not the county
    response = client.post(change_page(device), change_form(device, address="改了地址"))
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.address == "改了地址" and device.maintenance_unit == records[XIXIA].unit


def test_staff_who_are_not_superusers_cannot_grant_superuser(client, users):
    from django.contrib.auth.models import Permission

    editor = users["city"]
    editor.is_staff = True
    editor.save()
    editor.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    client.force_login(editor)
    target = users["xingqing"]
    form = client.get(change_page(target)).context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields
    assert "agency" in form.fields and "password" in form.fields  # still the auth change form
    assert client.get(change_page(users["dawukou"])).status_code == 404  # another city


def test_only_superusers_change_groups(client, users):
    from django.contrib.auth.models import Permission

    editor = users["city"]
    editor.is_staff = True
    editor.save()
    editor.user_permissions.set(Permission.objects.filter(content_type__app_label="auth"))
    client.force_login(editor)
    assert client.get("/admin/auth/group/add/").status_code == 403
