"""The demo step: supervisory inspections with a few missing (the findings) and a body's batch."""

from __future__ import annotations

import io

from django.core.management import call_command

from inspections import rules
from inspections.models import FeedBatch, SupervisoryInspection
from tests.conftest import load_test_regions


def test_the_demo_has_supervision_findings_and_a_body_that_posted(db):
    load_test_regions()
    out = io.StringIO()
    call_command("generate_demo", prefix="6401", devices=400, seed=7, cylinders=0, verbosity=0,
                 stdout=out)  # fmt: skip
    assert "supervisory inspections" in out.getvalue()
    assert SupervisoryInspection.objects.count() > 0
    assert rules.missing().exists()
    batch = FeedBatch.objects.get()
    assert batch.accepted > 0 and batch.duplicates == 1 and batch.refused >= 2
