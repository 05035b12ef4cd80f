"""Every write to licences and licence applications: atomic, checked against accounts.policy and
the jurisdiction, audited. The application is an explicit state machine (TRANSITIONS)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit, policy
from accounts.models import Role, User
from common.errors import DomainError, Problem
from geo.scoping import Scope
from registry.models import Unit
from registry.services.checks import ensure_in_jurisdiction

from . import findings, rules
from .models import (
    Application,
    ApplicationState,
    ApplicationStep,
    FindingAction,
    Licence,
    LicenceKind,
    LicenceScope,
    LicenceStatus,
    UnitAccount,
)

S = ApplicationState
# (state, verb) -> the next state; who may take the verb is the verb's action below.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.SUBMITTED, "accept"): S.UNDER_REVIEW,
    (S.SUBMITTED, "request_changes"): S.CHANGES_REQUESTED,
    (S.UNDER_REVIEW, "request_changes"): S.CHANGES_REQUESTED,
    (S.CHANGES_REQUESTED, "resubmit"): S.SUBMITTED,
    (S.UNDER_REVIEW, "approve"): S.APPROVED,
    (S.SUBMITTED, "refuse"): S.REFUSED,
    (S.UNDER_REVIEW, "refuse"): S.REFUSED,
}
DECISIONS = ("accept", "request_changes", "approve", "refuse")  # the authority's verbs
NEEDS_REASONS = ("request_changes", "refuse")
VERB_LABELS = {
    "file": "提交申请 / filed",
    "accept": "受理 / accepted",
    "request_changes": "要求补正 / changes requested",
    "resubmit": "补正后重新提交 / amended and resubmitted",
    "approve": "批准并发证 / approved, licence issued",
    "refuse": "不予许可 / refused",
}


class LicensingError(DomainError):
    """A licence or application write refused; nothing was saved."""


@transaction.atomic
def record_finding_action(
    *, equipment_id: int | None, unit_id: int, kind: str, action: str, acting_user: User | None
) -> FindingAction:
    """Record what was done about an unlicensed-activity finding (查处: ordered to stop, a case
    opened, a fine …): the finding must be one the acting user's findings list holds today."""
    policy.require(acting_user, policy.Action.DECIDE_LICENCE)
    action = action.strip()
    if not action:
        raise _refuse("action", "required", _("请填写查处措施"))
    today = _today()
    reader = acting_user if acting_user is not None else Scope("")
    finding = findings.finding(
        reader, today=today, equipment_id=equipment_id, unit_id=unit_id, kind=kind
    )
    if finding is None:
        # Another jurisdiction's finding answers like one that does not exist.
        raise _refuse("finding", "finding.unknown", _("辖区内无此无证行为"))
    done = FindingAction.objects.create(
        equipment_id=equipment_id, unit_id=unit_id, kind=kind, action=action[:2000],
        acted_on=today, actor=acting_user, region_id=finding.region_id,
    )  # fmt: skip
    audit.record(acting_user, "unlicensed.acted", done, region_code=finding.region_id)
    return done


def _refuse(field: str, rule: str, message: str) -> LicensingError:
    return LicensingError([Problem(field, rule, message)])


def _today() -> dt.date:
    return timezone.localdate()


def acts_for(user: User | None) -> int | None:
    """The unit an enterprise account acts for (None: not an enterprise account, or none set)."""
    account = UnitAccount.objects.filter(user=user).first() if user is not None else None
    return account.unit_id if account else None


def _may_act_for(user: User | None, unit: Unit) -> None:
    """An enterprise account writes for its own unit only; others inside their jurisdiction."""
    enterprise = user is not None and getattr(user, "role", None) == Role.ENTERPRISE
    if enterprise and acts_for(user) != unit.pk:
        raise _refuse("unit", "unit.not_yours", "只能为本单位申请 / only for your own unit")
    ensure_in_jurisdiction(user, unit.region_id)


def _scope(kind: str, scope: list[dict[str, Any]]) -> list[dict[str, str]]:
    if kind not in LicenceKind.values:
        raise _refuse("kind", "kind.unknown", f"未知许可类别 {kind[:20]} / unknown licence kind")
    items = [{"code": str(i.get("code", "")), "grade": str(i.get("grade", ""))} for i in scope]
    if problems := rules.scope_problems(kind, items):
        raise LicensingError([Problem("scope", "scope.invalid", p) for p in problems])
    return items


def _step(application: Application, verb: str, actor: User | None, note: str = "") -> None:
    today = _today()
    application.step_started_on = today
    application.step_due_on = rules.due_on(application.state, today)
    ApplicationStep.objects.create(
        application=application, verb=verb, state=application.state, actor=actor, on=today,
        note=note,
    )  # fmt: skip
    audit.record(actor, f"licence_application.{verb}", application)


@transaction.atomic
def file_application(
    unit: Unit, *, kind: str, scope: list[dict[str, Any]], note: str = "",
    acting_user: User | None,
) -> Application:  # fmt: skip
    """A unit (or a supervisor on its behalf) applies for a licence with its scope."""
    policy.require(acting_user, policy.Action.APPLY_LICENCE)
    _may_act_for(acting_user, unit)
    items = _scope(kind, scope)
    if Application.objects.filter(
        unit=unit, kind=kind, state__in=[S.SUBMITTED, S.UNDER_REVIEW, S.CHANGES_REQUESTED]
    ).exists():
        raise _refuse(
            "kind", "application.open", "该类别已有在办申请 / an application of this kind is open"
        )
    application = Application(
        unit=unit, kind=kind, scope=items, note=note.strip(), state=S.SUBMITTED,
        step_started_on=_today(), filed_by=acting_user, region_id=unit.region_id,
    )  # fmt: skip
    application.save()
    _step(application, "file", acting_user, note.strip())
    application.save()
    return application


def lock(pk: int) -> Application:
    return Application.objects.select_for_update().select_related("unit").get(pk=pk)


def _move(application: Application, verb: str) -> None:
    to = TRANSITIONS.get((application.state, verb))
    if to is None:
        state = ApplicationState(application.state).label
        raise _refuse("verb", "state", f"当前状态（{state}）不能执行此操作 / not possible now")
    application.state = to


@transaction.atomic
def amend_application(
    application: Application, *, scope: list[dict[str, Any]], note: str = "",
    acting_user: User | None,
) -> Application:  # fmt: skip
    """The applicant amends what was asked and resubmits (changes_requested → submitted)."""
    policy.require(acting_user, policy.Action.APPLY_LICENCE)
    application = lock(application.pk)
    _may_act_for(acting_user, application.unit)
    items = _scope(application.kind, scope)
    _move(application, "resubmit")
    before = audit.snapshot(application)
    application.scope, application.reasons = items, ""
    if note.strip():
        application.note = note.strip()
    _step(application, "resubmit", acting_user, note.strip())
    application.save()
    audit.record(acting_user, "licence_application.amended", application, before=before)
    return application


@transaction.atomic
def decide_application(
    application: Application, *, verb: str, reasons: str = "", acting_user: User | None,
    number: str = "", expires_on: dt.date | None = None, authority: str = "",
) -> Application:  # fmt: skip
    """The competent authority accepts, requests changes, approves (the licence is issued) or
    refuses with reasons."""
    policy.require(acting_user, policy.Action.DECIDE_LICENCE)
    if verb not in DECISIONS:
        raise _refuse("verb", "verb.unknown", f"未知操作 {verb[:20]} / unknown step")
    application = lock(application.pk)
    ensure_in_jurisdiction(acting_user, application.region_id)
    if verb in NEEDS_REASONS and not reasons.strip():
        raise _refuse("reasons", "reasons.required", "请写明理由 / give the reasons")
    _move(application, verb)
    if verb == "approve":
        if expires_on is None:
            raise _refuse("expires_on", "required", "请填写有效期 / give the expiry date")
        application.licence = issue_licence(
            application.unit, kind=application.kind, scope=application.scope, number=number,
            authority=authority or _authority(acting_user), issued_on=_today(),
            expires_on=expires_on, acting_user=acting_user,
        )  # fmt: skip
    application.reasons = reasons.strip()
    _step(application, verb, acting_user, reasons.strip())
    application.save()
    return application


def _authority(user: User | None) -> str:
    agency = getattr(user, "agency", None)
    return agency.name if agency is not None else "SEGIS"


@transaction.atomic
def issue_licence(
    unit: Unit, *, kind: str, scope: list[dict[str, Any]], number: str, authority: str,
    issued_on: dt.date, expires_on: dt.date, acting_user: User | None,
) -> Licence:  # fmt: skip
    """Register a licence (issued through an application, or recorded from paper)."""
    policy.require(acting_user, policy.Action.DECIDE_LICENCE)
    ensure_in_jurisdiction(acting_user, unit.region_id)
    items = _scope(kind, scope)
    number = number.strip().upper()
    if problem := rules.number_problem(kind, number):
        raise _refuse("number", "number.format", problem)
    if expires_on <= issued_on:
        raise _refuse("expires_on", "dates", "有效期须晚于发证日期 / expiry must follow issue")
    # Any unit's: the answer names the field, not the holder.
    if Licence.objects.filter(number=number).exists():
        raise _refuse("number", "number.duplicate", "许可证编号已登记 / number already registered")
    licence = Licence.objects.create(
        unit=unit, kind=kind, number=number, authority=authority.strip() or "—",
        issued_on=issued_on, expires_on=expires_on, status=LicenceStatus.VALID,
        status_since=issued_on, region_id=unit.region_id,
    )  # fmt: skip
    LicenceScope.objects.bulk_create(
        LicenceScope(licence=licence, code=i["code"], grade=i["grade"]) for i in items
    )
    audit.record(acting_user, "licence.issued", licence, after={**audit.snapshot(licence),
                                                               "scope": items})  # fmt: skip
    return licence


@transaction.atomic
def set_licence_status(
    licence: Licence, *, status: str, since: dt.date, reasons: str, acting_user: User | None
) -> Licence:
    """Suspend, revoke or restore a licence from a day on; every change audited (its history)."""
    policy.require(acting_user, policy.Action.DECIDE_LICENCE)
    licence = Licence.objects.select_for_update().get(pk=licence.pk)
    ensure_in_jurisdiction(acting_user, licence.region_id)
    if status not in (LicenceStatus.VALID, LicenceStatus.SUSPENDED, LicenceStatus.REVOKED):
        raise _refuse(
            "status", "status.unknown", "状态只能是有效、暂停或撤销 / valid, suspended or revoked"
        )
    if licence.status == LicenceStatus.REVOKED:
        raise _refuse(
            "status", "status.revoked", "已撤销的许可证不能再变更 / a revoked licence is final"
        )
    if not reasons.strip():
        raise _refuse("reasons", "reasons.required", "请写明理由 / give the reasons")
    before = audit.snapshot(licence)
    licence.status, licence.status_since = status, since
    licence.save(update_fields=["status", "status_since"])
    audit.record(acting_user, f"licence.{status}", licence, before=before,
                 after={**audit.snapshot(licence), "reasons": reasons.strip()})  # fmt: skip
    return licence


@transaction.atomic
def link_account(user: User, unit: Unit, *, acting_user: User | None) -> UnitAccount:
    """Say which unit an enterprise account acts for."""
    policy.require(acting_user, policy.Action.ADMINISTER)
    if user.role != Role.ENTERPRISE:
        raise _refuse(
            "user", "role", "只有企业用户对应单位 / only enterprise accounts act for a unit"
        )
    account, _created = UnitAccount.objects.update_or_create(user=user, defaults={"unit": unit})
    audit.record(acting_user, "licensing.account_linked", account)
    return account
