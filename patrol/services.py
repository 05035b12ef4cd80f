"""Patrol writes: making a plan from the ranked candidates, pinning and dropping them. Audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts import audit
from accounts.models import User
from layers.filters import FilterError, KindFilter
from registry.models import Equipment

from . import risk
from .area import Area
from .exceptions import refuse
from .models import PatrolCandidate, PatrolPlan, may_plan

MAX_PERIOD_DAYS = 366
DEFAULT_LIMIT = 200
MAX_LIMIT = 2000
MAX_TEAMS = 50


@dataclass(frozen=True)
class Period:
    starts_on: dt.date
    ends_on: dt.date


@dataclass(frozen=True)
class Criteria:
    """Which scored devices become candidates: kinds, a least score, how many at most."""

    kinds: tuple[str, ...] = ()
    min_score: int = 1
    limit: int = DEFAULT_LIMIT
    teams: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kinds": list(self.kinds),
            "min_score": self.min_score,
            "limit": self.limit,
            "teams": self.teams,
        }


def _date(name: str, value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        refuse("period", "period.date", f"{name} 应为 YYYY-MM-DD / {name} must be YYYY-MM-DD")


def parse_period(raw: Any) -> Period:
    if not isinstance(raw, dict) or not {"from", "to"} <= set(raw):
        refuse(
            "period", "period.required", '应为 {"from": 日期, "to": 日期} / expected {"from", "to"}'
        )
    period = Period(_date("from", raw["from"]), _date("to", raw["to"]))
    if period.ends_on < period.starts_on:
        refuse("period", "period.order", "结束早于开始 / the period ends before it starts")
    if (period.ends_on - period.starts_on).days >= MAX_PERIOD_DAYS:
        refuse(
            "period", "period.length", f"最长 {MAX_PERIOD_DAYS} 天 / at most {MAX_PERIOD_DAYS} days"
        )
    return period


def _bounded(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        refuse(
            f"criteria.{name}" if name != "teams" else "teams",
            f"{name}.range",
            f"{name} 应为 {low}–{high} 的整数 / {name} must be a whole number from {low} to {high}",
        )
    return value


def parse_criteria(raw: Any, teams: Any = None) -> Criteria:
    raw = raw or {}
    if not isinstance(raw, dict):
        refuse("criteria", "criteria.shape", "应为对象 / expected an object")
    unknown = set(raw) - {"kind", "min_score", "limit"}
    if unknown:
        refuse(
            "criteria",
            "criteria.unknown",
            f"未知条件 / unknown criteria: {', '.join(sorted(unknown))}",
        )
    kinds: tuple[str, ...] = ()
    if raw.get("kind"):
        try:
            kinds = KindFilter().parse({"kind": str(raw["kind"])})
        except FilterError as error:
            refuse("criteria.kind", "criteria.kind", error.errors["kind"])
    return Criteria(
        kinds=kinds,
        min_score=_bounded("min_score", raw.get("min_score", 1), 0, 10_000),
        limit=_bounded("limit", raw.get("limit", DEFAULT_LIMIT), 1, MAX_LIMIT),
        teams=None if teams is None else _bounded("teams", teams, 1, MAX_TEAMS),
    )


def rank_candidates(
    acting_user: User,
    area: Area,
    on: dt.date,
    criteria: Criteria,
    weights: risk.Weights = risk.WEIGHTS,
):
    """The in-use devices of the area the user may see, scored and ranked, best first."""
    devices = area.equipment(Equipment.objects.visible_to(acting_user).in_service())
    if criteria.kinds:
        devices = devices.filter(kind__in=criteria.kinds)
    return risk.scored(devices, on, weights).filter(score__gte=criteria.min_score)


@transaction.atomic
def create_plan(acting_user: User, area: Area, period: Period, criteria: Criteria) -> PatrolPlan:
    """Store a plan with its ranked candidates, scored on the period's first day."""
    if not may_plan(acting_user):
        refuse(
            "user",
            "patrol.not_planner",
            "只有监察人员可以制定巡查计划 / only supervisors plan patrols",
        )
    ranked = list(rank_candidates(acting_user, area, period.starts_on, criteria)[: criteria.limit])
    if not ranked:
        refuse(
            "area",
            "patrol.no_candidates",
            "范围内没有符合条件的在用设备 / no in-use device in the area meets the criteria",
        )
    plan = PatrolPlan.objects.create(
        owner=acting_user,
        region=area.region,
        area=area.boundary,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        criteria={**criteria.as_json(), "area": area.describe()},
    )
    PatrolCandidate.objects.bulk_create(
        PatrolCandidate(
            plan=plan, equipment=device, rank=rank, score=device.score, reasons=risk.reasons(device)
        )
        for rank, device in enumerate(ranked, start=1)
    )
    after = {**audit.snapshot(plan, exclude=("area",)), "candidates": len(ranked)}
    audit.record(acting_user, "patrol.plan_created", plan, after=after)
    return plan


@transaction.atomic
def mark_candidate(
    candidate_id: int, *, acting_user: User, pinned: bool | None = None, dropped: bool | None = None
) -> PatrolCandidate:
    """Pin (always visit) or drop (never visit) a candidate; pinning undoes a drop and back."""
    candidate = (
        PatrolCandidate.objects.visible_to(acting_user).select_for_update().get(pk=candidate_id)
    )
    before = audit.snapshot(candidate, exclude=("reasons",))
    if pinned is not None:
        candidate.pinned = pinned
        candidate.dropped = candidate.dropped and not pinned
    if dropped is not None:
        candidate.dropped = dropped
        candidate.pinned = candidate.pinned and not dropped
    candidate.save(update_fields=["pinned", "dropped"])
    audit.record(
        acting_user,
        "patrol.candidate_marked",
        candidate,
        before=before,
        after=audit.snapshot(candidate, exclude=("reasons",)),
        region_code=candidate.plan.region_id or "",
    )
    return candidate


def pin_candidate(candidate_id: int, *, acting_user: User) -> PatrolCandidate:
    return mark_candidate(candidate_id, acting_user=acting_user, pinned=True)


def drop_candidate(candidate_id: int, *, acting_user: User) -> PatrolCandidate:
    return mark_candidate(candidate_id, acting_user=acting_user, dropped=True)
