"""Demo licences: every maker, installer and filling station of the loaded registry licensed for
what it does over the last two licence periods — except a few (a scope left out, a licence
revoked, expired or never issued) so that findings show — some licences expiring within 90 days,
applications at each step, an enterprise login acting for one unit, and what the supervisors did
about most of the findings (查处), so that 无证生产查处率 has figures."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Role, User
from geo.scoping import Scope
from registry.models import Unit, UnitRole

from . import findings, rules, services
from .models import Application, FindingAction, Licence, LicenceKind, LicenceStatus, UnitAccount

PERIOD = dt.timedelta(days=4 * 365)  # TSG 07-2019: a licence runs four years
AUTHORITY = "宁夏回族自治区市场监督管理厅"
ENTERPRISE_USER = "enterprise"


@dataclass
class Report:
    licences: int = 0
    units: int = 0
    unlicensed_units: int = 0
    applications: int = 0
    acted: int = 0  # findings with a recorded action
    findings: int = 0


def _scope(kind: str, kinds: set[str]) -> list[dict]:
    """The scope entries of a licence kind that cover these catalogue kinds."""
    return [
        {"code": g.code, "grade": g.grade}
        for g in rules.grades_of(kind)
        if g.code[0] in {k[0] for k in kinds} or g.code == rules.ANY_CODE
    ]


class _Numbers:
    def __init__(self, province: str):
        self.province, self.serial = province[:2], 0

    def next(self, kind: str, expires: dt.date) -> str:
        self.serial += 1
        lead = rules.number_formats()[kind].example[2]
        return f"TS{lead}{self.province}{self.serial:04d}-{expires.year}"


def _issue(unit, kind, scope, numbers, issued, expires) -> Licence:
    return services.issue_licence(
        unit, kind=kind, scope=scope, number=numbers.next(kind, expires), authority=AUTHORITY,
        issued_on=issued, expires_on=expires, acting_user=None,
    )  # fmt: skip


@transaction.atomic
def generate(*, prefix: str, county: str, seed: int = 2026, today: dt.date | None = None) -> Report:
    """Licences for the makers, installers and filling stations under `prefix`."""
    # The cylinder demo (run first) issues its stations' filling licences: those are not "ours".
    if Licence.objects.within_prefix(prefix).exclude(kind=LicenceKind.FILLING).exists():
        return Report()
    rng = random.Random(seed)
    today = today or timezone.localdate()
    numbers, report = _Numbers(prefix), Report()
    work: dict[tuple[int, str], set[str]] = defaultdict(set)
    for unit_id, kind, device_kind in findings.activity_kinds(prefix):
        work[(unit_id, kind)].add(device_kind)
    stations = Unit.objects.within_prefix(prefix).with_role(UnitRole.FILLING)
    for unit_id in stations.exclude(licences__kind=LicenceKind.FILLING).values_list(
        "pk", flat=True
    ):
        work[(unit_id, LicenceKind.FILLING)].add("2000")
    units = Unit.objects.in_bulk({u for u, _ in work})
    keys = sorted(work)
    rng.shuffle(keys)
    # The exceptions, a few of each: never licensed, a kind left out of the scope, revoked half a
    # year ago, lapsed three months ago; and some whose current licence ends within 90 days.
    never, narrow, revoked, lapsed, expiring = (keys[0:3], keys[3:5], keys[5:6], keys[6:9],
                                                keys[9:14])  # fmt: skip
    for key in keys:
        unit_id, kind = key
        scope = _scope(kind, work[key])
        if key in never or not scope:
            report.unlicensed_units += 1
            continue
        if key in narrow and len(scope) > 1:
            scope = scope[1:]
        # Two periods back to back: the earlier one covers the rule's look-back.
        if key in expiring:
            current_end = today + dt.timedelta(days=rng.randint(10, 85))
        elif key in lapsed:
            current_end = today - dt.timedelta(days=rng.randint(60, 120))
        else:
            current_end = today + dt.timedelta(days=rng.randint(120, 3 * 365))
        current_start = current_end - PERIOD
        _issue(units[unit_id], kind, scope, numbers, current_start - PERIOD, current_start)
        licence = _issue(units[unit_id], kind, scope, numbers, current_start, current_end)
        report.licences += 2
        if key in revoked:
            services.set_licence_status(
                licence, status=LicenceStatus.REVOKED, since=today - dt.timedelta(days=180),
                reasons="监督抽查发现不再满足许可条件 / no longer meets the licence conditions",
                acting_user=None,
            )  # fmt: skip
    report.units = len({u for u, _ in keys})
    report.applications = _applications(prefix, county, today, rng)
    report.findings, report.acted = _act_on_findings(prefix, today, rng)
    return report


# The share of findings a supervisor has acted on by now, by the finding's age: the old ones
# mostly, the last quarter's seldom (a case takes weeks to open).
ACTED_SHARE = ((90, 0.2), (365, 0.5), (None, 0.85))
ACTIONS = (
    "责令停止违法行为，立案调查 / ordered to stop, case opened",
    "责令限期办理许可，处罚款 / ordered to obtain a licence, fined",
    "已立案，移送执法部门 / case opened, passed to law enforcement",
    "责令改正，设备暂停使用 / ordered to correct, device taken out of use",
)


def _act_on_findings(prefix: str, today: dt.date, rng: random.Random) -> tuple[int, int]:
    """What was done about the findings under `prefix` (查处), recorded through the service by the
    demo supervisor nearest each finding (the county's, else the city's, the province's)."""
    if FindingAction.objects.within_prefix(prefix).exists():
        return 0, 0
    found = sorted(
        findings.unlicensed(Scope(prefix), today=today),
        key=lambda f: (f.day, f.equipment_id or 0, f.unit_id, f.kind),
    )
    supervisors = [
        u for u in User.objects.filter(role=Role.SUPERVISOR, is_active=True)
        .select_related("agency").order_by("pk")
        if u.jurisdiction_prefix is not None
    ]  # fmt: skip
    acted = 0
    for finding in found:
        age = (today - finding.day).days
        share = next(s for limit, s in ACTED_SHARE if limit is None or age <= limit)
        if rng.random() >= share:
            continue
        nearest = max(
            (u for u in supervisors if finding.region_id.startswith(u.jurisdiction_prefix)),
            key=lambda u: len(u.jurisdiction_prefix), default=None,
        )  # fmt: skip
        services.record_finding_action(
            equipment_id=finding.equipment_id, unit_id=finding.unit_id, kind=finding.kind,
            action=rng.choice(ACTIONS), acting_user=nearest,
        )  # fmt: skip
        acted += 1
    return len(found), acted


def _applications(prefix: str, county: str, today: dt.date, rng: random.Random) -> int:
    """An enterprise login for an installer of the county with no licence of its own, and
    applications at each step (one of them past its time limit)."""
    own = (
        Unit.objects.within_prefix(county).filter(licences=None, licence_applications=None)
        .exclude(location=None).order_by("pk").first()
    )  # fmt: skip
    if own is None:
        return 0
    agency = Agency.objects.filter(region_id=county).order_by("id").first()
    if agency is not None:
        user, _ = User.objects.get_or_create(username=ENTERPRISE_USER)
        user.agency, user.role, user.is_staff = agency, Role.ENTERPRISE, False
        from accounts.demo import DEMO_PASSWORD

        user.set_password(DEMO_PASSWORD)
        user.save()
        UnitAccount.objects.update_or_create(user=user, defaults={"unit": own})
    # The county's own units apply, so its supervisor has applications at each step to work on.
    others = list(
        Unit.objects.within_prefix(county).exclude(pk=own.pk).exclude(location=None)
        .filter(licence_applications=None).order_by("pk")[:4]
    )  # fmt: skip
    expires = today.replace(year=today.year + 4)
    made = 0
    for serial, (unit, steps) in enumerate(
        zip(others, (["accept"], ["request_changes"], [], ["accept", "approve"]), strict=False)
    ):
        kind = LicenceKind.INSTALLATION
        scope = _scope(kind, {"3000"})
        application = services.file_application(unit, kind=kind, scope=scope, acting_user=None)
        for verb in steps:
            services.decide_application(
                application, verb=verb, acting_user=None,
                reasons="请补充安装质量保证体系文件 / add the quality system documents"
                if verb == "request_changes" else "",
                number=f"TS3{prefix[:2]}9{serial:03d}-{expires.year}", expires_on=expires,
            )  # fmt: skip
        made += 1
    # One filed a fortnight ago and never accepted: past the 5 working days.
    last = Application.objects.filter(unit__in=others, state="submitted").first()
    if last is not None:
        started = today - dt.timedelta(days=14)
        last.step_started_on, last.step_due_on = started, rules.due_on("submitted", started)
        last.save(update_fields=["step_started_on", "step_due_on"])
    return made
