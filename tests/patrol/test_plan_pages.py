"""The patrol pages: who may open them, and what they tell their script."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role, User
from tests.conftest import XINGQING, XIXIA, YINCHUAN
from tests.patrol.conftest import ON
from tests.response.conftest import scatter

pytestmark = pytest.mark.django_db

PLANS = "/patrol/api/plans/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('id="patrol-config"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])


@pytest.fixture
def people(agencies, inspector) -> dict[str, User]:
    def user(name, code, role=Role.SUPERVISOR):
        return User.objects.create_user(name, password="pw", agency=agencies[code], role=role)

    return {
        "xingqing": user("sup_xingqing", XINGQING),
        "xixia": user("sup_xixia", XIXIA),
        "city": user("sup_yinchuan", YINCHUAN),
        "enterprise": user("ent_xingqing", XINGQING, Role.ENTERPRISE),
        "analyst": user("analyst_xingqing", XINGQING, Role.ANALYST),
        "inspector": inspector,
        "other_inspector": user("inspector_two", XINGQING, Role.INSPECTOR),
    }


@pytest.fixture
def plan_id(people, device) -> int:
    """A routed plan of 兴庆区 whose first team is the inspector's."""
    for point in scatter(XINGQING, 6, seed=3):
        device(XINGQING, "3110", due=ON - dt.timedelta(days=60), location=point)
    client = signed_in(people["xingqing"])
    period = {"from": ON.isoformat(), "to": (ON + dt.timedelta(days=13)).isoformat()}
    plan = client.post(PLANS, {"period": period}, content_type="application/json").json()
    routed = client.post(
        f"{PLANS}{plan['id']}/routes/",
        {"teams": {"count": 2, "members": [[people["inspector"].pk]]}, "days": 1},
        content_type="application/json",
    )
    assert routed.status_code == 201, routed.content
    return plan["id"]


def test_anonymous_users_are_sent_to_log_in(plan_id):
    for path in ("/patrol/", f"/patrol/plans/{plan_id}/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/login" in response["Location"], path


@pytest.mark.parametrize("who", ["enterprise", "analyst"])
def test_users_who_neither_plan_nor_inspect_get_no_pages(people, plan_id, who):
    client = signed_in(people[who])
    assert client.get("/patrol/").status_code == 403
    assert client.get(f"/patrol/plans/{plan_id}/").status_code == 403


def next_monday_by_hand(today: dt.date) -> dt.date:
    day = today + dt.timedelta(days=1)
    while day.strftime("%A") != "Monday":
        day += dt.timedelta(days=1)
    return day


def test_a_supervisor_gets_the_form_with_four_weeks_from_next_monday(people):
    response = signed_in(people["xingqing"]).get("/patrol/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="plan-form"' in html and 'id="area-map"' in html
    config = config_of(response)
    monday = next_monday_by_hand(timezone.localdate())
    assert config["period"] == {
        "from": monday.isoformat(),
        "to": (monday + dt.timedelta(days=27)).isoformat(),
    }
    assert config["may_plan"] is True
    assert config["region_names"][XINGQING] == "兴庆区"
    assert config["urls"] == {
        "basemap": "/map/basemap.geojson",
        "plans": "/patrol/api/plans/",
        "routes": "/patrol/api/plans/{id}/routes/",
        "plan_page": "/patrol/plans/{id}/",
    }
    # The inspectors of the county can be put in a team; the division select offers the county.
    assert f'data-user="{people["inspector"].pk}"' in html
    assert f'data-user="{people["other_inspector"].pk}"' in html
    assert f'<option value="{XINGQING}">' in html


def test_an_inspector_gets_the_list_without_the_form(people):
    response = signed_in(people["inspector"]).get("/patrol/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="plan-form"' not in html and 'id="plan-rows"' in html
    assert config_of(response)["may_plan"] is False


@pytest.mark.parametrize("who", ["xingqing", "city", "inspector"])
def test_the_plan_page_opens_for_its_county_its_city_and_its_inspectors(people, plan_id, who):
    response = signed_in(people[who]).get(f"/patrol/plans/{plan_id}/")
    assert response.status_code == 200
    config = config_of(response)
    assert config["plan"] == plan_id
    assert config["may_plan"] is (who != "inspector")
    urls = config["urls"]
    assert urls["routes"] == f"/patrol/api/plans/{plan_id}/routes/"
    assert urls["reoptimise"] == f"/patrol/api/plans/{plan_id}/reoptimise/"
    assert urls["gpx"] == f"/patrol/plans/{plan_id}/routes.gpx"
    assert urls["geojson"] == f"/patrol/plans/{plan_id}/routes.geojson"
    assert urls["move"] == "/patrol/api/stops/{id}/move/"
    assert urls["result"] == "/patrol/api/stops/{id}/result/"
    assert urls["candidate"] == "/patrol/api/candidates/{id}/"
    assert urls["sheet"] == "/patrol/routes/{id}/sheet/"
    assert urls["plans_page"] == "/patrol/"
    # The script's URLs answer: the routes it draws come from the same plan.
    assert signed_in(people[who]).get(urls["routes"]).json()["plan"] == plan_id


@pytest.mark.parametrize("who", ["xixia", "other_inspector"])
def test_another_countys_or_another_teams_plan_is_a_404(people, plan_id, who):
    assert signed_in(people[who]).get(f"/patrol/plans/{plan_id}/").status_code == 404


def test_a_missing_plan_is_the_same_404(people, plan_id):
    assert signed_in(people["xingqing"]).get(f"/patrol/plans/{plan_id + 1000}/").status_code == 404
