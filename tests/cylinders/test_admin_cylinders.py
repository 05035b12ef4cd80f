"""The cylinder tables in the admin: scoped, the role policy on each write (through the cylinder
services), fillings and violations read only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from accounts.models import AuditEntry, Role, User
from accounts.roles import assign_role_group
from cylinders import services
from cylinders.models import Cylinder, FillingRecord, StationToken, Violation
from licensing.models import Licence
from tests.conftest import XINGQING, XIXIA
from tests.cylinders.rows import filling, today_at


def staff_client(user: User) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    assign_role_group(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(make_station, make_cylinder):
    """In each county a station with a cylinder filled once while overdue (one violation)."""
    made = {}
    for code in (XINGQING, XIXIA):
        station = make_station(code)
        cylinder = make_cylinder(owner=station,
                                 next_inspection_due=dt.date.today() - dt.timedelta(days=9))  # fmt: skip
        services.record_fillings(station, [filling(cylinder.tag, today_at(0))], acting_user=None)
        made[code] = (station, cylinder)
    return made


@pytest.mark.parametrize(
    "model", [Cylinder, Licence, FillingRecord, Violation], ids=lambda m: m.__name__
)
def test_a_county_lists_only_its_own(users, world, model):
    client = staff_client(users["xingqing"])
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    page = client.get(url)
    assert page.status_code == 200
    assert set(page.context["cl"].queryset.values_list("region_id", flat=True)) == {XINGQING}
    theirs = model.objects.filter(region_id=XIXIA).first()
    assert client.get(f"{url}{theirs.pk}/change/").status_code == 404


@pytest.mark.parametrize("model", [FillingRecord, Violation], ids=lambda m: m.__name__)
def test_fillings_and_violations_are_read_only_even_for_a_superuser(users, world, model):
    admin_user = users["national"]
    admin_user.is_superuser = True
    admin_user.save(update_fields=["is_superuser"])
    client = staff_client(admin_user)
    url = f"/admin/cylinders/{model._meta.model_name}/"
    obj = model.objects.filter(region_id=XINGQING).first()
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{obj.pk}/change/", {}).status_code == 403
    assert client.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    page = client.get(f"{url}{obj.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert model.objects.filter(pk=obj.pk).exists()


def add_body(owner, tag="ADMIN-NEW-1") -> dict:
    return {
        "tag": tag, "kind": "lpg", "maker_name": "气瓶厂", "serial_number": "S-1",
        "made_on": "2024-01-01", "design_life_years": "8", "volume_l": "35.5",
        "working_pressure_mpa": "2.1", "owner": owner.pk,
    }  # fmt: skip


def test_a_supervisor_registers_a_cylinder_through_the_service(users, world):
    station = world[XINGQING][0]
    client = staff_client(users["xingqing"])
    answer = client.post("/admin/cylinders/cylinder/add/", add_body(station))
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    cylinder = Cylinder.objects.get(tag="ADMIN-NEW-1")
    # The service's own rules: the scrap date from the design life, audited as a registration.
    assert cylinder.scrap_on == dt.date(2032, 1, 1) and cylinder.region_id == XINGQING
    assert AuditEntry.objects.filter(action="cylinder.registered", actor=users["xingqing"]).exists()


def test_a_cylinder_of_a_unit_that_is_not_a_station_is_a_form_error(users, world, make_unit):
    client = staff_client(users["xingqing"])
    answer = client.post("/admin/cylinders/cylinder/add/", add_body(make_unit()))
    assert answer.status_code == 200
    assert "owner" in answer.context["adminform"].form.errors
    assert not Cylinder.objects.filter(tag="ADMIN-NEW-1").exists()


def test_another_countys_station_is_not_a_choice(users, world):
    client = staff_client(users["xingqing"])
    answer = client.post("/admin/cylinders/cylinder/add/", add_body(world[XIXIA][0]))
    assert answer.status_code == 200 and "owner" in answer.context["adminform"].form.errors
    assert not Cylinder.objects.filter(tag="ADMIN-NEW-1").exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INSPECTOR, Role.RESPONDER])
def test_roles_without_registration_read_but_do_not_write(users, world, role):
    user = User.objects.create_user(f"adm-{role}", password="pw",
                                    agency=users["xingqing"].agency, role=role)  # fmt: skip
    client = staff_client(user)
    assert client.get("/admin/cylinders/cylinder/").status_code == 200
    assert client.get("/admin/cylinders/fillingrecord/").status_code == 200
    station = world[XINGQING][0]
    assert client.post("/admin/cylinders/cylinder/add/", add_body(station)).status_code == 403
    assert client.post("/admin/licensing/licence/add/", licence_body(station)).status_code == 403
    assert not Cylinder.objects.filter(tag="ADMIN-NEW-1").exists()
    assert not Licence.objects.filter(number="TS4649001-2031").exists()


def licence_body(station) -> dict:
    return {"number": "TS4649001-2031", "kind": "filling", "unit": station.pk,
            "authority": "兴庆区市场监督管理局", "issued_on": "2027-07-01",
            "expires_on": "2031-06-30", "scope_items": ["2300:"]}  # fmt: skip


def test_a_filling_licence_is_entered_in_the_licence_register_through_the_service(users, world):
    station = world[XINGQING][0]
    client = staff_client(users["xingqing"])
    answer = client.post("/admin/licensing/licence/add/", licence_body(station))
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    licence = Licence.objects.get(number="TS4649001-2031")
    assert (licence.unit, licence.kind, licence.expires_on) == (
        station,
        "filling",
        dt.date(2031, 6, 30),
    )
    assert list(licence.scope.values_list("code", flat=True)) == ["2300"]
    assert AuditEntry.objects.filter(action="licence.issued", actor=users["xingqing"]).exists()
    # Once entered it is read only here (its page suspends, revokes or restores it).
    change = f"/admin/licensing/licence/{licence.pk}/change/"
    assert client.post(change, {"number": "TS4649002-2031"}).status_code == 403


def test_another_county_station_is_refused_a_licence(users, world):
    client = staff_client(users["xingqing"])
    answer = client.post("/admin/licensing/licence/add/", licence_body(world[XIXIA][0]))
    assert answer.status_code == 200 and answer.context["adminform"].form.errors
    assert not Licence.objects.filter(number="TS4649001-2031").exists()


def test_an_analyst_sees_the_fillings_operator_certificate(users, world):
    """Not personal data (the kind registry.Certificate.number is): shown to every reader."""
    analyst = User.objects.create_user("adm-analyst", password="pw",
                                       agency=users["xingqing"].agency, role=Role.ANALYST)  # fmt: skip
    html = staff_client(analyst).get("/admin/cylinders/fillingrecord/").content.decode()
    assert FillingRecord.objects.get(region_id=XINGQING).operator_certificate in html


@pytest.fixture
def keys(users, world):
    """Each county's station holds a key; 兴庆区's first one was replaced (revoked) by a second."""
    issued = {}
    for code, who in ((XINGQING, "xingqing"), (XIXIA, "xixia")):
        station = world[code][0]
        if code == XINGQING:
            services.issue_station_token(station, acting_user=users[who])
        issued[code] = services.issue_station_token(station, acting_user=users[who])
    return issued


def test_station_keys_listed_in_the_county_with_their_state_never_the_digest(users, world, keys):
    client = staff_client(users["xingqing"])
    page = client.get("/admin/cylinders/stationtoken/")
    assert page.status_code == 200
    shown = page.context["cl"].queryset
    assert set(shown.values_list("station__region_id", flat=True)) == {XINGQING}
    assert shown.count() == 2
    html = page.content.decode()
    assert "已吊销" in html and "有效" in html
    assert f"/cylinders/stations/{world[XINGQING][0].pk}/keys/" in html  # issue and revoke there
    for token in StationToken.objects.all():
        assert token.digest not in html
    mine = shown.first()
    change = client.get(f"/admin/cylinders/stationtoken/{mine.pk}/change/")
    assert change.status_code == 200 and mine.digest not in change.content.decode()
    assert 'name="_save"' not in change.content.decode()
    # The key itself is nowhere either (only its digest was ever stored).
    assert keys[XINGQING] not in html and keys[XINGQING] not in change.content.decode()
    theirs = StationToken.objects.get(station=world[XIXIA][0])
    assert client.get(f"/admin/cylinders/stationtoken/{theirs.pk}/change/").status_code == 404


def test_station_keys_are_changed_only_through_the_key_page(users, world, keys):
    client = staff_client(users["xingqing"])
    token = StationToken.objects.filter(station=world[XINGQING][0]).first()
    url = "/admin/cylinders/stationtoken/"
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{token.pk}/change/", {"revoked_at": ""}).status_code == 403
    assert client.post(f"{url}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    assert StationToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INSPECTOR, Role.RESPONDER])
def test_roles_that_do_not_manage_keys_do_not_see_them(users, world, keys, role):
    """Viewing the keys is the policy action that issues them (accounts.roles)."""
    user = User.objects.create_user(f"keys-adm-{role}", password="pw",
                                    agency=users["xingqing"].agency, role=role)  # fmt: skip
    client = staff_client(user)
    assert client.get("/admin/cylinders/stationtoken/").status_code == 403
    assert "/admin/cylinders/stationtoken/" not in client.get("/admin/").content.decode()
