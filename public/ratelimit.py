"""Per-client rate limits of the public space, counted in the database so that every server
process (and every server) shares one count: a fixed window per client and bucket."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from .models import RateCount

# Rows of windows this old are gone: no limit looks back further than a day.
KEEP = dt.timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    bucket: str
    hits: int  # allowed per window
    window: dt.timedelta


def limit(bucket: str) -> Limit:
    hits, seconds = settings.PUBLIC_RATE_LIMITS[bucket]
    return Limit(bucket, int(hits), dt.timedelta(seconds=seconds))


def client_of(request: HttpRequest) -> str:
    """The client's address as the site's front proxy says (PUBLIC_CLIENT_IP_HEADER, e.g.
    HTTP_X_REAL_IP, set only when a proxy overwrites it), else the peer's."""
    header = getattr(settings, "PUBLIC_CLIENT_IP_HEADER", "")
    address = request.META.get(header, "") if header else ""
    return address.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")


def client_key(bucket: str, client: str) -> str:
    # An address is personal data: the table holds a keyed hash of it.
    digest = hmac.new(settings.SECRET_KEY.encode(), client.encode(), hashlib.sha256).hexdigest()
    return f"{bucket}:{digest[:64]}"


def window_start(rule: Limit, now: dt.datetime) -> dt.datetime:
    seconds = rule.window.total_seconds()
    return dt.datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=dt.UTC)


def hit(bucket: str, client: str, *, now: dt.datetime | None = None) -> bool:
    """Count one request; whether it is within the limit. One statement: concurrent requests of
    one client in any process increment the same row."""
    rule = limit(bucket)
    now = now or timezone.now()
    start = window_start(rule, now)
    table = RateCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (key, window_start, hits) VALUES (%s, %s, 1) '
            f'ON CONFLICT (key, window_start) DO UPDATE SET hits = "{table}".hits + 1 '
            "RETURNING hits",
            [client_key(bucket, client), start],
        )
        (hits,) = cursor.fetchone()
    if hits == 1:  # a new window: the moment to drop the old ones
        RateCount.objects.filter(window_start__lt=now - KEEP).delete()
    return hits <= rule.hits
