"""The demo's synthetic cylinders: stored through the ingest path, so its violations are the rules'."""

from __future__ import annotations

from django.core.management import call_command
from django.utils import timezone

from cylinders.models import Cylinder, FillingRecord, Violation
from cylinders.rules import Rule
from registry.synthetic import generate as generate_registry


def test_the_demo_cylinders_and_their_violations(db, capsys):
    generate_registry(prefix="640104", devices=200, seed=5, progress=False)
    call_command("generate_cylinders", prefix="640104", cylinders=400, days=14, seed=5)
    assert "cylinders 400" in capsys.readouterr().out
    assert Cylinder.objects.count() == 400
    assert FillingRecord.objects.count() >= 400
    overdue = Violation.objects.filter(rule=Rule.OVERDUE).select_related("cylinder")
    assert overdue.exists()
    # Checked apart from the SQL rules: each overdue violation's cylinder was due before the day.
    for v in overdue:
        assert v.cylinder.next_inspection_due < timezone.localtime(v.filled_at).date()
    # And every filling of an overdue cylinder was flagged.
    flagged = {v.filling_id for v in overdue}
    for f in FillingRecord.objects.filter(cylinder__isnull=False).select_related("cylinder"):
        if f.cylinder.next_inspection_due < timezone.localtime(f.filled_at).date():
            assert f.id in flagged


def test_the_licence_demo_keeps_the_stations_filling_licences(db):
    """The cylinder demo (run first) licenses its stations in the licence register; the licence
    demo then adds the makers' and installers' licences and leaves the stations' as they are."""
    from io import StringIO

    from licensing import synthetic as licensing_synthetic
    from licensing.models import Licence, LicenceKind
    from registry.models import Unit, UnitRole

    generate_registry(prefix="640104", devices=200, seed=5, progress=False)
    call_command("generate_cylinders", prefix="640104", cylinders=400, days=14, seed=5,
                 stdout=StringIO())  # fmt: skip
    stations = set(Unit.objects.with_role(UnitRole.FILLING).values_list("pk", flat=True))
    filling = Licence.objects.filter(kind=LicenceKind.FILLING, scope__code="2300")
    before = set(filling.values_list("unit_id", "number"))
    assert {unit for unit, _ in before} == stations
    licensing_synthetic.generate(prefix="640104", county="640104", seed=5)
    assert set(filling.values_list("unit_id", "number")) == before
    assert Licence.objects.exclude(kind=LicenceKind.FILLING).exists()
