"""Every write of the public service: issuing, reissuing and revoking a device's QR token, and a
member of the public's report, which opens an incident through the response desk's own service."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import User
from common.errors import DomainError, Problem
from registry.models import Equipment
from registry.personal import mask_phone, shown_in_full, value_for
from response import services as response_services
from response.locate import at_device

from .card import ENDED
from .models import PublicReport, PublicToken, ReportKind

# 32 random bytes: 256 bits, 43 URL-safe characters (the brief asks at least 128).
TOKEN_BYTES = 32
MAX_DESCRIPTION = 500
# A mainland mobile (11 digits from 1), or a landline with its area code; +86 allowed.
PHONE = re.compile(r"^(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
# 96333 fault code of trapped passengers (response.models.Incident.fault_code).
TRAPPED_FAULT = "11"


class PublicError(DomainError):
    """A public request refused as given; nothing was saved."""


def refuse(field: str, rule: str, message: str) -> None:
    raise PublicError([Problem(field, rule, message)])


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_of(token: str) -> Equipment | None:
    """The device a live token names; None for an unknown or revoked one alike."""
    if not token or len(token) > 64:
        return None
    found = (
        PublicToken.objects.filter(token=token, revoked_at__isnull=True)
        .select_related("equipment__variety__parent__parent", "equipment__region__parent")
        .select_related("equipment__use_unit", "equipment__maintenance_unit")
        .first()
    )
    return found.equipment if found else None


def ensure_tokens(devices: Iterable[Equipment], *, acting_user: User | None) -> dict[int, str]:
    """Each device's live token, issuing one where it has none (printing a label, the bulk
    command); by device id."""
    devices = list(devices)
    ids = [d.pk for d in devices]
    live = dict(
        PublicToken.objects.filter(equipment_id__in=ids, revoked_at__isnull=True).values_list(
            "equipment_id", "token"
        )
    )
    for device in devices:
        if device.pk not in live:
            live[device.pk] = issue_token(device, acting_user=acting_user).token
    return live


@transaction.atomic
def issue_token(device: Equipment, *, acting_user: User | None) -> PublicToken:
    """The device's live token, or a new one in place of none or of a revoked one."""
    current = PublicToken.objects.select_for_update().filter(equipment=device).first()
    if current is not None and current.revoked_at is None:
        return current
    return _replace(device, current, acting_user, "public_token.issued")


@transaction.atomic
def reissue_token(device: Equipment, *, acting_user: User | None) -> PublicToken:
    """A new token for the device; the old one (a label taken away, copied) stops answering."""
    current = PublicToken.objects.select_for_update().filter(equipment=device).first()
    return _replace(device, current, acting_user, "public_token.reissued")


@transaction.atomic
def revoke_token(device: Equipment, *, acting_user: User | None) -> PublicToken | None:
    """The device's label stops answering until a token is issued again."""
    current = PublicToken.objects.select_for_update().filter(equipment=device).first()
    if current is None or current.revoked_at is not None:
        return current
    before = _audited(current)
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    audit.record(
        acting_user, "public_token.revoked", current, before=before, after=_audited(current),
        region_code=device.region_id,
    )  # fmt: skip
    return current


def _audited(token: PublicToken) -> dict:
    # The token itself is a credential of sorts: the trail keeps that it changed, not its value.
    return {**audit.snapshot(token, exclude=("token",)), "token": token.token[:6] + "…"}


def _replace(device, current, acting_user, action: str) -> PublicToken:
    before = _audited(current) if current is not None else None
    for _attempt in range(3):  # 256 random bits do not collide; the constraint is the proof
        try:
            with transaction.atomic():
                if current is None:
                    current = PublicToken(equipment=device)
                current.token, current.issued_at, current.revoked_at = (
                    new_token(),
                    timezone.now(),
                    None,
                )
                current.save()
                break
        except IntegrityError:
            continue
    audit.record(
        acting_user, action, current, before=before, after=_audited(current),
        region_code=device.region_id,
    )  # fmt: skip
    return current


def check_phone(phone: str) -> str:
    phone = re.sub(r"\s+", "", phone or "")
    if not phone:
        refuse("phone", "phone.required", "请留下回拨电话 / give a phone number to call you back")
    if not PHONE.match(phone):
        refuse(
            "phone",
            "phone.format",
            "电话号码格式不对，例如 13912345678 或 0951-1234567 / not a phone number: e.g. "
            "13912345678 or 0951-1234567",
        )
    return phone


def check_photo(content: bytes | None, max_bytes: int) -> tuple[bytes | None, str]:
    """The photo and its type, known by its first bytes (a name or a browser's word is not proof)."""
    if not content:
        return None, ""
    check_photo_size(len(content), max_bytes)
    for magic, kind in PHOTO_TYPES.items():
        if content.startswith(magic):
            return content, kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return content, "image/webp"
    refuse("photo", "photo.type", "照片须为 JPEG、PNG 或 WebP / a photo is a JPEG, PNG or WebP")
    return None, ""


def check_photo_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        refuse(
            "photo",
            "photo.size",
            f"照片不能超过 {max_bytes // (1024 * 1024)} MB / a photo has at most "
            f"{max_bytes // (1024 * 1024)} MB",
        )


@transaction.atomic
def report_problem(
    device: Equipment,
    *,
    kind: str,
    phone: str,
    description: str = "",
    photo: bytes | None = None,
    photo_max_bytes: int,
) -> PublicReport:
    """A member of the public's report: an incident on the device's county desk (the console's
    own `report_incident`, with no user: the public channel), and the report with its call-back
    number (personal data, masked in the incident and the trail)."""
    if device.status in ENDED:
        refuse("equipment", "equipment.ended", "该设备已注销 / this device is no longer in use")
    if kind not in ReportKind.values:
        refuse(
            "kind",
            "kind.unknown",
            f"请选择问题类型 / choose what happened: {', '.join(ReportKind.values)}",
        )
    phone = check_phone(phone)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        refuse(
            "description",
            "description.length",
            f"情况说明最长 {MAX_DESCRIPTION} 字 / at most {MAX_DESCRIPTION} characters",
        )
    photo, photo_type = check_photo(photo, photo_max_bytes)
    label = ReportKind(kind).label
    incident = response_services.report_incident(
        at_device(device),
        acting_user=None,
        query="公众报告 / public report",
        fault_code=TRAPPED_FAULT if kind == ReportKind.TRAPPED else "",
        summary=f"【公众报告 / public report】{label}。{description} "
        f"回拨 / call back: {mask_phone(phone)}（完整号码见“公众报告” / full number: public reports）",
    )
    report = PublicReport.objects.create(
        incident=incident,
        equipment=device,
        region_id=incident.region_id,
        kind=kind,
        description=description,
        phone=phone,
        photo=photo,
        photo_type=photo_type,
        received_at=incident.reported_at,
    )
    audit.record(
        None, "public_report.received", report, after=audit.snapshot(report, exclude=("photo",))
    )
    return report


def read_phone(report: PublicReport, *, acting_user: User) -> str:
    """The call-back number as this user may see it; a full one shown leaves an audit row."""
    if shown_in_full(acting_user, report, ("phone",)):
        audit.record_personal_data_read(
            acting_user, [report], ("phone",), "public report call-back"
        )
    return value_for(acting_user, report, "phone")
