"""Applying a feed, in process: pages built here with the chain computed by hand, so every case
(a gap or a broken hash inside a page, a row outside the province, a code the database refuses
inside an otherwise good page) is exactly the page the test means."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry.exchange import keys
from registry.exchange.changelog import chain
from registry.exchange.pull import pull
from registry.models import Unit
from registry.models.exchange import (
    GENESIS_HASH,
    ExchangeConflict,
    ExchangeLink,
    ExchangePeer,
    PullState,
)
from registry.synthetic.codes import credit_code
from tests.conftest import XINGQING, XIXIA

AT = "2026-11-28T00:00:00.000000Z"


def unit_entry(seq: int, pk: int, code: str, region: str = XINGQING, **fields) -> dict:
    payload = {
        "credit_code": code,
        "name": f"单位{pk}",
        "roles": ["use"],
        "address": "",
        "location": None,
        "region_id": region,
        "contact_name": "",
        "contact_phone": "",
        **fields,
    }
    return {
        "seq": seq,
        "at": AT,
        "operation": "create",
        "model": "unit",
        "object_pk": pk,
        "division_code": region,
        "payload": json.dumps(payload, ensure_ascii=False),
    }


def chained(entries: list[dict], previous: str = GENESIS_HASH) -> list[dict]:
    for entry in entries:
        entry["hash"] = previous = chain(previous, entry)
    return entries


KEY = b"k" * 32  # the key Ningxia and the nation share in these tests


def feed_of(entries: list[dict], key: bytes = KEY):
    """The province's feed, each page signed as its server signs it."""

    def fetch(peer, after, limit):
        page = [e for e in entries if e["seq"] > after][:limit]
        last_seq = entries[-1]["seq"] if entries else 0
        body = {"after": after, "last_seq": last_seq, "entries": page}
        return {**body, "mac": keys.sign_page(key, after, last_seq, page)}

    return fetch


@pytest.fixture
def peer(db, settings) -> ExchangePeer:
    settings.EXCHANGE_KEYS = {"640000": KEY}
    return ExchangePeer.objects.create(code="640000", base_url="http://unused", token="t")


def test_a_code_the_database_refuses_mid_page_becomes_one_conflict(peer):
    code = credit_code(XINGQING, 9_000_001)
    entries = chained(
        [
            unit_entry(1, 11, code),
            unit_entry(2, 12, code),  # the same credit code again: only the database says no
            unit_entry(3, 13, credit_code(XIXIA, 9_000_002), XIXIA),
        ]
    )
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 2, 1)
    assert set(Unit.objects.values_list("name", flat=True)) == {"单位11", "单位13"}
    assert list(ExchangeConflict.objects.values_list("seq", "kind")) == [(2, "invalid")]
    assert set(ExchangeLink.objects.values_list("origin_pk", flat=True)) == {11, 13}


def test_a_broken_hash_mid_page_applies_what_came_before_it(peer):
    entries = chained([unit_entry(i, i, credit_code(XINGQING, 9_000_000 + i)) for i in (1, 2, 3)])
    entries[1]["payload"] = entries[1]["payload"].replace("单位2", "单位X")
    result = pull(peer, fetch=feed_of(entries))
    peer.refresh_from_db()
    assert (result.state, peer.applied_seq, peer.last_hash) == (
        PullState.TAMPERED,
        1,
        entries[0]["hash"],
    )
    assert list(Unit.objects.values_list("name", flat=True)) == ["单位1"]


def test_a_missing_seq_mid_page_is_a_gap(peer):
    entries = chained([unit_entry(i, i, credit_code(XINGQING, 9_000_000 + i)) for i in (1, 2, 3)])
    del entries[1]
    result = pull(peer, fetch=feed_of(entries))
    peer.refresh_from_db()
    assert (result.state, peer.applied_seq, peer.state) == (PullState.GAP, 1, PullState.GAP)
    assert Unit.objects.count() == 1


def test_a_valid_chain_from_another_history_is_refused(peer):
    ours = chained([unit_entry(1, 1, credit_code(XINGQING, 9_000_001))])
    pull(peer, fetch=feed_of(ours))
    # The province restored an old backup and wrote a different entry 2 after a different entry 1.
    theirs = chained(
        [
            unit_entry(1, 1, credit_code(XINGQING, 9_000_009)),
            unit_entry(2, 2, credit_code(XINGQING, 9_000_002)),
        ]
    )
    assert pull(peer, fetch=feed_of(theirs)).state == PullState.TAMPERED
    assert Unit.objects.count() == 1


def test_a_row_outside_the_province_is_refused_and_the_pull_goes_on(peer):
    entries = chained(
        [
            unit_entry(1, 1, credit_code("110101", 9_000_001), "110101"),
            unit_entry(2, 2, credit_code(XINGQING, 9_000_002)),
            # A Ningxia division on the entry, a Beijing region in the snapshot.
            {
                **unit_entry(3, 3, credit_code(XINGQING, 9_000_003), "110101"),
                "division_code": XINGQING,
            },
        ]
    )
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 1, 2)
    assert list(ExchangeConflict.objects.values_list("seq", "kind")) == [
        (1, "outside_province"),
        (3, "outside_province"),
    ]
    assert list(Unit.objects.values_list("region_id", flat=True)) == [XINGQING]


def test_an_invalid_snapshot_is_a_conflict_not_a_crash(peer):
    entries = chained([unit_entry(1, 1, credit_code(XINGQING, 9_000_001), roles=["pirate"])])
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.applied, result.conflicts) == (PullState.OK, 0, 1)
    assert ExchangeConflict.objects.get().kind == "invalid"
    assert not Unit.objects.exists()


def test_a_conflict_keeps_the_snapshot_with_its_numbers(peer):
    entries = chained([unit_entry(1, 1, credit_code(XINGQING, 9_000_001), weight=1.25)])
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.conflicts) == (PullState.OK, 1)
    conflict = ExchangeConflict.objects.get()
    assert (conflict.kind, conflict.payload["weight"]) == ("invalid", 1.25)
    assert "weight" in conflict.message


# --------------------------------------------------------------------------- authentication


def units(n: int) -> list[dict]:
    return chained(
        [unit_entry(i, i, credit_code(XINGQING, 9_000_000 + i)) for i in range(1, n + 1)]
    )


def test_a_man_in_the_middle_who_recomputes_the_chain_is_refused(peer):
    honest = feed_of(units(3))

    def forging(peer, after, limit):
        body = copy.deepcopy(honest(peer, after, limit))
        # Alter entry 2 and recompute every SHA-256 after it: the chain alone now checks out…
        body["entries"][1]["payload"] = body["entries"][1]["payload"].replace("单位2", "伪造")
        chained(body["entries"])
        assert chain(body["entries"][0]["hash"], body["entries"][1]) == body["entries"][1]["hash"]
        return body  # …but the MAC was made over the honest hashes

    result = pull(peer, fetch=forging)
    peer.refresh_from_db()
    assert (result.state, peer.state, peer.applied_seq) == (PullState.TAMPERED, "tampered", 0)
    assert "HMAC" in peer.last_message
    # Nothing of the page, not even entry 1 which was left untouched.
    assert not Unit.objects.exists()
    # The honest page then applies.
    assert pull(peer, fetch=honest).state == PullState.OK
    assert sorted(Unit.objects.values_list("name", flat=True)) == ["单位1", "单位2", "单位3"]


def test_a_page_signed_with_another_key_is_refused(peer):
    result = pull(peer, fetch=feed_of(units(2), key=b"m" * 32))
    assert (result.state, result.applied) == (PullState.TAMPERED, 0)
    assert not Unit.objects.exists()


@pytest.mark.parametrize("mac", [None, "", "0" * 64, 42])
def test_an_unsigned_or_badly_signed_page_is_refused(peer, mac):
    honest = feed_of(units(2))

    def fetch(peer, after, limit):
        body = honest(peer, after, limit)
        if mac is None:
            del body["mac"]
        else:
            body["mac"] = mac
        return body

    assert pull(peer, fetch=fetch).state == PullState.TAMPERED
    assert not Unit.objects.exists()


def test_a_forged_end_of_feed_cannot_hide_new_entries(peer):
    honest = feed_of(units(2))
    assert pull(peer, fetch=honest).state == PullState.OK

    def hiding(peer, after, limit):
        # "Nothing new, the log ends where you are", though entry 3 exists: a replayed MAC.
        return {"after": after, "last_seq": 2, "entries": [], "mac": honest(peer, 0, 1)["mac"]}

    assert pull(peer, fetch=hiding).state == PullState.TAMPERED


def test_a_page_for_another_cursor_is_refused(peer):
    honest = feed_of(units(3))
    # The page after seq 1, served as the answer to "after 0".
    result = pull(peer, fetch=lambda peer, after, limit: honest(peer, 1, limit))
    assert result.state == PullState.TAMPERED
    assert not Unit.objects.exists()


def test_without_a_key_for_the_peer_nothing_is_fetched(peer, settings):
    settings.EXCHANGE_KEYS = {"650000": KEY}

    def never(peer, after, limit):
        raise AssertionError("fetched without a key")

    result = pull(peer, fetch=never)
    peer.refresh_from_db()
    assert (result.state, peer.state) == (PullState.ERROR, "error")
    assert keys.ENV in peer.last_message and "640000" in peer.last_message


def test_keys_come_from_the_environment_when_settings_have_none(settings, monkeypatch):
    del settings.EXCHANGE_KEYS
    encoded = base64.b64encode(KEY).decode()
    monkeypatch.setenv(keys.ENV, f"640000={encoded}, national-exchange={encoded}")
    assert keys.key_for("640000") == KEY
    assert keys.key_for("national-exchange") == KEY
    assert keys.key_for("650000") is None


@pytest.mark.parametrize(
    "text",
    ["640000", "640000=", "640000=not base64!", f"640000={base64.b64encode(b'short').decode()}"],
)
def test_a_malformed_key_list_is_a_configuration_error(settings, text):
    settings.EXCHANGE_KEYS = text
    with pytest.raises(ImproperlyConfigured, match=keys.ENV):
        keys.configured()
