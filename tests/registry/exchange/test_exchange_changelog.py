"""The change log a province keeps: one entry per write, gap-free, hash-chained, in the writer's
transaction; and the feed that serves it only to the national service account."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.test import Client

from accounts.tokens import issue_api_token
from registry import services
from registry.exceptions import RegistryError
from registry.exchange import changelog, feed
from registry.models import Equipment, Unit
from registry.models.exchange import GENESIS_HASH, ChangeEntry
from tests.conftest import XINGQING, XIXIA, inside

FEED = "/api/exchange/feed/"


def served(after: int = 0, limit: int = 1000) -> list[dict]:
    return feed.page(after, limit)["entries"]


def test_registering_equipment_logs_unit_equipment_and_event_in_order(make_equipment):
    equipment = make_equipment(XINGQING)
    entries = served()
    assert [(e["seq"], e["model"], e["operation"], e["object_pk"]) for e in entries] == [
        (1, "unit", "create", equipment.use_unit_id),
        (2, "equipment", "create", equipment.pk),
        (3, "lifecycleevent", "create", equipment.events.get().pk),
    ]
    assert {e["division_code"] for e in entries} == {XINGQING}
    snapshot = json.loads(entries[1]["payload"])
    assert snapshot["device_code"] == equipment.device_code
    assert snapshot["use_unit_id"] == equipment.use_unit_id
    assert snapshot["variety_id"] == "3110"
    assert snapshot["region_id"] == XINGQING
    assert GEOSGeometry(snapshot["location"]).equals_exact(equipment.location, 1e-9)
    assert GEOSGeometry(snapshot["location"]).srid == 4326
    assert "created_at" not in snapshot and "id" not in snapshot


def test_each_hash_chains_the_previous_one(make_equipment):
    make_equipment(XINGQING)
    make_equipment(XIXIA)
    previous = GENESIS_HASH
    for entry in served():
        text = "|".join(
            str(entry[k])
            for k in ("seq", "at", "operation", "model", "object_pk", "division_code", "payload")
        )
        digest = hashlib.sha256(text.encode()).digest()
        expected = hashlib.sha256(bytes.fromhex(previous) + digest).hexdigest()
        assert entry["hash"] == expected
        previous = expected
    assert dt.datetime.strptime(entry["at"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_refused_write_leaves_no_entry_and_no_gap(make_unit):
    make_unit(XINGQING)
    with pytest.raises(RegistryError):
        services.register_equipment(
            acting_user=None,
            variety_code="3110",
            use_unit=Unit.objects.get(),
            location=inside(XINGQING),
            device_code="BAD",
        )
    make_unit(XIXIA)
    assert list(ChangeEntry.objects.values_list("seq", flat=True)) == [1, 2]


def test_a_rolled_back_transaction_takes_its_numbers_with_it(make_unit):
    make_unit(XINGQING)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_unit(XIXIA)
        raise RuntimeError("the caller's later step fails")
    make_unit(XIXIA)
    assert list(ChangeEntry.objects.values_list("seq", flat=True)) == [1, 2]
    assert served()[1]["hash"] == changelog.chain(served()[0]["hash"], served()[1])


def test_record_rows_records_exactly_the_rows_named(make_equipment):
    devices = [make_equipment(XINGQING) for _ in range(3)]
    before = ChangeEntry.objects.count()
    with transaction.atomic():
        Equipment.objects.filter(pk__in=[devices[0].pk, devices[2].pk]).update(address="新地址")
        count = changelog.record_rows(
            Equipment, [devices[2].pk, devices[0].pk], changelog.ChangeOperation.UPDATE
        )
    assert count == 2
    new = served(before)
    assert [(e["seq"], e["object_pk"]) for e in new] == [
        (before + 1, devices[0].pk),
        (before + 2, devices[2].pk),
    ]
    assert {json.loads(e["payload"])["address"] for e in new} == {"新地址"}
    assert changelog.record_rows(Equipment, [], "update") == 0


def test_updates_and_inspections_are_logged(make_equipment):
    equipment = make_equipment(XINGQING)
    services.update_equipment(equipment, acting_user=None, address="银川市兴庆区某路1号")
    services.record_inspection(
        equipment, acting_user=None, conclusion="pass", inspected_on=dt.date(2024, 5, 1)
    )
    tail = [(e["model"], e["operation"]) for e in served(3)]
    assert tail == [
        ("equipment", "update"),
        ("inspection", "create"),
        ("equipment", "update"),
    ]
    assert json.loads(served(3)[0]["payload"])["address"] == "银川市兴庆区某路1号"


# --------------------------------------------------------------------------- the feed endpoint


@pytest.fixture
def feed_reader(agencies):
    from accounts.models import Role, User

    user = User.objects.create_user(
        "national-exchange", agency=agencies["national"], role=Role.ENTERPRISE
    )
    user.user_permissions.add(Permission.objects.get(codename="read_change_feed"))
    return user


KEY = b"n" * 32


def test_feed_answers_the_service_account_with_its_token(feed_reader, make_equipment, settings):
    settings.EXCHANGE_KEYS = {"national-exchange": KEY}
    make_equipment(XINGQING)
    token = issue_api_token(feed_reader).key
    response = Client().get(FEED, {"after": 1, "limit": 1}, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    body = response.json()
    assert body["last_seq"] == 3
    assert [e["seq"] for e in body["entries"]] == [2]
    # The MAC as docs/exchange.md spells it, computed here without the module that signs.
    text = "\n".join(["segis-exchange-v1", "1", "3", body["entries"][0]["hash"]])
    assert body["mac"] == hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def test_feed_without_a_key_for_its_reader_says_so(feed_reader, settings):
    settings.EXCHANGE_KEYS = {"someone-else": KEY}
    client = Client()
    client.force_login(feed_reader)
    response = client.get(FEED)
    assert response.status_code == 503
    problem = response.json()["errors"]["key"][0]
    assert problem["rule"] == "exchange_key_missing"
    assert "SEGIS_EXCHANGE_KEYS" in problem["message"]


@pytest.mark.parametrize("who", ["xingqing", "province", "national"])
def test_feed_is_closed_to_everyone_else(users, who):
    client = Client()
    client.force_login(users[who])
    response = client.get(FEED)
    assert response.status_code == 403
    assert "user" in response.json()["errors"]


def test_feed_without_credentials_or_with_a_bad_token_is_401(db):
    assert Client().get(FEED).status_code == 401
    response = Client().get(FEED, HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert "token" in response.json()["errors"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"after": "x"}, "after"), ({"after": -1}, "after"), ({"limit": 0}, "limit")],
)
def test_bad_page_parameters_are_400_naming_them(feed_reader, params, field):
    client = Client()
    client.force_login(feed_reader)
    response = client.get(FEED, params)
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["rule"] == f"{field}.range"
