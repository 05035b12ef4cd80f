"""Accidents from a file: matched by moment and device, or moment and place."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.utils import timezone

from accounts.models import User

from ... import services
from ...models import Accident, Equipment
from ...models.events import CauseClass, Severity
from .. import cells
from ..pipeline import ImportOutcome, ImportRequest
from ..readers import RowReader
from .common import (
    CAUSES,
    CHANGED,
    NEW,
    SAME_PLACE,
    SEVERITIES,
    UNCHANGED,
    Row,
    allowed,
    differences,
    named_equipment,
    place_row,
    run_dataset,
    update_record,
)

_TIME = re.compile(r"(\d{1,2})[:：时点](\d{1,2})(?:[:：分](\d{1,2}))?")


def moment(value: Any) -> dt.datetime | None:
    """A time of day with its date: datetimes, ISO text (with or without an offset), "2024/3/5 9:05",
    "2024年3月5日14时30分", Excel serials with a fraction; a bare date is midnight. Times without
    an offset are local (TIME_ZONE)."""
    if isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        try:
            found = dt.datetime.fromisoformat(text)
        except ValueError:
            found = _moment_text(text, value)
        if found is None:
            return None
    else:
        day = cells.date(value)
        if day is None:
            return None
        found = dt.datetime.combine(day, dt.time())
        if isinstance(value, float) and not value.is_integer():
            found += dt.timedelta(seconds=round(value % 1 * 86400))
    return found if timezone.is_aware(found) else timezone.make_aware(found)


def _moment_text(text: str, value: str) -> dt.datetime | None:
    match = _TIME.search(text, 8)  # past the year and month, whose digits are no time
    day = cells.date(text[: match.start()].strip() if match else text)
    if day is None:
        return None
    if not match:
        return dt.datetime.combine(day, dt.time())
    try:
        return dt.datetime.combine(day, dt.time(*(int(part or 0) for part in match.groups())))
    except ValueError as error:
        raise cells.CellError(
            "cell.time", f"无法识别的时间 {value!r} / not a time: {value!r}", "YYYY-MM-DD HH:MM"
        ) from error


def import_accidents(
    rows: RowReader, request: ImportRequest, *, acting_user: User | None, commit: bool, progress
) -> ImportOutcome:
    """Accidents: matched by time and device, or by time and a place within 10 m."""

    def write(row: Row, seen: dict[tuple, int]) -> str | None:
        occurred_at = row.get("occurred_at", moment)
        equipment = named_equipment(row, acting_user, "equipment_code")
        wanted: dict[str, Any] = {
            "kind": row.get("kind"),
            "severity": row.choice("severity", SEVERITIES, Severity),
            "cause_class": row.choice("cause_class", CAUSES, CauseClass),
            "address": row.get("address"),
            "description": row.get("description"),
            "deaths": row.get("deaths", cells.integer),
            "injuries": row.get("injuries", cells.integer),
            "direct_loss": row.get("direct_loss", cells.number),
        }
        for name in ("deaths", "injuries", "direct_loss"):
            if wanted[name] is not None and wanted[name] < 0:
                row.error(name, f"{name}.negative", f"{name} 不能为负 / cannot be negative")
        fallback = None
        if equipment is not None:
            fallback = equipment.location or equipment.route
        placement = place_row(row, acting_user, fallback)
        if row.failed or placement is None:
            return None
        if wanted["direct_loss"] is not None:
            wanted["direct_loss"] = Decimal(str(wanted["direct_loss"])).quantize(Decimal("0.01"))
        wanted = {name: value for name, value in wanted.items() if value is not None}
        point = placement.geometry
        key = ("accident", occurred_at, equipment.pk if equipment else None)
        if point is not None and equipment is None:
            key = ("accident", occurred_at, round(point.x, 4), round(point.y, 4))
        if not row.once(seen, key, "occurred_at", "起事故 / accident"):
            return None
        existing = _find_accident(occurred_at, equipment, point)
        if existing is None:
            services.record_accident(
                acting_user=acting_user,
                occurred_at=occurred_at,
                location=point,
                declared_region_code=placement.region.code if point is None else "",
                equipment=equipment,
                **wanted,
            )
            return NEW
        if not allowed(row, acting_user, existing.region_id):
            return None
        if equipment is not None:
            wanted["equipment"] = equipment
        if point is not None:
            wanted["location"] = point
        wanted["region_id"] = placement.region.code
        changes = differences(existing, wanted)
        if not changes:
            return UNCHANGED
        update_record(existing, changes, acting_user=acting_user, action="accident.updated")
        return CHANGED

    return run_dataset(rows, request, progress, write)


def _find_accident(
    occurred_at: dt.datetime, equipment: Equipment | None, point: GEOSGeometry | None
) -> Accident | None:
    accidents = Accident.objects.select_for_update().filter(occurred_at=occurred_at)
    if equipment is not None:
        found = accidents.filter(equipment=equipment).first()
        if found is not None or point is None:
            return found
    if point is None:
        return None
    return accidents.filter(location__distance_lte=(point, SAME_PLACE)).order_by("pk").first()
