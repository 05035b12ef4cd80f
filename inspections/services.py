"""Writes of supervisory inspections and of the inspection bodies' feed: atomic, audited, each
checked against the role policy; inspection results go through the registry's services."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit, policy, tokens
from accounts.models import Agency, Role, User
from geo.models import Region
from registry.exchange import changelog
from registry.models import Equipment, Unit, UnitRole
from registry.services.checks import ensure_in_jurisdiction, error, raise_on_errors, refuse

from .models import BodyMember, FeedAccount, Stage, SupervisoryInspection

# A year, then the administrator issues a new key (the old one stops at once).
TOKEN_DAYS = 365


@transaction.atomic
def record_supervisory_inspection(
    equipment: Equipment,
    *,
    acting_user: User | None,
    stage: str,
    body: Unit,
    inspected_on: dt.date,
    conclusion: str,
    report_number: str,
    certificate_number: str = "",
) -> SupervisoryInspection:
    """Record a supervisory inspection (监督检验) of a device at one stage by an inspection body."""
    policy.require(acting_user, policy.Action.RECORD_INSPECTION)
    equipment = Equipment.objects.select_for_update().get(pk=equipment.pk)
    ensure_in_jurisdiction(acting_user, equipment.region_id)
    findings = []
    if stage not in Stage.values:
        findings.append(error("stage", "stage.unknown", f"未知阶段 / unknown stage {stage!r}"))
    if conclusion not in ("pass", "conditional", "fail"):
        findings.append(
            error(
                "conclusion",
                "conclusion.unknown",
                f"未知检验结论 / unknown conclusion {conclusion!r}",
            )
        )
    if inspected_on > timezone.localdate():
        findings.append(
            error("inspected_on", "date.future", "检验日期不能在未来 / the date is in the future")
        )
    if UnitRole.INSPECTION not in body.roles:
        findings.append(
            error(
                "body", "unit.role", "该单位不是检验检测机构 / the unit is not an inspection body"
            )
        )
    if not report_number:
        findings.append(error("report_number", "required", "需要报告编号 / give the report number"))
    if conclusion != "fail" and not certificate_number:
        findings.append(
            error(
                "certificate_number", "required",
                "合格的监督检验需要证书编号 / a passed inspection needs its certificate number",
            )
        )  # fmt: skip
    if SupervisoryInspection.objects.filter(body=body, report_number=report_number).exists():
        findings.append(
            error(
                "report_number", "report.taken", "该机构已有此报告编号 / report number already used"
            )
        )
    raise_on_errors(findings)
    inspection = SupervisoryInspection.objects.create(
        equipment=equipment, stage=stage, body=body, inspected_on=inspected_on,
        conclusion=conclusion, report_number=report_number, certificate_number=certificate_number,
    )  # fmt: skip
    audit.record(acting_user, "supervisory.recorded", inspection, region_code=equipment.region_id)
    changelog.record(inspection, changelog.ChangeOperation.CREATE)
    return inspection


@transaction.atomic
def open_feed_account(
    body: Unit, *, area: Region, kinds: list[str], acting_user: User | None
) -> FeedAccount:
    """Give an inspection body its feed account: a machine user of role inspector whose agency
    covers the area it is authorised for, limited to the catalogue kinds it may inspect."""
    policy.require(acting_user, policy.Action.ADMINISTER)
    if UnitRole.INSPECTION not in body.roles:
        refuse("body", "unit.role", "该单位不是检验检测机构 / the unit is not an inspection body")
    if not kinds or any(len(k) != 4 or not k.endswith("000") for k in kinds):
        refuse(
            "kinds", "kinds.invalid", "应为设备种类代码，如 3000 / expected kind codes like 3000"
        )
    ensure_in_jurisdiction(acting_user, area.code)
    agency = Agency.objects.create(
        name=f"{body.name}（检验数据接口）"[:128], level=area.level, region=area
    )
    user = User(username=f"feed-{body.pk}", agency=agency, role=Role.INSPECTOR)
    user.set_unusable_password()  # the token is its only credential
    user.save()
    account = FeedAccount.objects.create(
        body=body, user=user, kinds=sorted(kinds), region=body.region
    )
    audit.record(
        acting_user, "feed_account.opened", account,
        after={"body": body.pk, "area": area.code, "kinds": account.kinds},
        region_code=body.region_id,
    )  # fmt: skip
    return account


@transaction.atomic
def issue_feed_token(account: FeedAccount, *, acting_user: User | None) -> str:
    """A new key for the body's feed (accounts.tokens: only its digest is kept; the previous key
    stops working). Returned once, for the administrator to hand over."""
    policy.require(acting_user, policy.Action.ADMINISTER)
    token = tokens.issue_api_token(account.user, days=TOKEN_DAYS)
    audit.record(
        acting_user, "feed_token.issued", account,
        after={"body": account.body_id, "expires_at": token.expires_at.isoformat()},
        region_code=account.body.region_id,
    )  # fmt: skip
    return token.key


@transaction.atomic
def revoke_feed_token(account: FeedAccount, *, acting_user: User | None) -> int:
    """Stop the body's feed key now; how many usable keys there were."""
    policy.require(acting_user, policy.Action.ADMINISTER)
    return tokens.revoke_api_tokens(account.user, acting_user=acting_user)


@transaction.atomic
def link_body_member(user: User, body: Unit, *, acting_user: User | None) -> BodyMember:
    """Say which inspection body an inspector works for: they then read their body's page."""
    policy.require(acting_user, policy.Action.ADMINISTER)
    if user.role != Role.INSPECTOR:
        refuse("user", "user.role", _("只有检验人员属于检验机构"))
    if UnitRole.INSPECTION not in body.roles:
        refuse("body", "unit.role", _("该单位不是检验检测机构"))
    ensure_in_jurisdiction(acting_user, body.region_id)
    member, _created = BodyMember.objects.update_or_create(user=user, defaults={"body": body})
    audit.record(
        acting_user, "body_member.linked", member,
        after={"user": user.pk, "body": body.pk}, region_code=body.region_id,
    )  # fmt: skip
    return member
