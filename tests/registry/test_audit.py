"""Every registry write leaves one audit entry: who, from which jurisdiction, what, where, before and after."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import AuditEntry
from registry import services
from registry.exceptions import RegistryError
from registry.models import Equipment
from registry.synthetic.codes import credit_code
from tests.conftest import inside

pytestmark = pytest.mark.django_db

XINGQING, XIXIA = "640104", "640105"

# The acting user's agency region, from the conftest org chart; national has none.
JURISDICTION = {"xingqing": "640104", "city": "640100", "province": "640000", "national": ""}


def new_entries(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=since).order_by("pk"))


def last_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _register_unit(user, make_unit, make_equipment):
    return services.register_unit(
        acting_user=user,
        name="审计单位",
        roles=["use"],
        credit_code=credit_code(XINGQING, 99),
        location=inside(XINGQING),
    )


def _register_equipment(user, make_unit, make_equipment):
    equipment, _ = services.register_equipment(
        acting_user=user,
        variety_code="3110",
        use_unit=make_unit(XINGQING),
        location=inside(XINGQING),
        device_code="3110T5555202100001",
        commissioned_on=dt.date(2021, 1, 1),
    )
    return equipment


def _change_status(user, make_unit, make_equipment):
    return services.change_equipment_status(make_equipment(XINGQING), "suspended", acting_user=user)


def _record_event(user, make_unit, make_equipment):
    return services.record_lifecycle_event(
        make_equipment(XINGQING), "major_repair", acting_user=user, occurred_on=dt.date(2026, 1, 1)
    )


def _register_person(user, make_unit, make_equipment):
    return services.register_person(
        acting_user=user,
        name="张伟",
        role="operator",
        region_code=XINGQING,
        national_id="640104199003071234",
    )


def _record_accident(user, make_unit, make_equipment):
    return services.record_accident(
        acting_user=user,
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        kind="坠落",
        equipment=make_equipment(XINGQING),
    )


def _register_resource(user, make_unit, make_equipment):
    return services.register_resource(
        acting_user=user, name="救援队", resource_type="rescue_team", location=inside(XINGQING)
    )


def _update_equipment(user, make_unit, make_equipment):
    return services.update_equipment(make_equipment(XINGQING), acting_user=user, address="新地址")


SERVICES = {
    "register_unit": (_register_unit, "unit.registered", "registry.Unit"),
    "register_equipment": (_register_equipment, "equipment.registered", "registry.Equipment"),
    "update_equipment": (_update_equipment, "equipment.updated", "registry.Equipment"),
    "change_equipment_status": (_change_status, "equipment.status_changed", "registry.Equipment"),
    "record_lifecycle_event": (_record_event, "lifecycle.recorded", "registry.LifecycleEvent"),
    "register_person": (_register_person, "person.registered", "registry.Person"),
    "record_accident": (_record_accident, "accident.recorded", "registry.Accident"),
    "register_resource": (_register_resource, "resource.registered", "registry.EmergencyResource"),
}


@pytest.mark.parametrize("acting", list(JURISDICTION))
@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_writes_one_audit_entry(users, make_unit, make_equipment, service, acting):
    call, action, model = SERVICES[service]
    user = users[acting]
    since = last_pk()
    # Helpers (use units, devices) are written by the system; keep only this service's entry.
    instance = call(user, make_unit, make_equipment)
    [entry] = [e for e in new_entries(since) if e.actor_id == user.pk]
    assert (entry.actor, entry.action, entry.model, entry.object_pk) == (
        user,
        action,
        model,
        str(instance.pk),
    )
    assert (entry.region_code, entry.jurisdiction) == (XINGQING, JURISDICTION[acting])
    assert entry.after is not None


def test_record_inspection_audits_the_inspection_and_the_moved_due_date(users, make_equipment):
    equipment = make_equipment(XINGQING)
    since = last_pk()
    inspection = services.record_inspection(
        equipment, acting_user=users["city"], conclusion="pass", inspected_on=dt.date(2026, 3, 1)
    )
    entries = new_entries(since)
    assert [(e.action, e.model, e.object_pk) for e in entries] == [
        ("equipment.due_moved", "registry.Equipment", str(equipment.pk)),
        ("inspection.recorded", "registry.Inspection", str(inspection.pk)),
    ]
    assert {(e.actor_id, e.region_code, e.jurisdiction) for e in entries} == {
        (users["city"].pk, XINGQING, "640100")
    }
    moved = entries[0]
    assert (moved.before["next_inspection_due"], moved.after["next_inspection_due"]) == (
        "2021-06-01",
        "2027-03-01",
    )


def test_update_shows_before_and_after_differing_in_exactly_the_changed_field(
    users, make_equipment
):
    equipment = make_equipment(XINGQING, address="旧地址")
    since = last_pk()
    services.update_equipment(equipment, acting_user=users["xingqing"], address="新地址")
    [entry] = new_entries(since)
    changed = {
        key
        for key in entry.before.keys() | entry.after.keys()
        if entry.before.get(key) != entry.after.get(key)
    }
    assert changed == {"address"}
    assert (entry.before["address"], entry.after["address"]) == ("旧地址", "新地址")


def test_moving_a_device_shows_the_new_location_and_region(users, make_equipment):
    equipment = make_equipment(XINGQING)
    since = last_pk()
    services.update_equipment(equipment, acting_user=users["city"], location=inside(XIXIA))
    [entry] = new_entries(since)
    changed = {key for key in entry.before if entry.before[key] != entry.after[key]}
    assert changed == {"location", "region"}
    assert (entry.before["region"], entry.after["region"]) == (XINGQING, XIXIA)
    assert entry.after["location"] == inside(XIXIA).ewkt


def test_status_change_shows_the_old_and_new_status(users, make_equipment):
    equipment = make_equipment(XINGQING)
    since = last_pk()
    services.change_equipment_status(equipment, "cancelled", acting_user=users["xingqing"])
    [entry] = new_entries(since)
    assert (entry.before["status"], entry.after["status"]) == ("in_use", "cancelled")


def test_registration_has_no_before(users, make_unit):
    since = last_pk()
    _register_equipment(users["xingqing"], make_unit, None)
    entry = [e for e in new_entries(since) if e.action == "equipment.registered"][0]
    assert entry.before is None
    assert entry.after["device_code"] == "3110T5555202100001"


def test_person_audit_holds_no_plain_national_id(users):
    since = last_pk()
    _register_person(users["xingqing"], None, None)
    [entry] = new_entries(since)
    assert "640104199003071234" not in str(entry.after)
    assert "19900307" not in str(entry.after)


def test_the_audit_trail_keeps_personal_fields_masked(users):
    """That a contact changed, in its masked form: not a second copy of the personal data."""
    since = last_pk()
    unit = services.register_unit(
        acting_user=users["xingqing"],
        name="审计联系人单位",
        roles=["use"],
        credit_code=credit_code(XINGQING, 98),
        location=inside(XINGQING),
        contact_name="王小明",
        contact_phone="13912345678",
    )
    [entry] = new_entries(since)
    assert (entry.after["contact_name"], entry.after["contact_phone"]) == ("王**", "139****5678")
    assert "13912345678" not in str(entry.after) and "小明" not in str(entry.after)
    assert unit.contact_phone == "13912345678"  # the record itself keeps it


def test_system_writes_are_audited_without_an_actor(make_unit):
    since = last_pk()
    unit = make_unit(XIXIA)
    [entry] = new_entries(since)
    assert (entry.actor, entry.jurisdiction, entry.object_pk, entry.region_code) == (
        None,
        "",
        str(unit.pk),
        XIXIA,
    )


@pytest.mark.parametrize(
    "refused",
    [
        lambda users, make_equipment: services.register_resource(
            acting_user=users["xingqing"],
            name="救援队",
            resource_type="rescue_team",
            location=inside(XIXIA),
        ),
        lambda users, make_equipment: services.update_equipment(
            make_equipment(XIXIA), acting_user=users["xingqing"], address="x"
        ),
        lambda users, make_equipment: services.change_equipment_status(
            make_equipment(XINGQING), "bogus", acting_user=users["xingqing"]
        ),
        lambda users, make_equipment: services.record_inspection(
            make_equipment(XINGQING),
            acting_user=users["xingqing"],
            conclusion="maybe",
            inspected_on=dt.date(2026, 1, 1),
        ),
        lambda users, make_equipment: services.update_equipment(
            make_equipment(XINGQING), acting_user=users["xingqing"], rescue_id="12"
        ),
    ],
    ids=["resource-outside", "update-outside", "bad-status", "bad-conclusion", "bad-rescue-id"],
)
def test_a_refused_write_leaves_no_audit_entry(users, make_equipment, refused):
    with pytest.raises(RegistryError):
        refused(users, make_equipment)
    assert not AuditEntry.objects.filter(actor=users["xingqing"]).exists()


def test_refused_update_leaves_the_device_unchanged(users, make_equipment):
    equipment = make_equipment(XINGQING, address="旧地址")
    with pytest.raises(RegistryError):
        services.update_equipment(
            equipment, acting_user=users["xingqing"], address="新地址", rescue_id="12"
        )
    assert Equipment.objects.get(pk=equipment.pk).address == "旧地址"
