"""Issue 17 at the exchange: a province's entry whose registration code, certificate number or
96333 rescue ID (per city) another national record holds is a `duplicate_key` conflict naming the
field, never a second record, an unnamed `invalid` or a crashed pull; national IDs never travel."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from registry import catalogue, services
from registry.exchange.pull import pull
from registry.models import Equipment, Person
from registry.models.exchange import ExchangeConflict, ExchangeLink, ExchangePeer, PullState
from registry.models.identifiers import LABELS
from registry.synthetic.codes import (
    certificate_number,
    credit_code,
    national_id,
    registration_code,
)
from tests.conftest import SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, inside
from tests.registry.exchange.test_exchange_pull import AT, KEY, chained, feed_of, unit_entry

VARIETY = "3110"
COMMISSIONED = dt.date(2015, 6, 1)
IDENTIFIERS = ["registration_code", "certificate_number", "rescue_id"]


def identifiers(serial: int, county: str = XINGQING) -> dict[str, str]:
    """A full set of valid national identifiers for one device."""
    kind_char = catalogue.certificate_kind_char(VARIETY)
    return {
        "device_code": f"{VARIETY}T6666{2015}{serial:05d}",
        "registration_code": registration_code(VARIETY, county, COMMISSIONED, serial),
        "certificate_number": certificate_number(kind_char, VARIETY, "宁", "A", serial, 2015),
        "rescue_id": f"{300_000 + serial:06d}",
    }


def equipment_entry(
    seq: int, pk: int, unit_pk: int, codes: dict, region: str = XINGQING, operation="create"
) -> dict:
    """A device snapshot as the province's change log serves it (the columns the test needs)."""
    payload = {
        **codes,
        "variety_id": VARIETY,
        "kind": catalogue.kind_of(VARIETY),
        "status": "in_use",
        "location": inside(region).ewkt,
        "region_id": region,
        "use_unit_id": unit_pk,
        "commissioned_on": COMMISSIONED.isoformat(),
    }
    return {
        "seq": seq,
        "at": AT,
        "operation": operation,
        "model": "equipment",
        "object_pk": pk,
        "division_code": region,
        "payload": json.dumps(payload, ensure_ascii=False),
    }


@pytest.fixture
def peer(db, settings) -> ExchangePeer:
    settings.EXCHANGE_KEYS = {"640000": KEY}
    return ExchangePeer.objects.create(code="640000", base_url="http://unused", token="t")


@pytest.fixture
def local(make_equipment) -> Equipment:
    """A device the nation already holds, in Xingqing (Yinchuan)."""
    return make_equipment(XINGQING, VARIETY, **identifiers(1))


def province_device(seq: int, pk: int, codes: dict, region: str = XINGQING) -> list[dict]:
    """The province's use unit and its device, in that order."""
    unit = unit_entry(seq, pk + 1000, credit_code(region, 8_000_000 + pk), region)
    return [unit, equipment_entry(seq + 1, pk, pk + 1000, codes, region)]


def arriving(serial: int, field: str, value: str) -> dict:
    """Fresh identifiers for a province's device, but `field` set to `value`."""
    return {**identifiers(serial), field: value}


@pytest.mark.parametrize("field", IDENTIFIERS)
def test_a_create_with_an_identifier_the_nation_holds_is_a_duplicate_key(peer, local, field):
    entries = chained(province_device(1, 21, arriving(21, field, getattr(local, field))))
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 1, 1)
    conflict = ExchangeConflict.objects.get()
    assert (conflict.seq, conflict.kind, conflict.model) == (2, "duplicate_key", "equipment")
    # The field and the province's own value, nothing of the record holding it.
    value, (chinese, english) = getattr(local, field), LABELS[field]
    assert conflict.message == (
        f"{chinese} {value} 已由他处登记 / {english} {value} is already registered elsewhere"
    )
    assert list(Equipment.objects.values_list("pk", flat=True)) == [local.pk]
    assert not ExchangeLink.objects.filter(model="equipment").exists()


@pytest.mark.parametrize("field", IDENTIFIERS)
def test_an_identifier_twice_in_one_page_applies_the_first_only(peer, db, field):
    first = identifiers(31)
    entries = chained(
        [
            *province_device(1, 31, first),
            *province_device(3, 32, arriving(32, field, first[field])),
            *province_device(5, 33, identifiers(33)),  # the page goes on after the conflict
        ]
    )
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 5, 1)
    assert list(ExchangeConflict.objects.values_list("seq", "kind")) == [(4, "duplicate_key")]
    assert LABELS[field][1] in ExchangeConflict.objects.get().message
    assert sorted(Equipment.objects.values_list("device_code", flat=True)) == [
        first["device_code"],
        identifiers(33)["device_code"],
    ]


def test_devices_without_identifiers_are_no_conflict(peer, make_equipment):
    # Blank is "not assigned": any number of devices, here and in the page, may lack each code.
    make_equipment(XINGQING, VARIETY)
    blanks = {"registration_code": "", "certificate_number": "", "rescue_id": ""}
    entries = chained(
        [
            *province_device(1, 71, {**blanks, "device_code": identifiers(71)["device_code"]}),
            *province_device(3, 72, {**blanks, "device_code": identifiers(72)["device_code"]}),
        ]
    )
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 4, 0)
    assert Equipment.objects.filter(**blanks).count() == 3


def test_a_rescue_id_held_in_another_city_is_applied(peer, local):
    # Dawukou lies in Shizuishan (6402), the local device in Yinchuan (6401).
    codes = arriving(41, "rescue_id", local.rescue_id)
    entries = chained(province_device(1, 41, codes, SHIZUISHAN_DAWUKOU))
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 2, 0)
    applied = Equipment.objects.get(device_code=codes["device_code"])
    assert (applied.rescue_id, applied.region_id) == (local.rescue_id, SHIZUISHAN_DAWUKOU)


@pytest.mark.parametrize("field", IDENTIFIERS)
def test_an_update_taking_a_held_identifier_is_a_duplicate_key(peer, local, field):
    # Applied once with codes of its own (Xixia: the same city as the local device's)…
    mine = identifiers(51, XIXIA)
    entries = province_device(1, 51, mine, XIXIA)
    # …then the province gives it the nation's device's identifier.
    entries.append(
        equipment_entry(3, 51, 1051, arriving(51, field, getattr(local, field)), XIXIA, "update")
    )
    result = pull(peer, fetch=feed_of(chained(entries)))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 2, 1)
    conflict = ExchangeConflict.objects.get()
    assert (conflict.seq, conflict.kind, conflict.operation) == (3, "duplicate_key", "update")
    assert LABELS[field][1] in conflict.message
    applied = Equipment.objects.get(device_code=mine["device_code"])
    assert getattr(applied, field) == mine[field]  # not overwritten


def test_a_person_and_their_national_id_are_never_applied(peer, make_unit):
    # Persons are not exchanged (the ID is encrypted with each instance's key): an entry claiming
    # to carry one, with an ID a local person holds, is refused whole and touches no one.
    taken = national_id(XINGQING, dt.date(1980, 1, 2), 7)
    held = services.register_person(
        acting_user=None, name="张三", role="operator", employer=make_unit(), national_id=taken
    )
    before = Person.objects.values_list("pk", "name", "national_id_hash").get()
    payload = {"name": "李四", "national_id": taken, "region_id": XINGQING}
    entry = {
        "seq": 1,
        "at": AT,
        "operation": "create",
        "model": "person",
        "object_pk": 61,
        "division_code": XINGQING,
        "payload": json.dumps(payload, ensure_ascii=False),
    }
    result = pull(peer, fetch=feed_of(chained([entry])))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 0, 1)
    assert ExchangeConflict.objects.get().kind == "invalid"
    assert Person.objects.values_list("pk", "name", "national_id_hash").get() == before
    assert held.pk == before[0]


@pytest.mark.parametrize("field", ["device_code", *IDENTIFIERS])
def test_an_identifier_that_is_no_text_is_refused_not_stored_as_its_repr(peer, db, field):
    entries = chained(province_device(1, 81, arriving(81, field, ["3110"])))
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 1, 1)
    conflict = ExchangeConflict.objects.get()
    assert (conflict.kind, conflict.message) == (
        "invalid",
        f"{field} 应为文本 / {field} must be text",
    )
    assert not Equipment.objects.exists()
