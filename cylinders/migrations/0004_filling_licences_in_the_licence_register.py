"""The stations' filling licences move into the licence register (licensing.Licence of kind filling,
scope 2300 gas cylinders): one register that the filling rules and the unlicensed-activity rule
both read. The cylinders table kept a number and an expiry only: the issue day is taken as one
licence period (four years, TSG 07-2019) before the expiry, the authority as unknown ("—", as
issue_licence writes a blank one). A number the register already holds for the same station and
kind is that licence already; one held by another unit keeps its number with the old row's id
appended, so nothing is lost and nothing is merged wrongly."""

import datetime as dt

from django.db import migrations

PERIOD_YEARS = 4


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def forwards(apps, schema_editor):
    FillingLicence = apps.get_model("cylinders", "FillingLicence")
    Licence = apps.get_model("licensing", "Licence")
    LicenceScope = apps.get_model("licensing", "LicenceScope")
    for old in FillingLicence.objects.order_by("pk").iterator():
        held = Licence.objects.filter(number=old.number).first()
        if held is not None and held.unit_id == old.station_id and held.kind == "filling":
            continue
        number = old.number if held is None else f"{old.number}#{old.pk}"
        issued = _years_before(old.valid_until, PERIOD_YEARS)
        licence = Licence.objects.create(
            unit_id=old.station_id, kind="filling", number=number, authority="—",
            issued_on=issued, expires_on=old.valid_until, status="valid", status_since=issued,
            region_id=old.region_id,
        )  # fmt: skip
        LicenceScope.objects.create(licence=licence, code="2300", grade="")


class Migration(migrations.Migration):
    dependencies = [
        ("cylinders", "0003_station_day_figures"),
        ("licensing", "0002_licence_number_64"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.DeleteModel(name="FillingLicence"),
    ]
