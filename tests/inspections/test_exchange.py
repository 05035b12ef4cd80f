"""Supervisory inspections and the bodies' results travel through the exchange change log: a
province records them, the national instance applies them."""

from __future__ import annotations

import datetime as dt

import pytest

from inspections import feed, services
from inspections.models import FeedAccount, FeedBatch, FeedRecord, SupervisoryInspection
from registry.exchange import feed as exchange_feed
from registry.exchange.pull import pull
from registry.models import Equipment, Inspection, LifecycleEvent, Unit
from registry.models.exchange import GENESIS_HASH, ChangeEntry, ExchangePeer, PullState
from tests.conftest import XINGQING
from tests.registry.exchange.test_exchange_pull import KEY, feed_of

DAY = dt.date(2026, 3, 2)


@pytest.fixture
def peer(db, settings) -> ExchangePeer:
    settings.EXCHANGE_KEYS = {"640000": KEY}
    return ExchangePeer.objects.create(code="640000", base_url="http://unused", token="t")


def province_log() -> list[dict]:
    """Everything the province's log serves, as its feed serves it."""
    return exchange_feed.page(0, 10_000)["entries"]


def forget_the_province() -> None:
    """The nation's database before the pull: none of the province's rows (the test database
    played the province until now)."""
    FeedRecord.objects.all().delete()
    FeedBatch.objects.all().delete()
    SupervisoryInspection.objects.all().delete()
    Inspection.objects.all().delete()
    LifecycleEvent._base_manager.all().delete()  # append-only for the services, not here
    Equipment.objects.all().delete()
    FeedAccount.objects.all().delete()
    Unit.objects.all().delete()


def test_a_supervisory_inspection_is_logged_under_its_device(make_equipment, body):
    device = make_equipment(XINGQING)
    inspection = services.record_supervisory_inspection(
        device, acting_user=None, stage="installation", body=body, inspected_on=DAY,
        conclusion="pass", report_number="JJ-1", certificate_number="JD-1",
    )  # fmt: skip
    entry = ChangeEntry.objects.order_by("-seq").first()
    assert (entry.model, entry.operation, entry.object_pk, entry.division_code) == (
        "supervisoryinspection", "create", inspection.pk, device.region_id,
    )  # fmt: skip


def test_a_refused_supervisory_inspection_logs_nothing(make_equipment, body):
    device = make_equipment(XINGQING)
    before = ChangeEntry.objects.count()
    with pytest.raises(Exception):  # noqa: B017 — any refusal: the point is the log
        services.record_supervisory_inspection(
            device, acting_user=None, stage="installation", body=body, inspected_on=DAY,
            conclusion="pass", report_number="JJ-1",  # a pass without its certificate
        )  # fmt: skip
    assert ChangeEntry.objects.count() == before


def test_the_nation_applies_a_province_supervisory_inspection(make_equipment, body, peer):
    device = make_equipment(XINGQING, "4110")
    services.record_supervisory_inspection(
        device, acting_user=None, stage="manufacture", body=body, inspected_on=DAY,
        conclusion="pass", report_number="JJ-7", certificate_number="JD-7",
    )  # fmt: skip
    entries = province_log()
    forget_the_province()
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.conflicts) == (PullState.OK, 0), result.summary()
    assert result.by_model["supervisoryinspection"] == 1
    got = SupervisoryInspection.objects.select_related("equipment", "body").get()
    assert (got.equipment.device_code, got.body.credit_code) == (
        device.device_code,
        body.credit_code,
    )
    assert (got.stage, got.inspected_on, got.conclusion, got.report_number, got.certificate_number) == (
        "manufacture", DAY, "pass", "JJ-7", "JD-7",
    )  # fmt: skip
    # Applying the same log again changes nothing.
    ExchangePeer.objects.filter(pk=peer.pk).update(applied_seq=0, last_hash=GENESIS_HASH)
    peer.refresh_from_db()
    again = pull(peer, fetch=feed_of(entries))
    assert (again.applied, again.conflicts) == (len(entries), 0)
    assert SupervisoryInspection.objects.get().report_number == "JJ-7"


def test_the_nation_applies_what_a_body_sent_through_the_feed(make_equipment, body, account, peer):
    device = make_equipment(XINGQING)
    records = [
        {"report_number": "BG-1", "kind": "periodic", "device_code": device.device_code,
         "inspected_on": DAY.isoformat(), "conclusion": "pass"},
        {"report_number": "JJ-2", "kind": "supervisory", "stage": "installation",
         "device_code": device.device_code, "inspected_on": DAY.isoformat(),
         "conclusion": "pass", "certificate_number": "JD-2"},
    ]  # fmt: skip
    sent = feed.receive_batch(body, records, acting_user=account.user).batch
    assert sent.accepted == 2
    entries = province_log()
    assert {"inspection", "supervisoryinspection"} <= {e["model"] for e in entries}
    forget_the_province()
    result = pull(peer, fetch=feed_of(entries))
    assert (result.state, result.conflicts) == (PullState.OK, 0), result.summary()
    periodic = Inspection.objects.select_related("equipment", "body").get()
    supervisory = SupervisoryInspection.objects.select_related("equipment", "body").get()
    assert periodic.report_number == "BG-1" and supervisory.report_number == "JJ-2"
    for applied in (periodic, supervisory):
        assert applied.equipment.device_code == device.device_code
        assert applied.body.credit_code == body.credit_code
