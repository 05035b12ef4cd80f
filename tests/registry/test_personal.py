"""Personal information: ID numbers encrypted at rest, found by keyed hash, shown masked."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from registry import personal

IDS = ["640104199003071234", "11010119800101002X", "64020219751231000x"]


@pytest.mark.parametrize("value", [*IDS, "张伟 13800138000", "13800138000"])
def test_encrypt_decrypt_round_trip(value):
    token = personal.encrypt(value)
    assert value not in token
    assert personal.decrypt(token) == value


def test_encryption_is_randomised():
    # Equal IDs must not give equal ciphertexts: that is what the lookup hash is for.
    assert personal.encrypt(IDS[0]) != personal.encrypt(IDS[0])


def test_empty_value_stays_empty():
    assert (personal.encrypt(""), personal.decrypt(""), personal.lookup_hash("")) == ("", "", "")


def test_tampered_token_is_rejected():
    token = personal.encrypt(IDS[0])
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(InvalidToken):
        personal.decrypt(tampered)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("640104199003071234", "640104********1234"),
        ("11010119800101002X", "110101********002X"),
        ("11010119800101002x", "110101********002X"),
        (" 640104199003071234 ", "640104********1234"),
    ],
)
def test_national_id_masking(value, masked):
    assert personal.mask_national_id(value) == masked


@pytest.mark.parametrize("value", IDS)
def test_masked_id_hides_the_birth_date(value):
    masked = personal.mask_national_id(value)
    assert len(masked) == 18
    assert value[6:14] not in masked
    assert masked[6:14] == "*" * 8


@pytest.mark.parametrize("value", ["", "1234", "1234567890"])
def test_short_values_are_masked_entirely(value):
    assert personal.mask_national_id(value) == "*" * len(value)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        (" 13812345678 ", "138****5678"),
        ("09518765432", "095****5432"),
        ("951234", "******"),
    ],
)
def test_phone_masking(phone, masked):
    assert personal.mask_phone(phone) == masked


def test_lookup_hash_is_stable():
    assert personal.lookup_hash(IDS[0]) == personal.lookup_hash(IDS[0])
    assert len(personal.lookup_hash(IDS[0])) == 64


def test_lookup_hash_ignores_the_case_of_x_and_spaces():
    assert personal.lookup_hash("11010119800101002x") == personal.lookup_hash("11010119800101002X")
    assert personal.lookup_hash(" 11010119800101002X ") == personal.lookup_hash(
        "11010119800101002X"
    )


def test_lookup_hash_tells_ids_apart_and_hides_them():
    hashes = {personal.lookup_hash(value) for value in IDS}
    assert len(hashes) == len(IDS)
    assert not any(value.upper() in h.upper() for value in IDS for h in hashes)


def test_lookup_hash_is_keyed():
    # A bare SHA-256 of the ID would let anyone with the table brute-force the 10^8-ish ID space.
    import hashlib

    assert personal.lookup_hash(IDS[0]) != hashlib.sha256(IDS[0].encode()).hexdigest()


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), (" 李四 ", "李*"), ("王", "*"), ("", "")],
)
def test_name_masking_keeps_the_surname_only(name, masked):
    assert personal.mask_name(name) == masked


@pytest.mark.parametrize(
    ("label", "lookup", "expected"),
    [
        ("registry.Unit", "contact_phone", True),
        ("registry.Unit", "contact_phone__startswith", True),
        ("registry.Unit", "contact_name__icontains", True),
        ("registry.Unit", "staff__phone__regex", True),
        ("registry.Unit", "name__icontains", False),
        ("registry.Unit", "region__code__startswith", False),
        ("registry.Equipment", "use_unit__contact_phone__startswith", True),
        ("registry.Equipment", "use_unit__name", False),
        ("registry.EmergencyResource", "unit__contact_name", True),
        ("registry.Inspection", "inspector__name__startswith", True),
        ("registry.Inspection", "inspector", True),
        ("registry.Person", "national_id_hash", True),
        ("registry.Person", "employer__name", False),
    ],
)
def test_lookup_is_personal_follows_relations(label, lookup, expected):
    from django.apps import apps

    assert personal.lookup_is_personal(apps.get_model(label), lookup) is expected


def test_every_declared_personal_field_exists():
    from django.apps import apps

    for label, fields in personal.PERSONAL_FIELDS.items():
        model = apps.get_model(label)
        for name in fields:
            model._meta.get_field(name)  # raises FieldDoesNotExist for a stale entry


@pytest.mark.django_db
def test_value_for_masks_for_the_analyst_only(users, make_unit):
    unit = make_unit(contact_name="张三", contact_phone="13812345678")
    analyst, supervisor = users["xingqing_analyst"], users["xingqing"]
    assert personal.value_for(analyst, unit, "contact_phone") == "138****5678"
    assert personal.value_for(analyst, unit, "contact_name") == "张*"
    assert personal.value_for(analyst, unit, "name") == unit.name  # not personal
    assert personal.value_for(supervisor, unit, "contact_phone") == "13812345678"
    assert personal.shown_in_full(analyst, unit, ["contact_phone", "name"]) == ()
    assert personal.shown_in_full(supervisor, unit, ["contact_phone", "name"]) == ("contact_phone",)


def test_no_export_or_ogc_column_is_personal(monkeypatch):
    from layers import fields

    assert {layer: fields.personal_columns(layer) for layer in fields.COLUMNS} == {
        layer: [] for layer in fields.COLUMNS
    }
    # The check sees one added through a relation, too.
    phone = fields.Column("电话", "phone", "PHONE", "str", "use_unit__contact_phone")
    monkeypatch.setitem(fields.COLUMNS, "equipment", (*fields.COLUMNS["equipment"], phone))
    assert fields.personal_columns("equipment") == ["use_unit__contact_phone"]


@pytest.mark.django_db
def test_an_id_number_stored_masked_is_no_full_read(users):
    from registry import services

    person = services.register_person(
        acting_user=None, name="张三", role="operator", region_code="640104", national_id=IDS[0]
    )
    shown = personal.shown_in_full(users["xingqing"], person, ["name", "national_id_masked"])
    assert shown == ("name",)
