"""The street base map's archive (/map/basemap.pmtiles): byte ranges as RFC 9110 has them (206,
416 for a bad range, never 500), validators, the sign-in, and a PMTiles reader that reads through
the view the very tiles PostGIS made."""

from __future__ import annotations

import gzip
import re

import pytest
from django.test import override_settings
from django.urls import reverse
from pmtiles.reader import Reader

from tests.conftest import inside
from tests.maps.street_archive import write_street_archive
from tests.maps.test_map_page import config_of, page_of

pytestmark = pytest.mark.django_db

URL = "/map/basemap.pmtiles"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, django_db_blocker):
    """A street archive around a point of Xingqing, z10–14, with the tiles it holds."""
    path = tmp_path_factory.mktemp("streets") / "streets.pmtiles"
    with django_db_blocker.unblock():
        centre = inside("640104")
        box = (centre.x - 0.03, centre.y - 0.02, centre.x + 0.03, centre.y + 0.02)
        tiles = write_street_archive(path, box, range(10, 15))
    return path, tiles


@pytest.fixture
def configured(archive, settings):
    settings.SEGIS_PMTILES_PATH = str(archive[0])
    settings.SEGIS_PMTILES_ACCEL_PATH = ""
    return archive[0].read_bytes()


@pytest.fixture
def signed_in(client, users):
    client.force_login(users["xingqing"])
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_url_is_the_named_route():
    assert reverse("map-basemap-archive") == URL


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-126", 0, 126), ("bytes=10-19", 10, 19), ("bytes=100-", 100, None),
     ("bytes=-50", None, None), ("bytes=0-99999999999", 0, None)],
)  # fmt: skip
def test_a_range_answers_206_with_exactly_those_bytes(signed_in, configured, header, first, last):
    size = len(configured)
    if first is None:  # the last 50 bytes
        first, last = size - 50, size - 1
    last = size - 1 if last is None else last
    response = signed_in.get(URL, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == configured[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "application/vnd.pmtiles"


def test_no_range_answers_the_whole_archive(signed_in, configured):
    response = signed_in.get(URL)
    assert response.status_code == 200
    assert body(response) == configured
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    "header",
    ["bytes=abc", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=0-1,5-6", "items=0-1", "bytes 0-1",
     "bytes=99999999-", "bytes=-1-2", "=", "bytes=0x10-"],
)  # fmt: skip
def test_a_bad_or_unsatisfiable_range_answers_416_naming_it(signed_in, configured, header):
    response = signed_in.get(URL, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(configured)}"
    [problem] = response.json()["errors"]["Range"]
    assert problem["rule"] == "unsatisfiable"


def test_the_etag_revalidates_and_if_range_guards_a_changed_file(signed_in, configured):
    etag = signed_in.get(URL, HTTP_RANGE="bytes=0-9")["ETag"]
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag)
    assert signed_in.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304
    same = signed_in.get(URL, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert same.status_code == 206 and body(same) == configured[:10]
    changed = signed_in.get(URL, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"another"')
    assert changed.status_code == 200 and body(changed) == configured


def test_a_replaced_archive_gets_a_new_etag(signed_in, configured, tmp_path, settings):
    before = signed_in.get(URL, HTTP_RANGE="bytes=0-0")["ETag"]
    copy = tmp_path / "other.pmtiles"
    copy.write_bytes(configured + b"\0")
    settings.SEGIS_PMTILES_PATH = str(copy)
    assert signed_in.get(URL, HTTP_RANGE="bytes=0-0")["ETag"] != before


def test_head_answers_the_headers(signed_in, configured):
    response = signed_in.head(URL)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(configured))


def test_writes_are_not_allowed(signed_in, configured):
    assert signed_in.post(URL).status_code == 405


def test_anonymous_is_refused_in_the_error_envelope(client, configured):
    response = client.get(URL, HTTP_RANGE="bytes=0-126")
    assert response.status_code == 403
    assert response.json()["errors"]["user"][0]["rule"] == "not_authenticated"


def test_private_to_the_browser(signed_in, configured):
    cache_control = signed_in.get(URL, HTTP_RANGE="bytes=0-9")["Cache-Control"]
    assert "private" in cache_control and "max-age=3600" in cache_control


@override_settings(SEGIS_PMTILES_PATH="")
def test_without_an_archive_configured_the_route_is_404(signed_in):
    assert signed_in.get(URL).status_code == 404


def test_a_configured_archive_that_is_missing_is_404(signed_in, settings, tmp_path):
    settings.SEGIS_PMTILES_PATH = str(tmp_path / "not-there.pmtiles")
    assert signed_in.get(URL, HTTP_RANGE="bytes=0-126").status_code == 404


def test_behind_nginx_django_checks_the_sign_in_and_nginx_sends_the_bytes(
    signed_in, client, configured, settings
):
    settings.SEGIS_PMTILES_ACCEL_PATH = "/_segis_pmtiles/streets.pmtiles"
    response = signed_in.get(URL, HTTP_RANGE="bytes=0-126")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_segis_pmtiles/streets.pmtiles"
    client.logout()
    refused = client.get(URL)
    assert refused.status_code == 403 and "X-Accel-Redirect" not in refused


def test_a_pmtiles_reader_reads_every_tile_through_the_view(signed_in, configured, archive):
    """What MapLibre's pmtiles protocol does: the header, the directories, then each tile, every
    one a range request. The tiles read back are the ones PostGIS made."""

    def get_bytes(offset: int, length: int) -> bytes:
        response = signed_in.get(URL, HTTP_RANGE=f"bytes={offset}-{offset + length - 1}")
        assert response.status_code == 206
        return body(response)

    reader = Reader(get_bytes)
    assert reader.header()["max_zoom"] == 14
    tiles = archive[1]
    assert len(tiles) > 10
    for (z, x, y), mvt in tiles.items():
        assert gzip.decompress(reader.get(z, x, y)) == mvt


def test_the_map_offers_the_street_map_only_when_configured(client, users, settings, archive):
    settings.SEGIS_PMTILES_PATH = ""
    page = page_of(client, users["xingqing"])
    assert config_of(page)["street_basemap"] is None
    assert "vendor/pmtiles/" not in page and 'value="streets"' not in page
    settings.SEGIS_PMTILES_PATH = str(archive[0])
    page = page_of(client, users["xingqing"])
    streets = config_of(page)["street_basemap"]
    assert streets["archive"] == URL and streets["id"] == "streets"
    assert '<script src="/static/vendor/pmtiles/pmtiles.js">' in page
    assert '<script src="/static/vendor/protomaps-basemaps/basemaps.js">' in page
    assert re.search(r'value="streets" checked', page)  # offline, so the first choice


@pytest.mark.parametrize(
    ("name", "glob"), [("pmtiles", "pmtiles"), ("protomaps-basemaps", "basemaps")]
)
def test_the_vendored_scripts_are_iife_builds_with_version_and_licence(name, glob):
    from tests.maps.test_map_page import STATIC

    vendor = STATIC / "vendor" / name
    assert (vendor / "VERSION").read_text().strip()
    assert "BSD" in (vendor / "LICENSE").read_text()
    script = (vendor / f"{glob}.js").read_text(encoding="utf-8")
    assert script.startswith(f'"use strict";var {glob}=(')  # the global the map page reads
    assert "sourceMappingURL" not in script
