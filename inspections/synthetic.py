"""Supervisory inspections for the demo's devices (most have theirs, a few do not: the findings),
and one inspection body with a feed account that has posted a batch through the feed's own path
(feed.receive_batch): accepted results, a repeat and refused records, so its page shows all three;
and a login for one of that body's people (`body`), who opens the body's page."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Role, User
from geo.models import Level, Region
from registry.models import Equipment, EquipmentStatus, Unit, UnitRole

from . import feed, rules, services
from .models import FeedAccount, Stage, SupervisoryInspection

MISSING_SHARE = 0.03  # devices left without a required supervisory inspection
BATCH = 40  # periodic results in the body's demo batch
MEMBER_USER = "body"  # the demo login of an inspector of the body that posted the batch


@dataclass
class Report:
    supervisory: int = 0
    missing: int = 0
    accepted: int = 0
    refused: int = 0
    member: str = ""  # the body member's login, when one was made


def _bodies(prefix: str) -> list[Unit]:
    return list(Unit.objects.within_prefix(prefix).with_role(UnitRole.INSPECTION).order_by("pk"))


@transaction.atomic
def generate(*, prefix: str, seed: int = 2026) -> Report:
    """Supervisory inspections for the registered devices under `prefix`, and the body's batch."""
    rng = random.Random(seed)
    report = Report()
    if SupervisoryInspection.objects.filter(equipment__region__code__startswith=prefix).exists():
        raise ValueError(f"supervisory inspections under {prefix!r} exist already")
    bodies = _bodies(prefix)
    if not bodies:  # a registry without inspection bodies: nothing to supervise with
        return report
    devices = (
        Equipment.objects.within_prefix(prefix)
        .filter(status__in=rules.REGISTERED)
        .only("pk", "variety_id", "manufactured_on", "commissioned_on")
        .order_by("pk")
    )
    rows = []
    for device in devices.iterator(chunk_size=2000):
        stages = [s for s in rules.required_for(device.variety_id) if s in rules.ALWAYS]
        if not stages:
            continue
        if rng.random() < MISSING_SHARE:
            report.missing += 1
            stages = stages[:-1]  # the last required stage is missing (installation if both)
        for stage in stages:
            day = device.commissioned_on or dt.date(2020, 1, 1)
            if stage == Stage.MANUFACTURE:
                day = device.manufactured_on or day - dt.timedelta(days=90)
            body = rng.choice(bodies)
            n = len(rows) + 1
            rows.append(SupervisoryInspection(
                equipment_id=device.pk, stage=stage, body=body, inspected_on=day,
                conclusion="pass", report_number=f"JJ{prefix}{n:07d}",
                certificate_number=f"JD{day:%Y}-{n:07d}",
            ))  # fmt: skip
    # Bulk: tens of thousands of demo rows (the service writes one audited row at a time).
    SupervisoryInspection.objects.bulk_create(rows, batch_size=2000)
    report.supervisory = len(rows)
    report.accepted, report.refused = _feed_batch(bodies[0], prefix, rng)
    report.member = _member(bodies[0]).username
    return report


def _member(body: Unit) -> User:
    """An inspector of the body (BodyMember, through the service) in the supervision agency of the
    area its feed account covers, so the body's page shows every record it sent."""
    from accounts.demo import DEMO_PASSWORD

    area = FeedAccount.objects.select_related("user__agency").get(body=body).user.agency.region_id
    agency = Agency.objects.filter(region_id=area).order_by("pk").first()
    user, _ = User.objects.get_or_create(username=MEMBER_USER)
    user.agency, user.role, user.is_staff = agency, Role.INSPECTOR, False
    user.set_password(DEMO_PASSWORD)
    user.save()
    services.link_body_member(user, body, acting_user=None)
    return user


def _feed_batch(body: Unit, prefix: str, rng: random.Random) -> tuple[int, int]:
    """The body's feed account over its city, and one batch it posted through the feed."""
    city = Region.objects.filter(code=body.region_id[:4] + "00", level=Level.CITY).first()
    area = city or Region.objects.get(code=body.region_id)
    account = FeedAccount.objects.filter(body=body).first() or services.open_feed_account(
        body, area=area, kinds=["3000", "4000"], acting_user=None
    )
    user = User.objects.get(pk=account.user_id)
    today = timezone.localdate()
    devices = list(
        Equipment.objects.visible_to(user).filter(
            kind__in=account.kinds, status=EquipmentStatus.IN_USE
        ).order_by("pk")[: BATCH]
    )  # fmt: skip
    records = [
        {"report_number": f"BG{today:%Y}{i:05d}", "kind": "periodic", "device_code": d.device_code,
         "inspected_on": (today - dt.timedelta(days=rng.randint(1, 20))).isoformat(),
         "conclusion": rng.choices(["pass", "conditional", "fail"], [90, 7, 3])[0]}
        for i, d in enumerate(devices, 1)
    ]  # fmt: skip
    if records:
        records.append(dict(records[0]))  # a repeat: acknowledged
        records.append({**records[1], "conclusion": "fail"} if len(records) > 2 else {})
    records.append({"report_number": f"BG{today:%Y}99998", "kind": "periodic",
                    "device_code": "1110X000000000000", "inspected_on": today.isoformat(),
                    "conclusion": "pass"})  # fmt: skip  # not a device it may inspect
    records.append({"report_number": f"BG{today:%Y}99999", "kind": "periodic",
                    "inspected_on": "2026-02-30", "conclusion": "ok"})  # fmt: skip  # malformed
    result = feed.receive_batch(body, records, acting_user=user)
    return result.batch.accepted, result.batch.refused
