"""The public space: what a device's page shows (and never), tokens, lookup, no enumeration, no
session, its headers, and the per-client rate limit kept in the database."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from public import ratelimit
from public import services as public_services
from public.models import PublicToken, RateCount
from registry import services
from registry.models import Equipment
from registry.personal import PERSONAL_FIELDS
from tests.conftest import XIXIA


def page(client: Client, url: str, **extra):
    response = client.get(url, **extra)
    return response, response.content.decode()


def personal_values(site) -> dict[str, str]:
    """Every personal field (registry.personal's list) of every record around the device."""
    records = [site.use_unit, site.maintainer, site.inspector, *site.device.inspections.all()]
    found = {}
    for record in records:
        for name in PERSONAL_FIELDS.get(record._meta.label, {}):
            value = getattr(record, name)
            if value not in (None, ""):
                found[f"{record._meta.label}.{name}"] = str(value)
    found["national ID"] = site.national_id
    return found


def test_the_page_shows_the_public_fields(make_site):
    site = make_site(XIXIA)
    response, body = page(Client(), f"/p/{site.token}/")
    assert response.status_code == 200
    device = site.device
    for shown in (
        device.certificate_number,
        device.rescue_id,
        site.use_unit.name,
        site.maintainer.name,
        "西夏区",
        "曳引驱动乘客电梯",
        device.next_inspection_due.isoformat(),
        (dt.date.today() - dt.timedelta(days=30)).isoformat(),
        "合格",
    ):
        assert shown in body, shown
    assert "检验有效" in body and "检验已超期" not in body


def test_the_page_shows_nothing_personal_nor_a_place_finer_than_the_district(make_site):
    site = make_site(XIXIA)
    _, body = page(Client(), f"/p/{site.token}/")
    values = personal_values(site)
    assert {"registry.Unit.contact_phone", "registry.Person.phone", "registry.Inspection.inspector"} <= set(values)  # fmt: skip
    leaks = {label: v for label, v in values.items() if v in body}
    assert not leaks
    point = site.device.location
    for hidden in (site.device.address, site.use_unit.address, f"{point.x:.3f}", f"{point.y:.3f}"):
        assert hidden not in body
    # Nor the database id or the device's own code (an enumerable sequence).
    assert site.device.device_code not in body
    assert f"/equipment/{site.device.pk}/" not in body


def test_overdue_is_the_maps_definition(make_site):
    site = make_site()
    Equipment.objects.filter(pk=site.device.pk).update(
        next_inspection_due=dt.date.today() - dt.timedelta(days=1)
    )
    assert Equipment.objects.overdue().filter(pk=site.device.pk).exists()
    _, body = page(Client(), f"/p/{site.token}/")
    assert "检验已超期" in body


def test_a_cancelled_device_says_cancelled_and_nothing_else(make_site):
    site = make_site()
    services.change_equipment_status(site.device, "cancelled", acting_user=None, reason="拆除")
    response, body = page(Client(), f"/p/{site.token}/")
    assert response.status_code == 200
    assert "注销" in body
    for hidden in (site.device.certificate_number, site.device.rescue_id, site.use_unit.name):
        assert hidden not in body
    assert "/report/" not in body
    assert Client().get(f"/p/{site.token}/report/").status_code == 404


def test_tokens_are_long_random_and_name_nothing(make_site):
    sites = [make_site(), make_site()]
    tokens = [s.token for s in sites]
    assert len(set(tokens)) == 2
    assert public_services.TOKEN_BYTES * 8 >= 128
    for site in sites:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", site.token)
        for code in (site.device.device_code, site.device.rescue_id):
            assert code not in site.token
        # A random token holds a short number by chance half the time; the id is not in it as
        # a part either (padded to the width a derived token would give it).
        assert f"{site.device.pk:08d}" not in site.token


def test_unknown_revoked_token_and_unknown_code_answer_the_same(make_site):
    site = make_site()
    client = Client()
    unknown, unknown_body = page(client, f"/p/{public_services.new_token()}/")
    code, code_body = page(client, "/p/?code=梯11宁A99999(20)")
    public_services.revoke_token(site.device, acting_user=None)
    revoked, revoked_body = page(client, f"/p/{site.token}/")
    assert unknown.status_code == code.status_code == revoked.status_code == 404
    assert unknown_body == code_body == revoked_body
    assert unknown["Cache-Control"] == code["Cache-Control"] == revoked["Cache-Control"]


def test_reissue_replaces_the_token(make_site):
    site = make_site()
    new = public_services.reissue_token(site.device, acting_user=None).token
    assert new != site.token
    assert Client().get(f"/p/{site.token}/").status_code == 404
    assert Client().get(f"/p/{new}/").status_code == 200
    assert PublicToken.objects.filter(equipment=site.device).count() == 1


@pytest.mark.parametrize("how", ["certificate", "full-width", "rescue"])
def test_lookup_by_exact_code_opens_the_page(make_site, how):
    site = make_site()
    code = {
        "certificate": site.device.certificate_number,
        "full-width": site.device.certificate_number.replace("(", "（").replace(")", "）"),
        "rescue": site.device.rescue_id,
    }[how]
    response = Client().get("/p/", {"code": code})
    assert response.status_code == 302
    assert response["Location"] == f"/p/{site.token}/"


def test_lookup_matches_exactly_and_never_by_the_device_code(make_site):
    site = make_site()
    for code in (site.device.certificate_number[:-4], site.device.rescue_id[:-1],
                 site.device.device_code):  # fmt: skip
        assert Client().get("/p/", {"code": code}).status_code == 404, code


def test_the_public_space_reads_and_writes_no_session(make_site, users):
    site = make_site()
    client = Client()
    client.force_login(users["xingqing"])
    reset_queries()  # the request resets the log: counted from an empty one, none is lost
    with CaptureQueriesContext(connection) as queries:
        response, body = page(client, f"/p/{site.token}/")
    assert response.status_code == 200
    assert any("public_publictoken" in q["sql"] for q in queries)  # the capture works
    assert not [q for q in queries if "django_session" in q["sql"]]
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert users["xingqing"].username not in body  # the signed-in user is anonymous here


def test_the_public_space_has_its_own_strict_headers(make_site):
    site = make_site()
    response = Client().get(f"/p/{site.token}/")
    assert response["Content-Security-Policy"] == settings.PUBLIC_CONTENT_SECURITY_POLICY
    assert "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "strict-origin"
    assert response["X-Frame-Options"] == "DENY"
    cache = response["Cache-Control"]
    assert "public" in cache and f"max-age={settings.PUBLIC_CACHE_SECONDS}" in cache
    # The report form carries a CSRF token (a cookie, not a session): never cached.
    form = Client().get(f"/p/{site.token}/report/")
    assert "no-store" in form["Cache-Control"] or "private" in form["Cache-Control"]
    assert settings.SESSION_COOKIE_NAME not in form.cookies


@override_settings(PUBLIC_RATE_LIMITS={"lookup": (3, 60), "report": (2, 600)})
def test_lookups_are_limited_per_client(make_site):
    site = make_site()
    one, other = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.8")
    statuses = [one.get("/p/", {"code": site.device.rescue_id}).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert other.get("/p/", {"code": site.device.rescue_id}).status_code == 302
    # The count is a row of the database, keyed by a hash of the address (not the address).
    row = RateCount.objects.get(key=ratelimit.client_key("lookup", "203.0.113.7"))
    assert row.hits == 4
    assert not RateCount.objects.filter(key__contains="203.0.113").exists()


@override_settings(PUBLIC_RATE_LIMITS={"lookup": (3, 60), "report": (2, 600)})
def test_the_limit_is_shared_by_every_process(make_site):
    """Another server process counts in the same row: its hits (written here as its statement
    would) refuse this process's next request."""
    site = make_site()
    client = Client(REMOTE_ADDR="198.51.100.9")
    assert client.get("/p/", {"code": site.device.rescue_id}).status_code == 302
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RateCount._meta.db_table} SET hits = hits + 2 WHERE key = %s",
            [ratelimit.client_key("lookup", "198.51.100.9")],
        )
    assert client.get("/p/", {"code": site.device.rescue_id}).status_code == 429


def test_a_window_starts_again(make_site):
    rule = ratelimit.limit("lookup")
    now = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    for _ in range(rule.hits):
        assert ratelimit.hit("lookup", "192.0.2.1", now=now)
    assert not ratelimit.hit("lookup", "192.0.2.1", now=now)
    assert ratelimit.hit("lookup", "192.0.2.1", now=now + rule.window)


def test_the_page_speaks_the_phones_language_and_a_cache_keys_on_it(make_site):
    site = make_site(XIXIA)
    chinese = Client().get(f"/p/{site.token}/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = Client().get(f"/p/{site.token}/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert "检验有效" in chinese.content.decode()
    body = english.content.decode()
    assert "inspection valid" in body.lower() and "检验有效" not in body
    assert site.device.variety.name_en in body  # the catalogue's English name
    assert "Accept-Language" in english["Vary"]
    # A language cookie (set on the signed-in site) does not decide it: a shared cache could not
    # key on it.
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "检验有效" in client.get(f"/p/{site.token}/").content.decode()
