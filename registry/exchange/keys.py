"""The keys that authenticate the change feed: each page carries an HMAC-SHA256 made with a key the
province and the nation share, so a page altered in transit, even one whose SHA-256 chain was
recomputed to match, is refused.

Keys are named after whom one talks to. On a province the name is the national service account's
username (the feed's reader, `national-exchange` by default); on the nation it is the province's
code (the ExchangePeer's `code`). Both read `settings.EXCHANGE_KEYS` if it is set, else the
environment variable `SEGIS_EXCHANGE_KEYS`: `name=<base64 key>,name=<base64 key>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ENV = "SEGIS_EXCHANGE_KEYS"
# 128 bits is the least HMAC-SHA256 should be given; `secrets.token_bytes(32)` is the advice.
MIN_KEY_BYTES = 16
# Bumped if the signed text ever changes, so an old and a new instance disagree loudly.
VERSION = "segis-exchange-v1"


def parse(text: str) -> dict[str, bytes]:
    """`name=<base64>,…` → {name: key}; a malformed list is a configuration error naming the part."""
    keys = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, encoded = part.partition("=")
        name = name.strip()
        try:
            key = base64.b64decode(encoded.strip(), validate=True) if sep and name else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(
                f"{ENV}: “{name or part[:12]}” needs name=<base64 key of at least "
                f"{MIN_KEY_BYTES} bytes>"
            )
        keys[name] = key
    return keys


def configured() -> dict[str, bytes]:
    """Every key this instance holds: settings.EXCHANGE_KEYS (a dict or the env-style text), else
    the environment, read now so a key set for a running worker is found without a restart."""
    value = getattr(settings, "EXCHANGE_KEYS", None)
    if value is None:
        return parse(os.environ.get(ENV, ""))
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, Mapping):
        return parse(",".join(f"{name}={_b64(key)}" for name, key in value.items()))
    raise ImproperlyConfigured("EXCHANGE_KEYS: a dict {name: key} or “name=<base64>,…”")


def _b64(key: bytes | str) -> str:
    return base64.b64encode(key).decode() if isinstance(key, bytes) else key


def key_for(name: str) -> bytes | None:
    """The key shared with `name` (a reader's username or a province code), or None."""
    return configured().get(name)


def page_text(after: int, last_seq: int, hashes: Sequence[str]) -> bytes:
    """What a page's MAC covers: the cursor asked for, where the log ends, and each entry's chained
    hash in order. The chain binds every entry's content to its hash, so this covers the content;
    a dropped, added or reordered entry, or a recomputed chain, changes it."""
    return "\n".join([VERSION, str(after), str(last_seq), *hashes]).encode("ascii")


def sign_page(key: bytes, after: int, last_seq: int, entries: Sequence[Mapping]) -> str:
    """The page's HMAC-SHA256, hex."""
    hashes = [str(e["hash"]) for e in entries]
    return hmac.new(key, page_text(after, last_seq, hashes), hashlib.sha256).hexdigest()


def page_is_authentic(key: bytes, after: int, body: Mapping) -> bool:
    """Whether `body` is the page for cursor `after` signed with `key` (constant-time compare)."""
    mac = body.get("mac")
    entries = body.get("entries") or []
    if not isinstance(mac, str) or not isinstance(entries, list):
        return False
    try:
        expected = sign_page(key, after, int(body.get("last_seq") or 0), entries)
    except (KeyError, TypeError, ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(mac, expected)
