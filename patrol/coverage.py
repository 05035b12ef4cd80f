"""Patrol coverage per region: how many in-use devices the patrols reached in a period, and what
the visits found. Read from the devices' own history (the `supervision` events that results
write), so a visit counts once however it was planned.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Left

from accounts.models import User
from geo.divisions import child_width, code_prefix
from geo.models import Region
from registry.models import Equipment, LifecycleEvent
from registry.models.equipment import LifecycleEventKind

from .services import Period

ZERO = {"visits": 0, "devices_visited": 0, "with_findings": 0, "orders": 0, "sealed": 0}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def coverage(user: User, period: Period) -> dict[str, Any]:
    """One row per sub-region of the user's jurisdiction (the county itself for a county), and the
    totals: devices in use now, devices visited in the period, the share, visits, visits that
    found something, orders issued, devices sealed. Two grouped statements."""
    prefix = user.jurisdiction_prefix or ""
    width = child_width(prefix)
    in_use = dict(
        Equipment.objects.visible_to(user)
        .in_service()
        .annotate(sub=Left("region_id", width))
        .values_list("sub")
        .annotate(n=Count("id"))
        .order_by()
    )
    visits = {
        row.pop("sub"): row
        for row in LifecycleEvent.objects.visible_to(user)
        .filter(
            kind=LifecycleEventKind.SUPERVISION,
            occurred_on__range=(period.starts_on, period.ends_on),
        )
        .annotate(sub=Left("equipment__region_id", width))
        .values("sub")
        .annotate(
            visits=Count("id"),
            devices_visited=Count("equipment", distinct=True),
            with_findings=Count("id", filter=~Q(details__findings="")),
            orders=Count("id", filter=Q(details__order_issued=True)),
            sealed=Count("id", filter=Q(details__sealed=True)),
        )
        .order_by()
    }
    regions = Region.objects.below(prefix).order_by("code")
    rows = []
    for code, name, level in regions.values_list("code", "name", "level"):
        sub = code_prefix(code, level)[:width]
        rows.append(_row(code, name, in_use.get(sub, 0), visits.get(sub, ZERO)))
    totals = _row(prefix, "合计 / total", sum(in_use.values()), {
        key: sum(v[key] for v in visits.values()) for key in ZERO
    })  # fmt: skip
    return {
        "period": {"from": period.starts_on, "to": period.ends_on},
        "regions": rows,
        "totals": totals,
    }


def _row(code: str, name: str, in_use: int, found: dict[str, int]) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "devices_in_use": in_use,
        **found,
        "coverage": _share(found["devices_visited"], in_use),
        "findings_per_visit": _share(found["with_findings"], found["visits"]),
    }
