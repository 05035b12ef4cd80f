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
