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


def test_the_demo_body_has_a_member_who_opens_its_page(db, client):
    """The demo's `body` login is an inspector of the body that posted the batch (BodyMember,
    linked through the service): the body's page shows that login its batch and its records."""
    from accounts.demo import DEMO_PASSWORD
    from accounts.models import AuditEntry
    from inspections.models import BodyMember

    load_test_regions()
    call_command("generate_demo", prefix="6401", devices=400, seed=7, cylinders=0, verbosity=0,
                 stdout=io.StringIO())  # fmt: skip
    batch = FeedBatch.objects.get()
    member = BodyMember.objects.select_related("user").get()
    assert (member.user.username, member.body_id) == ("body", batch.body_id)
    assert member.user.role == "inspector" and member.user.check_password(DEMO_PASSWORD)
    assert AuditEntry.objects.filter(action="body_member.linked").count() == 1
    client.force_login(member.user)
    page = client.get(f"/inspections/bodies/{batch.body_id}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert batch.records.filter(status="accepted").first().report_number in text
    assert "1110X000000000000" in text  # the refused record, with its reason
    assert "<td>定期检验</td>" in text and "<td>periodic</td>" not in text  # the kind, named
