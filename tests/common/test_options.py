"""OPTIONS on every endpoint of the URL conf, as a county supervisor, answers without a server
error (issue 17: the fuzzer found 500s on the import endpoints' OPTIONS)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

from tests.conftest import XINGQING

pytestmark = pytest.mark.django_db

GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")
CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
# What a captured parameter is filled with: a record that may exist, a plain word otherwise.
VALUES = {"format": "json", "int": "1", "pk": "1", "id": "1", "object_id": "1", "z": "10"}


def fill(name: str, kind: str | None = None) -> str:
    return VALUES.get(name) or VALUES.get(kind or "") or "x"


def route_part(pattern) -> str:
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RegexPattern):  # the admin's and the DRF router's
        text = GROUP.sub(lambda m: fill(m["name"]), pattern.pattern._regex)
        text = text.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
        return text
    return CONVERTER.sub(lambda m: fill(m["name"], m["kind"]), text)


def urls(patterns, prefix: str = "") -> list[str]:
    found = []
    for entry in patterns:
        part = prefix + route_part(entry)
        if isinstance(entry, URLResolver):
            found += urls(entry.url_patterns, part)
        elif isinstance(entry, URLPattern):
            found.append("/" + part)
    return found


def resolvable(url: str) -> bool:
    try:
        resolve(url.split("?")[0])
    except Resolver404:
        return False
    return True


ENDPOINTS = sorted({url for url in urls(get_resolver().url_patterns) if resolvable(url)})


def test_the_walk_reaches_the_api_the_pages_and_the_imports():
    assert len(ENDPOINTS) > 100
    for expected in ("/api/equipment/1/", "/imports/", "/response/", "/patrol/", "/ogcapi/"):
        assert any(url.startswith(expected) for url in ENDPOINTS), expected


@pytest.mark.parametrize("url", ENDPOINTS)
def test_options_is_never_a_server_error(client, users, make_equipment, url):
    make_equipment(XINGQING)
    client.raise_request_exception = False
    client.force_login(users["xingqing"])
    response = client.options(url)
    assert response.status_code < 500, response.content[:500]
