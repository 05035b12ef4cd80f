"""The patrol risk score: a sum of points per factor, computed in one SQL statement.

Each factor is an annotation on the equipment queryset, so the database scores the whole area
at once and the reasons read back the very numbers that were added up (their points sum to the
score). Open supervision orders (监察指令) are not a factor yet: the registry does not record
them; they arrive with the patrol results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.db.models import (
    Case,
    DateField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least

from registry.models import Accident, Equipment, Inspection, InspectionConclusion
from registry.models.equipment import overdue_condition

from .models import PatrolStop

KIND_POINTS = MappingProxyType(
    {
        "1000": 10,  # boilers: explosion energy
        "2000": 8,  # pressure vessels
        "4000": 8,  # cranes: the most fatal accidents by count
        "6000": 8,  # amusement rides: crowds
        "9000": 8,  # passenger ropeways
        "3000": 6,  # lifts: many, mostly maintained
        "8000": 6,  # pipelines
        "5000": 4,  # site vehicles
    }
)


@dataclass(frozen=True)
class Weights:
    """Every number of the score, in one place (docs/patrol.md explains each)."""

    overdue: int = 30
    overdue_per_30_days: int = 2
    overdue_days_cap: int = 20
    failed_last_inspection: int = 25
    device_accident: int = 15
    device_accidents_cap: int = 45
    unit_accident: int = 5
    unit_accidents_cap: int = 20
    age_free_years: int = 10
    age_per_year: int = 1
    age_cap: int = 15
    open_order: int = 20
    open_orders_cap: int = 40
    kind: Mapping[str, int] = field(default_factory=lambda: KIND_POINTS)


WEIGHTS = Weights()
FACTORS = (
    "overdue",
    "failed_inspection",
    "device_accidents",
    "unit_accidents",
    "open_orders",
    "age",
    "kind",
)


def _int(value: int) -> Value:
    return Value(value, output_field=IntegerField())


def _count(queryset: QuerySet) -> Coalesce:
    # COUNT without GROUP BY: one row per outer device, whatever the filter.
    counted = queryset.order_by().annotate(n=Func("id", function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), _int(0))


def _capped(expression, per: int, cap: int):
    # PostgreSQL's LEAST and GREATEST skip NULLs (LEAST(NULL, 20) is 20): a missing fact is 0 first.
    return Greatest(Least(Coalesce(expression, _int(0)) * _int(per), _int(cap)), _int(0))


def scored(queryset: QuerySet[Equipment], on: dt.date, weights: Weights = WEIGHTS) -> QuerySet:
    """The devices annotated with each factor's facts (`days_overdue`, `last_conclusion`, …), its
    points (`<factor>_points`) and their sum `score`, highest first."""
    day = Value(on, output_field=DateField())
    # date - date is a whole number of days in PostgreSQL.
    days_overdue = Func(
        day,
        F("next_inspection_due"),
        arg_joiner=" - ",
        template="(%(expressions)s)",
        output_field=IntegerField(),
    )
    since = Coalesce(F("manufactured_on"), F("commissioned_on"))
    last_conclusion = Inspection.objects.filter(equipment=OuterRef("pk")).order_by(
        "-inspected_on", "-id"
    )
    unit_accidents = Accident.objects.filter(
        Q(unit=OuterRef("use_unit")) | Q(equipment__use_unit=OuterRef("use_unit"))
    ).exclude(equipment=OuterRef("pk"))
    facts = queryset.annotate(
        days_overdue=Case(When(next_inspection_due__lt=on, then=days_overdue), default=None),
        last_conclusion=Subquery(last_conclusion.values("conclusion")[:1]),
        device_accidents=_count(Accident.objects.filter(equipment=OuterRef("pk"))),
        unit_accidents=_count(unit_accidents),
        open_orders=_count(
            PatrolStop.objects.filter(
                candidate__equipment=OuterRef("pk"),
                order_issued=True,
                order_rectified_on__isnull=True,
            )
        ),
        age_years=Func(
            day,
            since,
            template="EXTRACT(YEAR FROM AGE(%(expressions)s))::int",
            output_field=IntegerField(),
        ),
    )
    points = facts.annotate(
        overdue_points=Case(
            When(
                overdue_condition(on),
                then=_int(weights.overdue)
                + _capped(
                    F("days_overdue") / _int(30),
                    weights.overdue_per_30_days,
                    weights.overdue_days_cap,
                ),
            ),
            default=_int(0),
        ),
        failed_inspection_points=Case(
            When(
                last_conclusion=InspectionConclusion.FAIL,
                then=_int(weights.failed_last_inspection),
            ),
            default=_int(0),
        ),
        device_accidents_points=_capped(
            F("device_accidents"), weights.device_accident, weights.device_accidents_cap
        ),
        unit_accidents_points=_capped(
            F("unit_accidents"), weights.unit_accident, weights.unit_accidents_cap
        ),
        open_orders_points=_capped(F("open_orders"), weights.open_order, weights.open_orders_cap),
        age_points=_capped(
            F("age_years") - _int(weights.age_free_years), weights.age_per_year, weights.age_cap
        ),
        kind_points=Case(
            *(When(kind=code, then=_int(p)) for code, p in weights.kind.items()),
            default=_int(0),
        ),
    )
    score = sum((F(f"{name}_points") for name in FACTORS[1:]), F(f"{FACTORS[0]}_points"))
    return points.annotate(score=score).order_by("-score", "id")


def _overdue_detail(device: Any) -> str:
    if device.days_overdue is None:
        return "无下次检验日期 / no next inspection date"
    return f"逾期 {device.days_overdue} 天 / {device.days_overdue} days overdue"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


DETAILS = {
    "overdue": _overdue_detail,
    "failed_inspection": lambda d: "最近一次检验不合格 / last inspection failed",
    "device_accidents": lambda d: (
        f"本设备发生事故 {d.device_accidents} 起 / {_plural(d.device_accidents, 'accident')} "
        "of this device"
    ),
    "unit_accidents": lambda d: (
        f"使用单位其他事故 {d.unit_accidents} 起 / "
        f"{_plural(d.unit_accidents, 'other accident')} of its use unit"
    ),
    "open_orders": lambda d: (
        f"未整改监察指令 {d.open_orders} 份 / {_plural(d.open_orders, 'open supervision order')}"
    ),
    "age": lambda d: f"使用 {d.age_years} 年 / {d.age_years} years old",
    "kind": lambda d: f"设备种类 {d.kind} / kind {d.kind}",
}


def reasons(device: Any) -> list[dict[str, Any]]:
    """Why a scored device scored as it did: each factor that gave points, largest first."""
    parts = [
        {"factor": name, "points": points, "detail": DETAILS[name](device)}
        for name in FACTORS
        if (points := getattr(device, f"{name}_points"))
    ]
    return sorted(parts, key=lambda part: -part["points"])
