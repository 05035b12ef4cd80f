"""The console page: who may open it, and what it tells its script."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('id="console-config"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_users_are_sent_to_log_in():
    response = Client().get("/response/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_enterprise_users_get_no_console(responders):
    assert signed_in(responders["enterprise"]).get("/response/").status_code == 403


@pytest.mark.parametrize("who, may_act", [("xingqing", True), ("analyst", False)])
def test_the_console_knows_whether_its_user_acts(responders, who, may_act):
    response = signed_in(responders[who]).get("/response/?incident=12")
    assert response.status_code == 200
    config = config_of(response)
    assert (config["may_act"], config["incident"]) == (may_act, 12)
    assert config["urls"]["dispatch"] == "/response/api/incidents/{id}/dispatch/"


def test_the_map_opens_on_the_users_county_only(responders):
    from geo.basemap import jurisdiction_extent

    config = config_of(signed_in(responders["xixia"]).get("/response/?incident=abc"))
    assert config["incident"] is None
    assert config["bounds"] == pytest.approx(list(jurisdiction_extent("640105")))
