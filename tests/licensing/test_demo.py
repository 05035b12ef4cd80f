"""The demo step (licensing.synthetic, run by load_demo after the demo users): besides licences,
what the supervisors did about most findings (查处), recorded through the service by the nearest
demo supervisor and the same for the same seed, so that 无证生产查处率 has figures."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.demo import demo_accounts, ensure_demo_users
from accounts.models import AuditEntry
from geo.scoping import Scope
from licensing import findings
from licensing.models import FindingAction
from licensing.synthetic import generate
from tests.conftest import load_test_regions


def _run(seed: int):
    """One demo step, rolled back: its report, the actions it recorded, their audit rows, and the
    findings the rule finds with its licences."""
    with transaction.atomic():
        report = generate(prefix="6401", county="640104", seed=seed)
        acts = sorted(
            FindingAction.objects.values_list(
                "equipment_id", "unit_id", "kind", "action", "actor__username", "region_id"
            ),
            key=str,
        )
        audited = AuditEntry.objects.filter(action="unlicensed.acted").count()
        found = findings.unlicensed(Scope("6401"), today=timezone.localdate())
        transaction.set_rollback(True)
    return report, acts, audited, {(f.equipment_id, f.unit_id, f.kind) for f in found}


def test_the_demo_acts_on_most_findings_through_the_service(db):
    load_test_regions()
    call_command("generate_demo", prefix="6401", devices=400, seed=7, cylinders=0, verbosity=0,
                 stdout=io.StringIO())  # fmt: skip
    ensure_demo_users(demo_accounts("640000", "640100", "640104"))
    report, acts, audited, found = _run(7)
    assert 0 < report.acted < report.findings == len(found)
    assert len(acts) == audited == report.acted
    assert {tuple(a[:3]) for a in acts} <= found
    # By the nearest demo supervisor: the county's own in 兴庆区, the city's elsewhere in 银川.
    for *_, actor, region in acts:
        assert actor == ("county" if region == "640104" else "city"), (actor, region)
    assert _run(7)[1] == acts  # same seed, same actions
