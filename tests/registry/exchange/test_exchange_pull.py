"""Applying a feed, in process: pages built here with the chain computed by hand, so every case
(a gap or a broken hash inside a page, a row outside the province, a code the database refuses
inside an otherwise good page) is exactly the page the test means."""

from __future__ import annotations

import json

import pytest

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


def feed_of(entries: list[dict]):
    def fetch(peer, after, limit):
        page = [e for e in entries if e["seq"] > after][:limit]
        return {"after": after, "last_seq": entries[-1]["seq"], "entries": page}

    return fetch


@pytest.fixture
def peer(db) -> ExchangePeer:
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
