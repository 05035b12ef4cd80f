"""The exchange set-up commands: the province's service token lasts the days it was issued for (a
year by default, not a person's 90), says when it ends and reminds of the page key; the nation's
add_exchange_peer reminds of the key it needs for the province."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from registry.models.exchange import ExchangePeer

KEY = b"k" * 32
READER = "national-exchange"


def issue(*args: str) -> tuple[str, str, dt.datetime, dt.datetime]:
    """Run issue_exchange_token: its stdout, its stderr, and the clock just before and after."""
    out, err = StringIO(), StringIO()
    before = timezone.now()
    call_command("issue_exchange_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), before, timezone.now()


def the_token() -> ApiToken:
    return ApiToken.objects.usable().get(user__username=READER)


@pytest.mark.parametrize(("args", "days"), [((), 365), (("--days", "30"), 30)])
def test_the_token_lasts_the_days_asked_for(db, settings, args, days):
    settings.EXCHANGE_KEYS = {READER: KEY}
    _, err, before, after = issue(*args)
    expires = the_token().expires_at
    assert before + dt.timedelta(days=days) <= expires <= after + dt.timedelta(days=days)
    assert f"{timezone.localtime(expires):%Y-%m-%d %H:%M}" in err
    assert f"({days} days)" in err


def test_by_default_it_outlives_a_persons_token(db, settings):
    settings.EXCHANGE_KEYS = {READER: KEY}
    _, _, _, after = issue()
    assert the_token().expires_at > after + dt.timedelta(days=settings.SEGIS_API_TOKEN_DAYS)


def test_stdout_is_the_token_alone_and_it_reads_the_feed(db, settings):
    settings.EXCHANGE_KEYS = {READER: KEY}
    out, _, _, _ = issue("--days", "7")
    key = out.strip()
    assert out == f"{key}\n" and " " not in key
    response = Client().get("/api/exchange/feed/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["mac"]


def test_a_new_token_replaces_the_old_one(db, settings):
    settings.EXCHANGE_KEYS = {READER: KEY}
    first = issue()[0].strip()
    second = issue("--days", "10")[0].strip()
    client = Client()
    assert client.get("/api/exchange/feed/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 401
    assert (
        client.get("/api/exchange/feed/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 200
    )


@pytest.mark.parametrize("days", ["0", "-5", "3651"])
def test_days_out_of_range_are_refused_and_issue_nothing(db, settings, days):
    settings.EXCHANGE_KEYS = {READER: KEY}
    with pytest.raises(CommandError, match="--days"):
        call_command("issue_exchange_token", "--days", days, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


def test_without_a_key_it_reminds_to_set_one_and_the_feed_says_503(db, settings):
    settings.EXCHANGE_KEYS = {}
    out, err, _, _ = issue()
    assert f'SEGIS_EXCHANGE_KEYS="{READER}=<base64 key>"' in err
    response = Client().get("/api/exchange/feed/", HTTP_AUTHORIZATION=f"Token {out.strip()}")
    assert response.status_code == 503


def test_with_a_key_it_says_so_and_asks_for_the_same_on_the_nation(db, settings):
    settings.EXCHANGE_KEYS = {READER: KEY}
    _, err, _, _ = issue()
    assert f"holds a key for “{READER}”" in err
    assert "Reminder" not in err


def test_add_exchange_peer_reminds_of_a_missing_key(db, settings):
    settings.EXCHANGE_KEYS = {}
    out = StringIO()
    call_command("add_exchange_peer", "640000", "https://nx.example", "t0k", stdout=out)
    assert ExchangePeer.objects.get(code="640000").token == "t0k"
    assert 'SEGIS_EXCHANGE_KEYS="640000=<base64 key>"' in out.getvalue()


def test_add_exchange_peer_says_when_the_key_is_held(db, settings):
    settings.EXCHANGE_KEYS = {"640000": KEY}
    out = StringIO()
    call_command("add_exchange_peer", "640000", "https://nx.example", "t0k", stdout=out)
    assert "holds a key for 640000" in out.getvalue()
    assert "Reminder" not in out.getvalue()
