"""An inspection body's page: its own people read it, and nothing of another body; supervisors
read the bodies of their jurisdiction as before."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from accounts.models import AuditEntry, Role, User
from common.errors import DomainError
from inspections import feed, services
from inspections.models import own_body
from registry.models import UnitRole
from tests.conftest import XINGQING


@pytest.fixture
def other_body(make_unit):
    """A second body in the same county, with a batch of its own."""
    return make_unit(XINGQING, roles=(UnitRole.INSPECTION,), name="宁夏锅炉检验所")


@pytest.fixture
def inspector(agencies):
    return User.objects.create_user(
        "body-inspector", password="pw-for-tests", agency=agencies[XINGQING], role=Role.INSPECTOR
    )


@pytest.fixture
def member(inspector, body, users):
    services.link_body_member(inspector, body, acting_user=users["national"])
    return inspector


def page(user, body) -> int:
    client = Client()
    client.force_login(user)
    return client.get(f"/inspections/bodies/{body.pk}/")


def test_a_body_member_reads_its_own_page(member, body, make_equipment, key):
    device = make_equipment(XINGQING)
    record = {"report_number": "BG-OWN-1", "kind": "periodic", "device_code": device.device_code,
              "inspected_on": "2026-01-05", "conclusion": "pass"}  # fmt: skip
    feed.receive_batch(body, [record, {**record, "report_number": ""}], acting_user=None)
    answer = page(member, body)
    assert answer.status_code == 200
    text = answer.content.decode()
    assert body.name in text and "BG-OWN-1" in text


def test_a_body_member_sees_nothing_of_another_body(member, other_body, body):
    feed.receive_batch(other_body, [{"report_number": "BG-THEIRS-1"}], acting_user=None)
    answer = page(member, other_body)
    assert answer.status_code == 404
    assert b"BG-THEIRS-1" not in answer.content
    # The inspections index lists their own body only.
    client = Client()
    client.force_login(member)
    index = client.get("/inspections/").content.decode()
    assert other_body.name not in index


def test_an_inspector_of_no_body_reads_no_body_page(inspector, body):
    assert page(inspector, body).status_code == 404


def test_the_feed_account_is_its_body_own(account, body):
    assert own_body(account.user) == body.pk


@pytest.mark.parametrize("who", ["xingqing", "city", "province"])
def test_supervisors_read_the_bodies_of_their_jurisdiction(users, who, body, other_body):
    assert page(users[who], body).status_code == 200
    assert page(users[who], other_body).status_code == 200


def test_a_neighbouring_supervisor_reads_neither(users, body):
    assert page(users["xixia"], body).status_code == 404


def test_only_an_administrator_links_a_member_and_it_is_audited(inspector, body, users):
    with pytest.raises(PermissionDenied):
        services.link_body_member(inspector, body, acting_user=users["xingqing"])
    services.link_body_member(inspector, body, acting_user=users["national"])
    assert own_body(inspector) == body.pk
    assert AuditEntry.objects.filter(action="body_member.linked").count() == 1


def test_only_an_inspector_joins_only_a_body(users, body, make_unit, inspector):
    with pytest.raises(DomainError):
        services.link_body_member(users["xixia"], body, acting_user=users["national"])
    with pytest.raises(DomainError):
        services.link_body_member(inspector, make_unit(XINGQING), acting_user=users["national"])
