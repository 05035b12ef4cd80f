"""Issue 17: the national identifiers are unique in the database, a taken one is refused naming the
field only (never the other record's attributes), a race for one becomes that refusal and not a
500, no stored geometry is empty, and the migration names existing offenders instead of choosing."""

from __future__ import annotations

import datetime as dt
import importlib
import threading

import pytest
from django.contrib.gis.geos import LineString
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction
from rest_framework.test import APIClient

from registry import catalogue, services
from registry.exceptions import RegistryError
from registry.models import Equipment, Unit
from registry.synthetic.codes import (
    certificate_number,
    credit_code,
    national_id,
    registration_code,
)
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, inside, load_test_regions

MIGRATION = importlib.import_module("registry.migrations.0007_unique_identifiers_no_empty_geometry")
COMMISSIONED = dt.date(2015, 6, 1)


def codes(serial: int, variety: str = "3110", county: str = XIXIA) -> dict[str, str]:
    """A full set of valid identifiers for one device."""
    kind_char = catalogue.certificate_kind_char(variety)
    return {
        "device_code": f"{variety}T5555{2015}{serial:05d}",
        "registration_code": registration_code(variety, county, COMMISSIONED, serial),
        "certificate_number": certificate_number(kind_char, variety, "宁", "A", serial, 2015),
        "rescue_id": f"{400_000 + serial:06d}",
    }


def register(make_unit, county: str, user=None, variety: str = "3110", **identifiers):
    return services.register_equipment(
        acting_user=user,
        variety_code=variety,
        use_unit=make_unit(county),
        location=inside(county),
        commissioned_on=COMMISSIONED,
        **identifiers,
    )[0]


def refusal(call) -> RegistryError:
    with pytest.raises(RegistryError) as refused:
        call()
    return refused.value


# --- a taken identifier: the field, and nothing of the record holding it ----------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, label",
    [
        ("device_code", "设备代码已登记 / device code already registered"),
        ("registration_code", "注册代码已登记 / registration code already registered"),
        ("certificate_number", "使用登记证编号已登记 / certificate number already registered"),
        ("rescue_id", "96333救援识别码已登记 / 96333 rescue ID already registered"),
    ],
)
def test_a_code_another_countys_device_holds_is_already_registered(make_unit, users, field, label):
    # Xixia's device is a boiler-free elevator of another variety: nothing of it may show.
    foreign = register(make_unit, XIXIA, variety="3120", **codes(1, "3120"))
    mine = codes(2)
    mine[field] = getattr(foreign, field)
    error = refusal(lambda: register(make_unit, XINGQING, users["xingqing"], **mine))
    assert error.as_dict() == {
        field: [{"rule": f"{field}.duplicate", "message": label, "suggestion": ""}]
    }
    for attribute in ("3120", XIXIA, "西夏", foreign.use_unit.name, str(foreign.pk)):
        assert attribute not in str(error)
    assert Equipment.objects.count() == 1


@pytest.mark.django_db
def test_the_same_code_in_the_users_own_jurisdiction_gets_the_same_answer(make_unit, users):
    own = register(make_unit, XINGQING, **codes(1, county=XINGQING))
    mine = codes(2, county=XINGQING)
    mine["certificate_number"] = own.certificate_number
    error = refusal(lambda: register(make_unit, XINGQING, users["xingqing"], **mine))
    assert [(f.field, f.rule) for f in error.findings] == [
        ("certificate_number", "certificate_number.duplicate")
    ]


@pytest.mark.django_db
def test_a_rescue_id_is_unique_within_a_city_only(make_unit):
    """96333 numbers devices per city: Dawukou (Shizuishan) may reuse a Yinchuan number."""
    yinchuan = register(make_unit, XIXIA, **codes(1))
    elsewhere = codes(2, county=SHIZUISHAN_DAWUKOU)
    elsewhere["rescue_id"] = yinchuan.rescue_id
    device = register(make_unit, SHIZUISHAN_DAWUKOU, **elsewhere)
    assert device.rescue_id == yinchuan.rescue_id
    same_city = codes(3, county=XINGQING)
    same_city["rescue_id"] = yinchuan.rescue_id
    error = refusal(lambda: register(make_unit, XINGQING, **same_city))
    assert [f.rule for f in error.findings] == ["rescue_id.duplicate"]


@pytest.mark.django_db
def test_an_edit_may_not_take_another_devices_certificate_number(make_unit, users):
    other = register(make_unit, XIXIA, **codes(1))
    mine = register(make_unit, XINGQING, **codes(2, county=XINGQING))
    error = refusal(
        lambda: services.update_equipment(
            mine, acting_user=users["xingqing"], certificate_number=other.certificate_number
        )
    )
    assert [f.rule for f in error.findings] == ["certificate_number.duplicate"]
    # Its own number again is no conflict.
    services.update_equipment(
        mine, acting_user=users["xingqing"], certificate_number=mine.certificate_number
    )


@pytest.mark.django_db
def test_a_credit_code_another_countys_unit_holds_is_already_registered(users):
    code = credit_code(XIXIA, 123)
    services.register_unit(
        acting_user=None, name="西夏某公司", roles=["use"], credit_code=code, location=inside(XIXIA)
    )
    error = refusal(
        lambda: services.register_unit(
            acting_user=users["xingqing"],
            name="兴庆某公司",
            roles=["use"],
            credit_code=code,
            location=inside(XINGQING),
        )
    )
    assert error.as_dict() == {
        "credit_code": [
            {
                "rule": "credit_code.duplicate",
                "message": "信用代码已登记 / credit code already registered",
                "suggestion": "",
            }
        ]
    }
    assert "西夏" not in str(error) and XIXIA not in str(error)


# --- the database is the last word -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field", ["device_code", "registration_code", "certificate_number", "rescue_id"]
)
def test_the_database_refuses_a_second_device_with_a_code(make_unit, field):
    first = register(make_unit, XIXIA, **codes(1))
    second = register(make_unit, XINGQING, **codes(2, county=XINGQING))
    with pytest.raises(IntegrityError), transaction.atomic():
        Equipment.objects.filter(pk=second.pk).update(**{field: getattr(first, field)})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, message",
    [
        ("registration_code", "注册代码已登记 / registration code already registered"),
        ("rescue_id", "96333救援识别码已登记 / 96333 rescue ID already registered"),
    ],
)
def test_a_form_validating_the_model_gets_the_same_words(make_unit, field, message):
    """The admin's forms validate the constraints before saving: the same answer, no 500."""
    first = register(make_unit, XIXIA, **codes(1))
    second = register(make_unit, XINGQING, **codes(2, county=XINGQING))
    setattr(second, field, getattr(first, field))
    with pytest.raises(ValidationError) as refused:
        second.validate_constraints()
    assert refused.value.messages == [message]


@pytest.mark.django_db
def test_blank_codes_are_not_assigned_and_may_repeat(make_unit):
    for serial in (1, 2):
        register(make_unit, XINGQING, device_code=f"3110T5555201500{serial:03d}")
    assert (
        Equipment.objects.filter(registration_code="", certificate_number="", rescue_id="").count()
        == 2
    )


@pytest.fixture
def regions_after_flush(transactional_db):
    load_test_regions()


def waiting_for_a_lock(pid_of_holder: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [pid_of_holder],
        )
        return cursor.fetchone()[0] > 0


def test_a_registration_racing_another_for_the_same_code_is_refused_not_a_500(
    regions_after_flush, make_unit
):
    """The second registration passes the lookup (the first is not committed yet), then meets the
    unique index: it waits for the first, and its IntegrityError becomes "already registered"."""
    unit = make_unit(XINGQING)
    racing = codes(1, county=XINGQING)
    outcome: dict = {}

    def second():
        try:
            outcome["device"] = register(lambda county: unit, XINGQING, **racing)
        except RegistryError as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        register(lambda county: unit, XINGQING, **racing)
        holder = connection.connection.info.backend_pid
        thread = threading.Thread(target=second)
        thread.start()
        for _ in range(400):
            if waiting_for_a_lock(holder):
                break
            thread.join(0.025)
        assert waiting_for_a_lock(holder), "the second registration did not wait on the index"
    thread.join(30)
    assert "device" not in outcome
    assert outcome["error"].findings[0].rule == "device_code.duplicate"
    assert Equipment.objects.filter(device_code=racing["device_code"]).count() == 1


# --- no empty geometry --------------------------------------------------------------------------


@pytest.fixture
def one_of_each(make_equipment, make_unit):
    start = inside(XINGQING)
    line = LineString((start.x, start.y), (start.x + 0.001, start.y + 0.001), srid=4326)
    pipeline = make_equipment(
        variety_code="8210", location=None, route=line, params={"pipeline_grade": "GB1"}
    )
    accident = services.record_accident(
        acting_user=None,
        occurred_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        kind="坠落",
        location=inside(XINGQING),
    )
    resource = services.register_resource(
        acting_user=None, name="救援队", resource_type="rescue_team", location=inside(XINGQING)
    )
    return {
        ("registry_equipment", "location"): make_equipment().pk,
        ("registry_equipment", "route"): pipeline.pk,
        ("registry_unit", "location"): make_unit().pk,
        ("registry_accident", "location"): accident.pk,
        ("registry_emergencyresource", "location"): resource.pk,
    }


EMPTY = {"location": "SRID=4326;POINT EMPTY", "route": "SRID=4326;MULTILINESTRING EMPTY"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "table, column, constraint",
    [
        ("registry_equipment", "location", "equipment_location_not_empty"),
        ("registry_equipment", "route", "equipment_route_not_empty"),
        ("registry_unit", "location", "unit_location_not_empty"),
        ("registry_accident", "location", "accident_location_not_empty"),
        ("registry_emergencyresource", "location", "resource_location_not_empty"),
    ],
)
def test_an_empty_geometry_cannot_be_stored(one_of_each, table, column, constraint):
    pk = one_of_each[(table, column)]
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as c:
        c.execute(f"UPDATE {table} SET {column} = %s::geometry WHERE id = %s", [EMPTY[column], pk])
    assert refused.value.__cause__.diag.constraint_name == constraint


@pytest.mark.django_db
def test_an_empty_place_is_no_place(make_equipment):
    """NULL stays the one way to say "not known"."""
    device = make_equipment()
    Equipment.objects.filter(pk=device.pk).update(location=None)
    assert Equipment.objects.get(pk=device.pk).location is None


# --- the migration names what it will not settle -------------------------------------------------


@pytest.mark.django_db
def test_the_migration_check_names_duplicate_codes_and_empty_geometries(make_equipment, make_unit):
    first = make_equipment(
        XIXIA, registration_code=registration_code("3110", XIXIA, COMMISSIONED, 9)
    )
    second = make_equipment(XINGQING)
    unit = make_unit()
    with connection.cursor() as cursor:
        assert MIGRATION.existing_violations(cursor) == []
        # As the tables stood before the migration (the DDL is undone with the test's transaction).
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE;"
            "DROP INDEX equipment_registration_code_unique;"
            "ALTER TABLE registry_unit DROP CONSTRAINT unit_location_not_empty"
        )
        cursor.execute(
            "UPDATE registry_equipment SET registration_code = %s WHERE id = %s",
            [first.registration_code, second.pk],
        )
        cursor.execute(
            "UPDATE registry_unit SET location = 'SRID=4326;POINT EMPTY' WHERE id = %s", [unit.pk]
        )
        problems = MIGRATION.existing_violations(cursor)
    ids = ", ".join(str(pk) for pk in sorted([first.pk, second.pk]))
    assert problems == [
        f"1 duplicate registration_code: {first.registration_code} (ids {ids})",
        f"empty registry_unit.location: ids {unit.pk}",
    ]
    with pytest.raises(MIGRATION.ConstraintWouldFail) as stopped:
        MIGRATION.refuse_existing_violations(None, connection.schema_editor())
    assert first.registration_code in str(stopped.value)
    assert Equipment.objects.count() == 2 and Unit.objects.filter(pk=unit.pk).exists()


@pytest.mark.django_db
def test_the_api_answers_a_taken_code_with_a_400_naming_the_field(make_unit, users):
    foreign = register(make_unit, XIXIA, variety="3120", **codes(1, "3120"))
    point = inside(XINGQING)
    client = APIClient()
    client.force_authenticate(users["xingqing"])
    response = client.post(
        "/api/equipment/",
        {
            "variety_code": "3110",
            "use_unit": make_unit(XINGQING).pk,
            "longitude": point.x,
            "latitude": point.y,
            "device_code": "3110T1234202000077",
            "certificate_number": foreign.certificate_number,
            "commissioned_on": "2024-03-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "certificate_number": [
                {
                    "rule": "certificate_number.duplicate",
                    "message": "使用登记证编号已登记 / certificate number already registered",
                    "suggestion": "",
                }
            ]
        }
    }


@pytest.mark.django_db
def test_a_national_id_another_countys_person_holds_is_already_registered(users):
    person_id = national_id(XIXIA, dt.date(1980, 1, 2), 5)
    services.register_person(
        acting_user=None, name="西夏某人", role="operator", region_code=XIXIA, national_id=person_id
    )
    error = refusal(
        lambda: services.register_person(
            acting_user=users["xingqing"],
            name="兴庆某人",
            role="operator",
            region_code=XINGQING,
            national_id=person_id,
        )
    )
    assert error.as_dict() == {
        "national_id": [
            {
                "rule": "national_id.duplicate",
                "message": "身份证号已登记 / national ID already registered",
                "suggestion": "",
            }
        ]
    }
    assert "西夏" not in str(error) and XIXIA not in str(error)
    # No ID given is no ID: any number of people may have none.
    for name in ("甲", "乙"):
        services.register_person(acting_user=None, name=name, role="operator", region_code=XINGQING)
