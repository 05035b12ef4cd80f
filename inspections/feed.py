"""The inspection bodies' feed: a batch of results read record by record (a per-record report, as
an import reports per row), each record applied through the services, idempotent by the body's
report number. The API (api.py) and the file import (imports.py) both come through here.

Which devices a body may report on: those inside the area its feed account is authorised for
(the account user's jurisdiction, `Equipment.visible_to`) and of the catalogue kinds it is
authorised to inspect (FeedAccount.kinds). A device outside either, or unknown, is refused with
the same words: the feed never tells a body what exists beyond its authorisation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from accounts import audit
from accounts.models import User
from common.errors import DomainError, Problem, error_dict
from registry import services as registry_services
from registry.models import Equipment, Inspection, Unit
from registry.models.equipment import InspectionKind

from .models import FeedAccount, FeedBatch, FeedRecord, RecordStatus, Stage, Via
from .services import record_supervisory_inspection

MAX_BATCH = 500
KINDS = (InspectionKind.PERIODIC, InspectionKind.SUPERVISORY)
CONCLUSIONS = ("pass", "conditional", "fail")
REPORT_LENGTH = 32  # registry Inspection.report_number


class BatchTooLarge(DomainError):
    status = 413


class BatchRefused(DomainError):
    """The batch as a whole cannot be read: nothing of it is stored."""


@dataclass
class Parsed:
    report_number: str = ""
    kind: str = ""
    device_code: str = ""
    inspected_on: dt.date | None = None
    conclusion: str = ""
    stage: str = ""
    certificate_number: str = ""
    defects: int = 0
    defect_notes: str = ""
    problems: list[Problem] = field(default_factory=list)

    def digest(self) -> str:
        wanted = {k: v for k, v in vars(self).items() if k != "problems"}
        wanted["inspected_on"] = str(wanted["inspected_on"])
        return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()

    def problem(self, name: str, rule: str, message: str) -> None:
        self.problems.append(Problem(name, rule, message))


def _text(record: Mapping, name: str, parsed: Parsed, limit: int, *, required: bool) -> str:
    value = record.get(name)
    if value is None or value == "":
        if required:
            parsed.problem(name, "required", f"缺少 {name} / {name} is required")
        return ""
    # A NUL cannot be stored in PostgreSQL text: refused as unreadable, never a database error.
    if not isinstance(value, str) or len(value.strip()) > limit or "\x00" in value:
        parsed.problem(
            name, "invalid", f"应为不超过 {limit} 个字符的文本 / text of at most {limit}"
        )
        return ""
    return value.strip()


def parse(record: Any) -> Parsed:
    """One record as sent, read into its fields; what cannot be read is listed by field."""
    parsed = Parsed()
    if not isinstance(record, Mapping):
        parsed.problem("record", "invalid", "每条记录应为对象 / each record is an object")
        return parsed
    parsed.report_number = _text(record, "report_number", parsed, REPORT_LENGTH, required=True)
    parsed.device_code = _text(record, "device_code", parsed, 32, required=True).upper()
    parsed.kind = _text(record, "kind", parsed, 16, required=True)
    if parsed.kind and parsed.kind not in KINDS:
        parsed.problem(
            "kind", "kind.unknown", "应为 periodic 或 supervisory / periodic or supervisory"
        )
    parsed.conclusion = _text(record, "conclusion", parsed, 12, required=True)
    if parsed.conclusion and parsed.conclusion not in CONCLUSIONS:
        parsed.problem("conclusion", "conclusion.unknown", "应为 pass、conditional 或 fail")
    raw_date = _text(record, "inspected_on", parsed, 10, required=True)
    if raw_date:
        try:
            parsed.inspected_on = dt.date.fromisoformat(raw_date)
        except ValueError:
            parsed.problem("inspected_on", "date.invalid", "应为 YYYY-MM-DD / expected YYYY-MM-DD")
    supervisory = parsed.kind == InspectionKind.SUPERVISORY
    parsed.stage = _text(record, "stage", parsed, 16, required=supervisory)
    if parsed.stage and parsed.stage not in Stage.values:
        parsed.problem("stage", "stage.unknown", f"应为 {'、'.join(Stage.values)}")
    parsed.certificate_number = _text(
        record, "certificate_number", parsed, 40,
        required=supervisory and parsed.conclusion in ("pass", "conditional"),
    )  # fmt: skip
    defects = record.get("defects", 0)
    if isinstance(defects, bool) or not isinstance(defects, int) or not 0 <= defects <= 32767:
        parsed.problem("defects", "invalid", "应为 0–32767 的整数 / an integer 0–32767")
    else:
        parsed.defects = defects
    parsed.defect_notes = _text(record, "defect_notes", parsed, 2000, required=False)
    return parsed


def devices_for(body: Unit, acting_user: User | None):
    """The devices `acting_user` may report on for this body: inside the user's jurisdiction and,
    when the body has a feed account, of the kinds it is authorised to inspect."""
    devices = Equipment.objects.visible_to(acting_user) if acting_user else Equipment.objects.all()
    account = FeedAccount.objects.filter(body=body).first()
    if account is not None:
        devices = devices.filter(kind__in=account.kinds)
    return devices


@dataclass
class Report:
    batch: FeedBatch
    records: list[dict] = field(default_factory=list)


def _refused(problems) -> dict:
    return error_dict({p.field: [{"rule": p.rule, "message": p.message, "suggestion": ""}]
                       for p in problems})  # fmt: skip


def _apply(body: Unit, parsed: Parsed, devices, acting_user: User | None):
    """Write one new record through the services; the inspection (periodic or supervisory)."""
    found = list(
        devices.filter(Q(device_code=parsed.device_code) | Q(registration_code=parsed.device_code))[
            :2
        ]
    )
    if len(found) != 1:
        raise DomainError([Problem(
            "device_code", "device.out_of_scope",
            "不在本机构核准检验的设备之中 / not among the devices this body may inspect",
        )])  # fmt: skip
    equipment = found[0]
    if parsed.kind == InspectionKind.SUPERVISORY:
        return equipment, record_supervisory_inspection(
            equipment, acting_user=acting_user, stage=parsed.stage, body=body,
            inspected_on=parsed.inspected_on, conclusion=parsed.conclusion,
            report_number=parsed.report_number, certificate_number=parsed.certificate_number,
        )  # fmt: skip
    if Inspection.objects.filter(body=body, report_number=parsed.report_number).exists():
        raise DomainError([Problem(
            "report_number", "report.taken",
            "登记库中已有此报告编号 / this report number is already in the register",
        )])  # fmt: skip
    return equipment, registry_services.record_inspection(
        equipment, acting_user=acting_user, conclusion=parsed.conclusion,
        inspected_on=parsed.inspected_on, kind=InspectionKind.PERIODIC, body=body,
        defects=parsed.defects, defect_notes=parsed.defect_notes,
        report_number=parsed.report_number,
    )  # fmt: skip


@transaction.atomic
def receive_batch(
    body: Unit, records: Any, *, acting_user: User | None, via: str = Via.API
) -> Report:
    """Read and apply a body's batch: each record accepted, acknowledged as a repeat (same report
    number, same content), or refused with its reasons; a changed repeat is refused."""
    if not isinstance(records, list) or not records:
        raise BatchRefused([Problem("records", "invalid", "应为非空的记录列表 / a non-empty list")])
    if len(records) > MAX_BATCH:
        raise BatchTooLarge([Problem(
            "records", "batch.too_large",
            f"每批最多 {MAX_BATCH} 条 / at most {MAX_BATCH} records a batch",
        )])  # fmt: skip
    # One batch of a body at a time: its report numbers are checked and taken in order.
    body = Unit.objects.select_for_update().get(pk=body.pk)
    devices = devices_for(body, acting_user)
    batch = FeedBatch.objects.create(body=body, via=via, sent_by=acting_user, region=body.region)
    report = Report(batch)
    counts = {status: 0 for status in RecordStatus.values}
    for position, record in enumerate(records):
        parsed = parse(record)
        row = FeedRecord(
            batch=batch, body=body, position=position, report_number=parsed.report_number,
            kind=parsed.kind, device_code=parsed.device_code, digest=parsed.digest(),
            region=body.region,
        )  # fmt: skip
        earlier = None
        if parsed.report_number:
            earlier = FeedRecord.objects.filter(
                body=body, report_number=parsed.report_number, status=RecordStatus.ACCEPTED
            ).first()
        if parsed.problems:
            row.status, row.errors = RecordStatus.REFUSED, _refused(parsed.problems)
        elif earlier is not None and earlier.digest == row.digest:
            row.status, row.region_id = RecordStatus.DUPLICATE, earlier.region_id
        elif earlier is not None:
            row.status = RecordStatus.REFUSED
            row.errors = _refused([Problem(
                "report_number", "report.changed",
                "此报告编号已接收且内容不同，更正请联系监察机构 / this report number was accepted "
                "with other content: a correction goes through the supervisor",
            )])  # fmt: skip
        else:
            try:
                with transaction.atomic():
                    equipment, written = _apply(body, parsed, devices, acting_user)
            except DomainError as refused:
                row.status, row.errors = RecordStatus.REFUSED, refused.as_dict()
            else:
                row.status, row.region_id = RecordStatus.ACCEPTED, equipment.region_id
                if parsed.kind == InspectionKind.SUPERVISORY:
                    row.supervisory = written
                else:
                    row.inspection = written
        row.save()
        counts[row.status] += 1
        report.records.append({
            "position": position, "report_number": parsed.report_number,
            "status": row.status, "errors": row.errors,
        })  # fmt: skip
    batch.accepted = counts[RecordStatus.ACCEPTED]
    batch.duplicates = counts[RecordStatus.DUPLICATE]
    batch.refused = counts[RecordStatus.REFUSED]
    batch.save(update_fields=["accepted", "duplicates", "refused"])
    audit.record(
        acting_user, "feed_batch.received", batch,
        after={"body": body.pk, "via": via, **{k: v for k, v in counts.items()}},
        region_code=body.region_id,
    )  # fmt: skip
    return report
