"""Scoped reads the map layers take from licensing: licences placed at their unit, with their
validity on the day; the devices with an unlicensed-activity finding; the filling stations with
one (无证充装)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from registry.models import Equipment, Unit

from . import findings
from .models import EXPIRING_DAYS, Licence, LicenceKind, LicenceStatus


class Validity:
    """A licence's validity as the map colours it (expiring: valid, ends within 90 days)."""

    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    ALL = (VALID, EXPIRING, EXPIRED, SUSPENDED, REVOKED)

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Each validity's label in the active language (the licence statuses' own, and the
        licence register's "expiring within n days")."""
        return {
            cls.VALID: str(LicenceStatus.VALID.label),
            cls.EXPIRING: gettext("%(n)s 天内到期") % {"n": EXPIRING_DAYS},
            cls.EXPIRED: str(LicenceStatus.EXPIRED.label),
            cls.SUSPENDED: str(LicenceStatus.SUSPENDED.label),
            cls.REVOKED: str(LicenceStatus.REVOKED.label),
        }


def validity(today: dt.date) -> Case:
    stopped = [LicenceStatus.SUSPENDED, LicenceStatus.REVOKED]
    return Case(
        When(Q(status__in=stopped, status_since__lte=today), then=F("status")),
        When(expires_on__lt=today, then=Value(Validity.EXPIRED)),
        When(
            expires_on__lte=today + dt.timedelta(days=EXPIRING_DAYS), then=Value(Validity.EXPIRING)
        ),  # fmt: skip
        default=Value(Validity.VALID),
        output_field=CharField(),
    )


def licence_rows(user, today: dt.date) -> QuerySet:
    """The licences the user may see, each at its unit's location."""
    return Licence.objects.visible_to(user).annotate(
        location=F("unit__location"), validity=validity(today), unit_name=F("unit__name")
    )


def unlicensed_rows(user, today: dt.date) -> QuerySet:
    """The devices the user may see with an unlicensed manufacture or installation."""
    text, params = findings.equipment_ids_sql(user, today=today)
    return Equipment.objects.visible_to(user).filter(id__in=RawSQL(text, params))


def unlicensed_filling_rows(user, today: dt.date) -> QuerySet:
    """The stations the user may see that filled without a filling licence in force (the 无证充装
    findings: no device behind them, so they are units, not the devices of `unlicensed_rows`)."""
    text, params = findings.without_device_sql(user, today)
    ids = RawSQL(
        f"SELECT f.unit_id FROM ({text}) f WHERE f.kind = %s", [*params, LicenceKind.FILLING]
    )
    return Unit.objects.visible_to(user).filter(pk__in=ids)
