"""查处: a supervisor records what was done about an unlicensed-activity finding, from the findings
page; audited, scoped, refused for a finding the supervisor's list does not hold."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from accounts.models import AuditEntry
from licensing import services
from licensing.models import FindingAction
from registry.models import UnitRole
from tests.conftest import XINGQING, XIXIA

URL = "/licensing/findings/act/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rogue(make_unit):
    return make_unit(XINGQING, roles=(UnitRole.MANUFACTURE,), name="无证制造厂")


@pytest.fixture
def made(make_equipment, rogue, today):
    """A device of 兴庆区 and one of 西夏区 made by the unlicensed maker 20 days ago."""
    day = today - dt.timedelta(days=20)
    return (
        make_equipment(XINGQING, manufacturer=rogue, manufactured_on=day),
        make_equipment(XIXIA, manufacturer=rogue, manufactured_on=day),
    )


def form(device, rogue, **fields) -> dict:
    return {"equipment": device.pk, "unit": rogue.pk, "kind": "manufacture",
            "action": "责令停止制造，立案查处", **fields}  # fmt: skip


def test_a_supervisor_records_an_action_from_the_findings_page(made, rogue, users):
    client = signed_in(users["xingqing"])
    answer = client.post(URL, form(made[0], rogue, page="1"))
    assert answer.status_code == 302 and answer["Location"] == "/licensing/findings/?page=1"
    done = FindingAction.objects.get()
    assert (done.equipment, done.unit, done.kind, done.region_id) == (
        made[0], rogue, "manufacture", XINGQING,
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="unlicensed.acted", actor=users["xingqing"]).exists()
    page = client.get("/licensing/findings/").content.decode()
    assert "责令停止制造，立案查处" in page


def test_another_countys_finding_answers_like_none(made, rogue, users):
    client = signed_in(users["xingqing"])
    theirs = client.post(URL, form(made[1], rogue))
    missing = client.post(URL, form(made[1], rogue, equipment="2147483000"))
    assert theirs.status_code == missing.status_code == 400
    assert without_csrf(theirs) == without_csrf(missing)
    assert not FindingAction.objects.exists()


def without_csrf(answer) -> str:
    """The page with its per-answer tokens (CSRF, the CSP nonce) taken out."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", answer.content.decode())
    return re.sub(r'nonce="[^"]+"', "", text)


@pytest.mark.parametrize(
    "field, value", [("kind", "nonsense"), ("unit", "x"), ("equipment", "٣"), ("action", " ")]
)
def test_bad_input_answers_400_and_records_nothing(made, rogue, users, field, value):
    answer = signed_in(users["xingqing"]).post(URL, form(made[0], rogue, **{field: value}))
    assert answer.status_code == 400
    assert not FindingAction.objects.exists()


def test_the_analyst_may_not_act(made, rogue, users):
    assert signed_in(users["xingqing_analyst"]).post(URL, form(made[0], rogue)).status_code == 403
    with pytest.raises(PermissionDenied):
        services.record_finding_action(
            equipment_id=made[0].pk, unit_id=rogue.pk, kind="manufacture", action="x",
            acting_user=users["xingqing_analyst"],
        )  # fmt: skip
    assert not FindingAction.objects.exists()
