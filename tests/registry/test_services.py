"""Registry write services: validated, placed by point-in-polygon, atomic, and nothing saved on refusal."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from accounts.models import AuditEntry, User
from geo import crs
from geo.models import Region
from registry import personal, services
from registry.exceptions import RegistryError
from registry.models import (
    Accident,
    Certificate,
    EmergencyResource,
    Equipment,
    EquipmentStatus,
    Inspection,
    LifecycleEvent,
    Person,
    Unit,
    Variety,
)
from registry.models.equipment import LifecycleEventKind
from registry.synthetic.codes import credit_code
from tests.conftest import inside, months_later

pytestmark = pytest.mark.django_db

XINGQING, XIXIA = "640104", "640105"
COMMISSIONED = dt.date(2020, 6, 1)
COUNTED = (
    Unit,
    Equipment,
    LifecycleEvent,
    Inspection,
    Person,
    Certificate,
    Accident,
    EmergencyResource,
    AuditEntry,
)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def expect_refusal(call, field: str, rule: str) -> RegistryError:
    """Run a service that must refuse: the error names the field and the rule, and no table changed."""
    before = row_counts()
    with pytest.raises(RegistryError) as caught:
        call()
    assert (field, rule) in {(f.field, f.rule) for f in caught.value.findings}, (
        caught.value.findings
    )
    assert field in caught.value.as_dict()
    assert row_counts() == before
    return caught.value


def county_contains(code: str, geometry) -> bool:
    return Region.objects.filter(code=code, boundary__contains=geometry).exists()


def short_route(county: str) -> LineString:
    start = inside(county)
    line = LineString((start.x, start.y), (start.x + 0.002, start.y + 0.001), srid=4326)
    assert county_contains(county, line)
    return line


def equipment_kwargs(make_unit, *, county=XINGQING, variety="3110", serial=1, **fields):
    fields.setdefault("use_unit", make_unit(county))
    fields.setdefault("location", inside(county))
    fields.setdefault("device_code", f"{variety}T9876{2021}{serial:05d}")
    fields.setdefault("commissioned_on", COMMISSIONED)
    return {"acting_user": None, "variety_code": variety, **fields}


# --- register_equipment: the happy path ------------------------------------------------------


def test_register_equipment_places_the_device_in_its_county(make_unit):
    equipment, warnings = services.register_equipment(**equipment_kwargs(make_unit))
    assert warnings == []
    assert equipment.region_id == XINGQING
    assert county_contains(XINGQING, equipment.location)
    assert equipment.location.srid == 4326


def test_register_equipment_denormalises_the_kind_from_the_variety(make_unit):
    equipment, _ = services.register_equipment(**equipment_kwargs(make_unit, variety="4170"))
    equipment.refresh_from_db()
    assert (equipment.variety_id, equipment.kind) == ("4170", "4000")


def test_register_equipment_writes_the_registration_event(make_unit):
    unit = make_unit(XINGQING)
    equipment, _ = services.register_equipment(
        **equipment_kwargs(
            make_unit,
            use_unit=unit,
            registered_on=dt.date(2020, 7, 1),
            certificate_number="梯11宁A00012（20）",
        )
    )
    events = list(equipment.events.values_list("kind", "occurred_on", "unit_id", "details"))
    assert events == [
        ("registration", dt.date(2020, 7, 1), unit.pk, {"certificate_number": "梯11宁A00012(20)"})
    ]


@pytest.mark.parametrize(
    ("variety", "params", "months"),
    [
        ("3110", {}, 12),  # elevators yearly
        ("4110", {"molten_metal": True}, 12),
        ("4110", {"molten_metal": False}, 24),
        ("4310", {}, 12),  # tower cranes
        ("2150", {"safety_grade": 1}, 36),  # fixed vessel: first inspection within 3 years
        ("5110", {}, 12),
    ],
)
def test_first_due_date_comes_from_the_rule_table(make_unit, variety, params, months):
    equipment, _ = services.register_equipment(
        **equipment_kwargs(make_unit, variety=variety, params=params)
    )
    assert equipment.next_inspection_due == months_later(COMMISSIONED, months)


def test_no_commissioning_date_no_due_date(make_unit):
    equipment, _ = services.register_equipment(**equipment_kwargs(make_unit, commissioned_on=None))
    assert equipment.next_inspection_due is None


def test_pipeline_is_stored_as_a_multilinestring_route(make_unit):
    line = short_route(XINGQING)
    equipment, _ = services.register_equipment(
        **equipment_kwargs(
            make_unit, variety="8210", location=None, route=line, params={"pipeline_grade": "GB1"}
        )
    )
    equipment.refresh_from_db()
    assert equipment.location is None
    assert isinstance(equipment.route, MultiLineString)
    assert equipment.route.equals_exact(MultiLineString(line, srid=4326), 1e-12)
    assert (equipment.region_id, equipment.kind) == (XINGQING, "8000")


@pytest.mark.parametrize("source", [crs.CRS.GCJ02, crs.CRS.BD09])
def test_obfuscated_input_is_converted_before_storage(make_unit, source):
    truth = inside(XINGQING)
    x, y = crs.from_wgs84(truth.x, truth.y, source)
    assert math.dist((x, y), (truth.x, truth.y)) > 0.001  # the offset is hundreds of metres
    equipment, _ = services.register_equipment(
        **equipment_kwargs(make_unit, location=Point(x, y, srid=4326), source_crs=source.value)
    )
    equipment.refresh_from_db()
    expected = crs.to_wgs84(x, y, source)
    assert equipment.location.x == pytest.approx(expected[0], abs=1e-9)
    assert equipment.location.y == pytest.approx(expected[1], abs=1e-9)
    assert math.dist(equipment.location.coords, (truth.x, truth.y)) < 1e-7  # back on the true point
    assert equipment.source_crs == source.value


def test_point_given_as_a_lon_lat_tuple(make_unit):
    point = inside(XIXIA)
    equipment, _ = services.register_equipment(
        **equipment_kwargs(make_unit, county=XIXIA, location=(point.x, point.y))
    )
    assert equipment.region_id == XIXIA


# --- register_equipment: warnings, not refusals ----------------------------------------------


def test_seventeen_character_device_code_is_accepted_with_a_warning(make_unit):
    code = "3110T123420210001"
    assert len(code) == 17
    equipment, warnings = services.register_equipment(
        **equipment_kwargs(make_unit, device_code=code)
    )
    assert equipment.device_code == code
    assert [f.rule for f in warnings] == ["device_code.length_17"]
    assert {f.severity for f in warnings} == {"warning"}


def test_retired_variety_is_mapped_to_its_successor_with_warnings(make_unit):
    equipment, warnings = services.register_equipment(
        **equipment_kwargs(make_unit, variety="5220", device_code="5220T1234202100001")
    )
    assert Variety.objects.get(code="5220").replaced_by_id == "5200"
    assert (equipment.variety_id, equipment.kind) == ("5200", "5000")
    assert {f.rule for f in warnings} == {"catalogue.retired", "device_code.variety_retired"}


def test_declared_division_that_disagrees_sets_region_mismatch(make_unit):
    equipment, warnings = services.register_equipment(
        **equipment_kwargs(make_unit, declared_region_code=XIXIA)
    )
    equipment.refresh_from_db()
    assert (equipment.region_id, equipment.declared_region_code, equipment.region_mismatch) == (
        XINGQING,
        XIXIA,
        True,
    )
    [finding] = warnings
    assert (finding.field, finding.rule, finding.severity, finding.suggestion) == (
        "declared_region_code",
        "region.mismatch",
        "warning",
        XINGQING,
    )


def test_declared_division_that_agrees_is_no_mismatch(make_unit):
    equipment, warnings = services.register_equipment(
        **equipment_kwargs(make_unit, declared_region_code=XINGQING)
    )
    assert (equipment.region_mismatch, warnings) == (False, [])


# --- register_equipment: refusals save nothing ---------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"device_code": "3110ABC"}, "device_code", "device_code.length"),
        ({"device_code": "3110-T1234-2021-00001"}, "device_code", "device_code.charset"),
        ({"device_code": "", "registration_code": ""}, "device_code", "device_code.required"),
        ({"device_code": "3110T12342021ABCDE"}, "device_code", "device_code.sequence"),
        ({"registration_code": "3110640104"}, "registration_code", "registration_code.format"),
        ({"rescue_id": "96333A"}, "rescue_id", "rescue_id.format"),
        ({"variety": "3990"}, "variety_code", "catalogue.unknown"),
        ({"variety": "ZZZZ"}, "variety_code", "catalogue.unknown"),
        # Known codes that are not use-registered name "variety" (unknown codes name "variety_code").
        ({"variety": "7000"}, "variety", "variety.not_registrable"),  # product category
        ({"variety": "7110"}, "variety", "variety.not_registrable"),
        ({"variety": "3100"}, "variety", "variety.not_registrable"),  # a class that has varieties
        ({"variety": "3000"}, "variety", "variety.not_registrable"),  # a kind
        ({"location": Point(2.3522, 48.8566, srid=4326)}, "location", "location.outside_china"),
        ({"location": Point(-74.0, 40.7, srid=4326)}, "location", "location.outside_china"),
        (
            {"location": Point(121.47, 31.23, srid=4326)},
            "location",
            "location.no_region",
        ),  # Shanghai: not loaded
        ({"location": Point(200.0, 38.0, srid=4326)}, "location", "location.range"),
        ({"location": None}, "location", "location.required"),
        ({"declared_region_code": "990101"}, "declared_region_code", "division_code.province"),
    ],
)
def test_bad_input_is_refused_naming_field_and_rule(make_unit, fields, field, rule):
    variety = fields.pop("variety", "3110")
    kwargs = equipment_kwargs(make_unit, variety=variety, **fields)
    expect_refusal(lambda: services.register_equipment(**kwargs), field, rule)


def test_swapped_lat_lon_is_refused_with_the_swap_as_suggestion(make_unit):
    point = inside(XINGQING)
    swapped = Point(point.y, point.x, srid=4326)
    kwargs = equipment_kwargs(make_unit, location=swapped)
    error = expect_refusal(
        lambda: services.register_equipment(**kwargs), "location", "location.swapped"
    )
    [finding] = error.findings
    assert finding.suggestion == f"lon={point.x}, lat={point.y}"


def test_pipeline_given_a_point_is_refused(make_unit):
    kwargs = equipment_kwargs(make_unit, variety="8210")
    expect_refusal(lambda: services.register_equipment(**kwargs), "location", "geometry.kind")


def test_non_pipeline_given_a_route_is_refused(make_unit):
    kwargs = equipment_kwargs(make_unit, location=None, route=short_route(XINGQING))
    expect_refusal(lambda: services.register_equipment(**kwargs), "route", "geometry.kind")


def test_duplicate_device_code_is_refused(make_unit):
    kwargs = equipment_kwargs(make_unit)
    services.register_equipment(**kwargs)
    again = {**kwargs, "device_code": kwargs["device_code"].lower()}  # codes compare upper-cased
    expect_refusal(
        lambda: services.register_equipment(**again), "device_code", "device_code.duplicate"
    )


@pytest.mark.parametrize(
    ("acting", "county"),
    [("xingqing", XIXIA), ("xixia", XINGQING), ("dawukou", XINGQING), ("city", "640202")],
)
def test_writing_outside_the_jurisdiction_is_refused(make_unit, users, acting, county):
    kwargs = equipment_kwargs(make_unit, county=county, acting_user=users[acting])
    expect_refusal(lambda: services.register_equipment(**kwargs), "region", "jurisdiction")


def test_user_without_an_agency_may_not_write(make_unit):
    """No jurisdiction, no rights (accounts/policy.py): refused before anything is checked."""
    nobody = User.objects.create_user("nobody", password="x")
    kwargs = equipment_kwargs(make_unit, acting_user=nobody)
    with pytest.raises(PermissionDenied, match="register"):
        services.register_equipment(**kwargs)
    assert not Equipment.objects.filter(device_code=kwargs["device_code"]).exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("supervisor", True), ("inspector", False), ("responder", False), ("analyst", False)],
)
def test_only_roles_that_register_may_register(make_unit, users, role, allowed):
    """The service is the second wall behind the views: the analyst, inspector and responder of
    the county are refused even when a caller skips the view's check."""
    user = users["xingqing"]
    user.role = role
    kwargs = equipment_kwargs(make_unit, acting_user=user)
    if allowed:
        services.register_equipment(**kwargs)
    else:
        with pytest.raises(PermissionDenied):
            services.register_equipment(**kwargs)
    assert Equipment.objects.filter(device_code=kwargs["device_code"]).exists() is allowed


@pytest.mark.parametrize(
    ("acting", "county"),
    [("xingqing", XINGQING), ("city", XIXIA), ("province", "640202"), ("national", "110101")],
)
def test_writing_inside_the_jurisdiction_is_allowed(make_unit, users, acting, county):
    equipment, _ = services.register_equipment(
        **equipment_kwargs(make_unit, county=county, acting_user=users[acting])
    )
    assert equipment.region_id == county


# --- register_unit ---------------------------------------------------------------------------


def test_register_unit_places_the_unit(users):
    unit = services.register_unit(
        acting_user=users["xingqing"],
        name=" 兴庆物业 ",
        roles=["use"],
        credit_code=credit_code(XINGQING, 42).lower(),
        location=inside(XINGQING),
    )
    assert (unit.name, unit.region_id, unit.credit_code) == (
        "兴庆物业",
        XINGQING,
        credit_code(XINGQING, 42),
    )


def test_credit_code_with_wrong_check_character_is_refused():
    good = credit_code(XINGQING, 4242)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    error = expect_refusal(
        lambda: services.register_unit(
            acting_user=None, name="单位", roles=["use"], credit_code=bad, location=inside(XINGQING)
        ),
        "credit_code",
        "credit_code.check_char",
    )
    assert error.findings[0].suggestion == good


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"name": "  "}, "name", "name.required"),
        ({"roles": []}, "roles", "roles.required"),
        ({"location": None}, "location", "location.required"),
    ],
)
def test_register_unit_refusals(fields, field, rule):
    kwargs = {
        "acting_user": None,
        "name": "单位",
        "roles": ["use"],
        "location": inside(XINGQING),
        **fields,
    }
    expect_refusal(lambda: services.register_unit(**kwargs), field, rule)


def test_register_unit_by_division_code_alone():
    unit = services.register_unit(acting_user=None, name="单位", roles=["use"], region_code=XIXIA)
    assert (unit.region_id, unit.location) == (XIXIA, None)


def test_duplicate_credit_code_is_refused(make_unit):
    unit = make_unit(XINGQING)
    expect_refusal(
        lambda: services.register_unit(
            acting_user=None,
            name="另一单位",
            roles=["use"],
            credit_code=unit.credit_code,
            location=inside(XINGQING),
        ),
        "credit_code",
        "credit_code.duplicate",
    )


# --- record_inspection ---------------------------------------------------------------------

INSPECTED = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    ("variety", "params", "months"),
    [
        ("3110", {}, 12),  # elevator
        ("3310", {}, 12),  # escalator
        ("4110", {"molten_metal": True}, 12),  # crane lifting molten metal
        ("4150", {}, 12),  # metallurgical crane
        ("4110", {"molten_metal": False}, 24),  # other crane
        ("4170", {}, 24),
        (
            "2150",
            {"safety_grade": 1},
            72,
        ),  # fixed vessel after its first inspection: by safety grade
        ("2150", {"safety_grade": 2}, 72),
        ("2150", {"safety_grade": 3}, 36),
        ("2130", {"safety_grade": 4}, 36),
        ("8310", {"pipeline_grade": "GC3"}, 108),
        ("8310", {"pipeline_grade": "GC2"}, 72),
    ],
)
def test_inspection_moves_the_due_date_by_the_rule(make_equipment, variety, params, months):
    geometry = {"route": short_route(XINGQING)} if variety.startswith("8") else {}
    equipment = make_equipment(variety_code=variety, params=params, **geometry)
    inspection = services.record_inspection(
        equipment, acting_user=None, conclusion="pass", inspected_on=INSPECTED
    )
    equipment.refresh_from_db()
    assert equipment.next_inspection_due == inspection.next_due == months_later(INSPECTED, months)


def test_fixed_vessel_first_due_is_36_months_then_by_safety_grade(make_equipment):
    commissioned = dt.date(2023, 1, 31)
    vessel = make_equipment(
        variety_code="2150", params={"safety_grade": 1}, commissioned_on=commissioned
    )
    assert vessel.next_inspection_due == dt.date(2026, 1, 31)
    services.record_inspection(
        vessel, acting_user=None, conclusion="pass", inspected_on=dt.date(2026, 1, 20)
    )
    vessel.refresh_from_db()
    assert vessel.next_inspection_due == dt.date(2032, 1, 20)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # An acceptance inspection at installation: the first periodic one is due within 3 years.
        ([("acceptance", dt.date(2026, 2, 10))], dt.date(2029, 2, 10)),
        # After periodic inspections, any later inspection moves the due date by the safety grade.
        (
            [("periodic", dt.date(2025, 2, 10)), ("supervisory", dt.date(2026, 2, 10))],
            dt.date(2032, 2, 10),
        ),
    ],
)
def test_non_periodic_inspections_and_the_first_inspection_rule(make_equipment, history, expected):
    vessel = make_equipment(variety_code="2150", params={"safety_grade": 2})
    for kind, day in history:
        services.record_inspection(
            vessel, acting_user=None, conclusion="pass", inspected_on=day, kind=kind
        )
    vessel.refresh_from_db()
    assert vessel.next_inspection_due == expected


def test_conditional_pass_moves_the_due_date_like_a_pass(make_equipment):
    equipment = make_equipment()
    services.record_inspection(
        equipment, acting_user=None, conclusion="conditional", inspected_on=INSPECTED
    )
    equipment.refresh_from_db()
    assert equipment.next_inspection_due == dt.date(2027, 3, 10)


def test_failed_inspection_leaves_no_next_date_and_the_device_is_overdue(make_equipment):
    equipment = make_equipment()
    services.record_inspection(
        equipment, acting_user=None, conclusion="pass", inspected_on=dt.date(2026, 1, 5)
    )
    fresh = make_equipment()
    services.record_inspection(
        fresh, acting_user=None, conclusion="pass", inspected_on=dt.date(2026, 1, 5)
    )
    assert (
        not Equipment.objects.overdue(on=dt.date(2026, 6, 1))
        .filter(pk__in=[equipment.pk, fresh.pk])
        .exists()
    )
    failed = services.record_inspection(
        equipment, acting_user=None, conclusion="fail", inspected_on=dt.date(2026, 2, 1), defects=3
    )
    equipment.refresh_from_db()
    assert (failed.next_due, equipment.next_inspection_due) == (None, None)
    assert list(
        Equipment.objects.overdue(on=dt.date(2026, 6, 1)).filter(pk__in=[equipment.pk, fresh.pk])
    ) == [equipment]


def test_pass_after_a_failure_clears_the_overdue_state(make_equipment):
    equipment = make_equipment()
    services.record_inspection(
        equipment, acting_user=None, conclusion="fail", inspected_on=dt.date(2026, 2, 1)
    )
    services.record_inspection(
        equipment, acting_user=None, conclusion="pass", inspected_on=dt.date(2026, 3, 1)
    )
    equipment.refresh_from_db()
    assert equipment.next_inspection_due == dt.date(2027, 3, 1)
    assert not Equipment.objects.overdue(on=dt.date(2026, 6, 1)).filter(pk=equipment.pk).exists()


def test_back_dated_inspection_does_not_move_the_due_date(make_equipment):
    equipment = make_equipment()
    services.record_inspection(
        equipment, acting_user=None, conclusion="pass", inspected_on=dt.date(2026, 5, 1)
    )
    old = services.record_inspection(
        equipment, acting_user=None, conclusion="fail", inspected_on=dt.date(2025, 5, 1)
    )
    equipment.refresh_from_db()
    assert equipment.next_inspection_due == dt.date(2027, 5, 1)
    assert old.next_due is None
    assert equipment.inspections.count() == 2


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"conclusion": "maybe"}, "conclusion", "conclusion.unknown"),
        ({"inspected_on": dt.date.today() + dt.timedelta(days=1)}, "inspected_on", "date.future"),
        ({"defects": -1}, "defects", "defects.negative"),
    ],
)
def test_bad_inspection_is_refused(make_equipment, fields, field, rule):
    equipment = make_equipment()
    kwargs = {"acting_user": None, "conclusion": "pass", "inspected_on": INSPECTED, **fields}
    expect_refusal(lambda: services.record_inspection(equipment, **kwargs), field, rule)
    equipment.refresh_from_db()
    assert equipment.next_inspection_due == months_later(COMMISSIONED, 12)


def test_inspection_outside_the_jurisdiction_is_refused(make_equipment, users):
    equipment = make_equipment(XIXIA)
    expect_refusal(
        lambda: services.record_inspection(
            equipment, acting_user=users["xingqing"], conclusion="pass", inspected_on=INSPECTED
        ),
        "region",
        "jurisdiction",
    )


# --- status and life cycle ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "events"),
    [
        (["suspended"], ["suspension"]),
        (["suspended", "in_use"], ["suspension", "resumption"]),
        (["cancelled"], ["cancellation"]),
        (["scrapped"], ["cancellation"]),
        (["suspended", "cancelled"], ["suspension", "cancellation"]),
        (["suspended", "scrapped"], ["suspension", "cancellation"]),
    ],
)
def test_status_changes_write_lifecycle_events(make_equipment, path, events):
    equipment = make_equipment()
    for day, status in enumerate(path, start=1):
        equipment = services.change_equipment_status(
            equipment, status, acting_user=None, on=dt.date(2026, 1, day), reason="test"
        )
    equipment.refresh_from_db()
    assert equipment.status == path[-1]
    recorded = list(
        equipment.events.exclude(kind="registration").values_list("kind", "occurred_on", "details")
    )
    assert recorded == [
        (kind, dt.date(2026, 1, day), {"status": status, "reason": "test"})
        for day, (kind, status) in enumerate(zip(events, path, strict=True), start=1)
    ]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("cancelled", "in_use"),
        ("cancelled", "suspended"),
        ("cancelled", "scrapped"),
        ("scrapped", "in_use"),
        ("in_use", "in_use"),
        ("suspended", "suspended"),
        ("in_use", "bogus"),
    ],
)
def test_forbidden_status_changes_are_refused(make_equipment, start, target):
    equipment = make_equipment()
    if start != "in_use":
        equipment = services.change_equipment_status(equipment, start, acting_user=None)
    expect_refusal(
        lambda: services.change_equipment_status(equipment, target, acting_user=None),
        "status",
        "status.transition",
    )
    equipment.refresh_from_db()
    assert equipment.status == start


def test_suspended_device_is_not_overdue(make_equipment):
    equipment = make_equipment(commissioned_on=dt.date(2015, 1, 1))
    assert Equipment.objects.overdue(on=dt.date(2026, 1, 1)).filter(pk=equipment.pk).exists()
    services.change_equipment_status(equipment, EquipmentStatus.SUSPENDED, acting_user=None)
    assert not Equipment.objects.overdue(on=dt.date(2026, 1, 1)).filter(pk=equipment.pk).exists()


def test_change_of_use_unit_changes_the_use_unit(make_equipment, make_unit):
    equipment = make_equipment()
    new_owner = make_unit(XINGQING)
    event = services.record_lifecycle_event(
        equipment,
        LifecycleEventKind.CHANGE_OF_USE_UNIT,
        acting_user=None,
        occurred_on=dt.date(2026, 2, 2),
        unit=new_owner,
    )
    equipment.refresh_from_db()
    assert equipment.use_unit == new_owner
    assert (event.kind, event.unit, event.equipment) == ("change_of_use_unit", new_owner, equipment)


def test_change_of_use_unit_needs_the_new_unit(make_equipment):
    equipment = make_equipment()
    owner = equipment.use_unit_id
    expect_refusal(
        lambda: services.record_lifecycle_event(
            equipment, "change_of_use_unit", acting_user=None, occurred_on=dt.date(2026, 2, 2)
        ),
        "unit",
        "unit.required",
    )
    equipment.refresh_from_db()
    assert equipment.use_unit_id == owner


def test_unknown_event_kind_is_refused(make_equipment):
    equipment = make_equipment()
    expect_refusal(
        lambda: services.record_lifecycle_event(
            equipment, "teleportation", acting_user=None, occurred_on=dt.date(2026, 2, 2)
        ),
        "kind",
        "event.kind",
    )


@pytest.mark.parametrize("kind", ["installation", "modification", "major_repair"])
def test_other_lifecycle_events_are_appended(make_equipment, kind):
    equipment = make_equipment()
    services.record_lifecycle_event(
        equipment, kind, acting_user=None, occurred_on=dt.date(2026, 2, 2), details={"by": "x"}
    )
    assert list(equipment.events.order_by("id").values_list("kind", flat=True)) == [
        "registration",
        kind,
    ]


# --- the life-cycle history is append-only ---------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda event: event.save(),
        lambda event: event.delete(),
        lambda event: LifecycleEvent.objects.filter(pk=event.pk).update(kind="installation"),
        lambda event: LifecycleEvent.objects.filter(pk=event.pk).delete(),
        lambda event: LifecycleEvent.objects.all().delete(),
        lambda event: event.equipment.events.all().update(occurred_on=dt.date(2000, 1, 1)),
        lambda event: LifecycleEvent.objects.bulk_update([event], ["occurred_on"]),
    ],
    ids=["save", "delete", "qs-update", "qs-delete", "all-delete", "related-update", "bulk-update"],
)
def test_lifecycle_history_is_append_only(make_equipment, tamper):
    equipment = make_equipment()
    event = equipment.events.get()
    before = list(LifecycleEvent.objects.values_list("pk", "kind", "occurred_on"))
    event.occurred_on = dt.date(1999, 1, 1)
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        tamper(event)
    assert list(LifecycleEvent.objects.values_list("pk", "kind", "occurred_on")) == before


# --- update_equipment ------------------------------------------------------------------------


def test_update_equipment_changes_editable_fields(make_equipment):
    equipment = make_equipment()
    services.update_equipment(
        equipment, acting_user=None, address="兴庆区解放街1号", params={"floors": 9}
    )
    equipment.refresh_from_db()
    assert (equipment.address, equipment.params) == ("兴庆区解放街1号", {"floors": 9})


@pytest.mark.parametrize(
    "field", ["device_code", "variety", "kind", "region", "status", "next_inspection_due"]
)
def test_update_equipment_refuses_other_fields(make_equipment, field):
    equipment = make_equipment()
    expect_refusal(
        lambda: services.update_equipment(equipment, acting_user=None, **{field: "x"}),
        field,
        "field.not_editable",
    )


def test_moving_a_device_relocates_its_region(make_equipment, users):
    equipment = make_equipment(XINGQING)
    services.update_equipment(equipment, acting_user=users["city"], location=inside(XIXIA))
    equipment.refresh_from_db()
    assert equipment.region_id == XIXIA


def test_moving_a_device_out_of_the_jurisdiction_is_refused(make_equipment, users):
    equipment = make_equipment(XINGQING)
    expect_refusal(
        lambda: services.update_equipment(
            equipment, acting_user=users["xingqing"], location=inside(XIXIA)
        ),
        "region",
        "jurisdiction",
    )
    equipment.refresh_from_db()
    assert equipment.region_id == XINGQING


# --- personnel --------------------------------------------------------------------------------

NATIONAL_ID = "64010419900307123x"


def test_person_id_is_stored_encrypted_and_never_in_plain(make_unit):
    person = services.register_person(
        acting_user=None,
        name="张伟",
        role="operator",
        employer=make_unit(XINGQING),
        national_id=NATIONAL_ID,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_person WHERE id = %s", [person.pk])
        row = cursor.fetchone()
    text = " ".join(str(value) for value in row).upper()
    assert NATIONAL_ID.upper() not in text
    assert NATIONAL_ID.upper()[6:14] not in text  # not even the birth date
    assert (
        personal.decrypt(Person.objects.get(pk=person.pk).national_id_encrypted)
        == NATIONAL_ID.upper()
    )


def test_person_id_is_masked(make_unit):
    person = services.register_person(
        acting_user=None,
        name="张伟",
        role="operator",
        region_code=XINGQING,
        national_id=NATIONAL_ID,
    )
    assert person.national_id_masked == "640104********123X"


@pytest.mark.parametrize("typed", [NATIONAL_ID, NATIONAL_ID.upper(), f" {NATIONAL_ID} "])
def test_person_is_found_by_the_lookup_hash(typed):
    person = services.register_person(
        acting_user=None,
        name="张伟",
        role="operator",
        region_code=XINGQING,
        national_id=NATIONAL_ID,
    )
    assert Person.objects.get(national_id_hash=personal.lookup_hash(typed)) == person


def test_person_region_defaults_to_the_employer(make_unit):
    person = services.register_person(
        acting_user=None, name="李娜", role="maintenance", employer=make_unit(XIXIA)
    )
    assert person.region_id == XIXIA


def test_person_certificates_are_saved(make_unit):
    person = services.register_person(
        acting_user=None,
        name="李娜",
        role="operator",
        region_code=XINGQING,
        certificates=[
            {
                "kind": "作业人员证",
                "item_code": "Q2",
                "number": "Q2-001",
                "issued_on": dt.date(2024, 1, 1),
                "expires_on": dt.date(2028, 1, 1),
            }
        ],
    )
    assert list(person.certificates.values_list("number", "expires_on")) == [
        ("Q2-001", dt.date(2028, 1, 1))
    ]


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"region_code": ""}, "region", "region.required"),
        ({"national_id": "6401041990030712"}, "national_id", "national_id.format"),
        ({"national_id": "64010419900307ABCD"}, "national_id", "national_id.format"),
        (
            {
                "certificates": [
                    {
                        "kind": "证",
                        "number": "1",
                        "issued_on": dt.date(2024, 1, 1),
                        "expires_on": dt.date(2023, 1, 1),
                    }
                ]
            },
            "certificates[0]",
            "certificate.dates",
        ),
    ],
)
def test_bad_person_is_refused(fields, field, rule):
    kwargs = {
        "acting_user": None,
        "name": "张伟",
        "role": "operator",
        "region_code": XINGQING,
        **fields,
    }
    expect_refusal(lambda: services.register_person(**kwargs), field, rule)


def test_person_outside_the_jurisdiction_is_refused(users):
    expect_refusal(
        lambda: services.register_person(
            acting_user=users["xixia"], name="张伟", role="operator", region_code=XINGQING
        ),
        "region",
        "jurisdiction",
    )


# --- accidents and resources -----------------------------------------------------------------

OCCURRED = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.UTC)


def test_accident_defaults_to_the_equipment_location(make_equipment):
    equipment = make_equipment(XIXIA)
    accident = services.record_accident(
        acting_user=None, occurred_at=OCCURRED, kind="困人受伤", equipment=equipment
    )
    accident.refresh_from_db()
    assert accident.location.equals_exact(equipment.location, 1e-12)
    assert (accident.region_id, accident.unit_id) == (XIXIA, equipment.use_unit_id)


def test_pipeline_accident_lies_on_the_route(make_equipment):
    line = short_route(XINGQING)
    pipeline = make_equipment(variety_code="8210", location=None, route=line)
    accident = services.record_accident(
        acting_user=None, occurred_at=OCCURRED, kind="泄漏", equipment=pipeline
    )
    assert accident.location.distance(line) < 1e-9
    assert accident.region_id == XINGQING


def test_accident_at_its_own_location(make_equipment):
    equipment = make_equipment(XINGQING)
    place = inside(XIXIA)
    accident = services.record_accident(
        acting_user=None, occurred_at=OCCURRED, kind="坠落", equipment=equipment, location=place
    )
    assert (accident.region_id, accident.location.coords) == (XIXIA, place.coords)


@pytest.mark.parametrize("field", ["deaths", "injuries", "direct_loss"])
def test_negative_accident_figures_are_refused(make_equipment, field):
    equipment = make_equipment()
    expect_refusal(
        lambda: services.record_accident(
            acting_user=None, occurred_at=OCCURRED, kind="坠落", equipment=equipment, **{field: -1}
        ),
        field,
        f"{field}.negative",
    )


def test_accident_needs_a_place():
    expect_refusal(
        lambda: services.record_accident(acting_user=None, occurred_at=OCCURRED, kind="坠落"),
        "location",
        "location.required",
    )


def test_resource_is_placed_in_its_county():
    resource = services.register_resource(
        acting_user=None,
        name="兴庆区救援队",
        resource_type="rescue_team",
        location=inside(XINGQING),
    )
    assert resource.region_id == XINGQING


def test_resource_requires_a_location():
    expect_refusal(
        lambda: services.register_resource(
            acting_user=None, name="救援队", resource_type="rescue_team", location=None
        ),
        "location",
        "location.required",
    )


def test_anonymous_user_may_not_write():
    with pytest.raises(PermissionDenied, match="emergency resources"):
        services.register_resource(
            acting_user=AnonymousUser(),
            name="救援队",
            resource_type="rescue_team",
            location=inside(XINGQING),
        )
