"""Rows and times as filling stations send them."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """A local time on that day (the project's zone)."""
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour))


def today() -> dt.date:
    """The station's day, read when asked (the project's zone)."""
    return timezone.localdate()


def today_at(hour: int = 10) -> dt.datetime:
    """A time today that is already past: a filling in the future is refused, and in the small
    hours (Beijing; 16:00 UTC on) the hour has not come yet, so the same order of events is put
    seconds before now instead."""
    moment = at(today(), hour)
    now = timezone.now()
    return moment if moment <= now else now - dt.timedelta(seconds=24 - hour)


def filling(tag: str, when: dt.datetime, **fields) -> dict:
    """One row as a station posts it."""
    return {
        "tag": tag,
        "filled_at": when.isoformat(),
        "medium": fields.pop("medium", "液化石油气"),
        "quantity_kg": fields.pop("quantity_kg", "14.5"),
        "check_result": fields.pop("check_result", "pass"),
        "operator_certificate": fields.pop("operator_certificate", "TSR123456"),
        **fields,
    }


def lapse_licence(station, until: dt.date) -> None:
    """The station's filling licences (the licence register's) end on `until`."""
    from licensing.models import Licence, LicenceKind

    Licence.objects.filter(unit=station, kind=LicenceKind.FILLING).update(expires_on=until)
