"""The inspection bodies' feed: tokens, per-record reports, idempotence by report number, scope."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from inspections import feed, services
from inspections.models import FeedBatch, FeedRecord, SupervisoryInspection
from registry.models import Inspection
from tests.conftest import SHIZUISHAN_DAWUKOU, XIXIA

URL = "/inspections/api/feed/"


def post(body, key: str | None = None, client: Client | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    return (client or Client()).post(
        URL, json.dumps(body), content_type="application/json", **headers
    )


def periodic(device, number="BG2026-0001", **fields):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    return {"report_number": number, "kind": "periodic", "device_code": device.device_code,
            "inspected_on": yesterday.isoformat(), "conclusion": "pass", **fields}  # fmt: skip


def supervisory(device, number="JJ2026-0001", **fields):
    return periodic(device, number, kind="supervisory", stage="installation",
                    certificate_number="JD-0001", **fields)  # fmt: skip


def test_a_body_posts_results_with_its_token(make_equipment, key, body):
    device = make_equipment(XIXIA)
    answer = post({"records": [periodic(device), supervisory(device)]}, key)
    assert answer.status_code == 200, answer.content
    report = answer.json()
    assert (report["accepted"], report["duplicates"], report["refused"]) == (2, 0, 0)
    inspection = Inspection.objects.get(report_number="BG2026-0001")
    assert inspection.body == body and inspection.equipment == device
    # Applied through the registry's service: the due date moved, the audit names the account.
    device.refresh_from_db()
    assert device.next_inspection_due == inspection.next_due
    assert SupervisoryInspection.objects.get().certificate_number == "JD-0001"
    actors = set(AuditEntry.objects.filter(action__in=["inspection.recorded", "supervisory.recorded"])
                 .values_list("actor__username", flat=True))  # fmt: skip
    assert actors == {f"feed-{body.pk}"}


def test_a_repeat_is_acknowledged_not_duplicated(make_equipment, key):
    device = make_equipment(XIXIA)
    post({"records": [periodic(device)]}, key)
    again = post({"records": [periodic(device)]}, key).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert Inspection.objects.count() == 1
    assert FeedBatch.objects.count() == 2


def test_a_changed_repeat_is_refused(make_equipment, key):
    device = make_equipment(XIXIA)
    post({"records": [periodic(device)]}, key)
    changed = post({"records": [periodic(device, conclusion="fail")]}, key).json()
    assert changed["refused"] == 1
    assert changed["records"][0]["errors"]["report_number"][0]["rule"] == "report.changed"
    assert Inspection.objects.get().conclusion == "pass"


def test_a_malformed_record_is_reported_and_the_others_go_in(make_equipment, key):
    device = make_equipment(XIXIA)
    bad = periodic(device, "BG-2", inspected_on="2026-13-40", conclusion="maybe")
    answer = post({"records": [bad, periodic(device, "BG-3"), "not an object"]}, key).json()
    assert [r["status"] for r in answer["records"]] == ["refused", "accepted", "refused"]
    assert set(answer["records"][0]["errors"]) == {"inspected_on", "conclusion"}
    assert answer["records"][2]["errors"]["record"][0]["rule"] == "invalid"
    assert FeedRecord.objects.filter(status="refused").count() == 2


def test_a_device_outside_the_authorisation_is_refused_like_an_unknown_one(make_equipment, key):
    outside_area = make_equipment(SHIZUISHAN_DAWUKOU)  # 石嘴山: not 银川
    other_kind = make_equipment(XIXIA, variety_code="2150")  # a vessel: not authorised
    records = [periodic(outside_area, "A1"), periodic(other_kind, "A2"),
               {**periodic(outside_area, "A3"), "device_code": "3110X000000000000"}]  # fmt: skip
    answer = post({"records": records}, key).json()
    errors = [r["errors"]["device_code"][0] for r in answer["records"]]
    assert {e["rule"] for e in errors} == {"device.out_of_scope"}
    assert len({e["message"] for e in errors}) == 1
    assert not Inspection.objects.exists()


@pytest.mark.parametrize("header", ["Token nope", "Token", "Bearer x"])
def test_a_bad_token_is_refused(header, account):
    answer = Client().post(URL, "{}", content_type="application/json", HTTP_AUTHORIZATION=header)
    assert answer.status_code == 401
    assert "errors" in answer.json()


def test_a_revoked_token_is_refused(make_equipment, account, key):
    services.revoke_feed_token(account, acting_user=None)
    answer = post({"records": [periodic(make_equipment(XIXIA))]}, key)
    assert answer.status_code == 401
    assert answer.json()["errors"]["user"][0]["rule"]


def test_a_new_token_replaces_the_old(make_equipment, account, key):
    fresh = services.issue_feed_token(account, acting_user=None)
    assert post({"records": [periodic(make_equipment(XIXIA))]}, key).status_code == 401
    assert post({"records": [periodic(make_equipment(XIXIA))]}, fresh).status_code == 200


def test_only_the_digest_of_the_key_is_kept(account, key):
    from accounts.models import ApiToken
    from accounts.tokens import digest

    stored = ApiToken.objects.get(user=account.user)
    assert stored.digest == digest(key) and key not in stored.digest


def test_an_oversized_batch_is_refused_whole(make_equipment, key):
    device = make_equipment(XIXIA)
    records = [periodic(device, f"N{i}") for i in range(feed.MAX_BATCH + 1)]
    answer = post({"records": records}, key)
    assert answer.status_code == 413
    assert answer.json()["errors"]["records"][0]["rule"] == "batch.too_large"
    assert not FeedBatch.objects.exists() and not Inspection.objects.exists()


@pytest.mark.parametrize("records", [None, [], {"a": 1}, "text"])
def test_a_batch_that_is_no_list_is_a_400(records, key):
    answer = post({"records": records}, key)
    assert answer.status_code == 400
    assert "records" in answer.json()["errors"]


def test_no_credentials_is_a_401():
    assert post({"records": []}).status_code == 401


def test_a_supervisor_posts_for_a_body_of_the_jurisdiction(make_equipment, body, users):
    client = Client()
    client.force_login(users["xingqing"])
    device = make_equipment()
    answer = post({"body": body.pk, "records": [periodic(device)]}, client=client)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1


def test_another_jurisdictions_body_is_as_missing(make_unit, make_equipment, users):
    from registry.models import UnitRole

    theirs = make_unit(XIXIA, roles=(UnitRole.INSPECTION,))
    client = Client()
    client.force_login(users["xingqing"])
    answer = post({"body": theirs.pk, "records": [periodic(make_equipment())]}, client=client)
    missing = post({"body": 2147480000, "records": [periodic(make_equipment())]}, client=client)
    assert answer.status_code == missing.status_code == 404


def test_an_analyst_may_not_post(body, users, make_equipment):
    client = Client()
    client.force_login(users["xingqing_analyst"])
    answer = post({"body": body.pk, "records": [periodic(make_equipment())]}, client=client)
    assert answer.status_code == 403


def test_unstorable_text_is_a_refused_record_not_an_error(make_equipment, key):
    record = periodic(make_equipment(XIXIA), "N\x00UL")
    answer = post({"records": [record]}, key)
    assert answer.status_code == 200
    assert answer.json()["records"][0]["errors"]["report_number"][0]["rule"] == "invalid"


@pytest.mark.parametrize("value", ["99999999999999999999", -1, True, "x", None])
def test_a_body_id_that_cannot_be_one_is_a_400(value, users, make_equipment):
    client = Client()
    client.force_login(users["xingqing"])
    answer = post({"body": value, "records": [periodic(make_equipment())]}, client=client)
    assert answer.status_code == 400 and "body" in answer.json()["errors"]
