"""Seats of government (驻地): the bundled AMap seats and an operator's file, checked against boundaries."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from pyproj import Geod

from geo import crs
from geo.models import Region
from geo.seats import BUNDLED, read_seats
from tests.conftest import XINGQING, YINCHUAN

GEOD = Geod(ellps="WGS84")


def write(tmp_path, rows: list[str], header: str = "code,name,longitude,latitude"):
    path = tmp_path / "seats.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def load(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_seats", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def east_of(region: Region, metres: float) -> tuple[float, float]:
    """A point `metres` due east of the region's easternmost vertex: outside it, about that far."""
    lon, lat = max(
        (point for polygon in region.boundary for point in polygon.exterior_ring.coords),
        key=lambda point: point[0],
    )
    east_lon, east_lat, _ = GEOD.fwd(lon, lat, 90, metres)
    return east_lon, east_lat


def test_the_bundled_seats_land_inside_their_regions_after_the_gcj02_shift(db):
    Region.objects.update(seat=None)
    out, err = load(prefix=["64"])
    given = {s.code: s for s in read_seats(BUNDLED)}
    ningxia = Region.objects.filter(code__startswith="64")
    expected = [code for code in ningxia.values_list("code", flat=True) if code in given]
    assert len(expected) >= 25 and f"seats: {len(expected)} set, 0 refused" in out
    for region in ningxia.filter(code__in=expected):
        assert region.boundary.contains(region.seat), region.code
    # The file is GCJ-02: the stored seat is the WGS84 point, some hundreds of metres from the raw one.
    xingqing = Region.objects.get(code=XINGQING)
    raw = given[XINGQING]
    assert xingqing.seat.coords == pytest.approx(
        crs.to_wgs84(raw.lon, raw.lat, crs.CRS.GCJ02), abs=1e-9
    )
    _, _, shift = GEOD.inv(raw.lon, raw.lat, *xingqing.seat.coords)
    assert 100 < shift < 1000
    assert (
        Region.objects.filter(code__startswith="110101").get().seat is None
    )  # not under the prefix


def test_a_seat_near_its_region_is_kept_and_one_far_away_refused(db, tmp_path):
    xingqing = Region.objects.get(code=XINGQING)
    near, far = east_of(xingqing, 3_000), east_of(Region.objects.get(code=YINCHUAN), 30_000)
    Region.objects.filter(code=YINCHUAN).update(seat=None)
    path = write(
        tmp_path,
        [
            f"{XINGQING},兴庆区,{near[0]},{near[1]}",
            f"{YINCHUAN},银川市,{far[0]},{far[1]}",
            "659999,无此区,87.6,43.8",
        ],
    )
    out, err = load(str(path), source_crs="wgs84")
    assert "seats: 1 set, 1 refused, 1 for regions not loaded" in out
    assert f"refused {YINCHUAN} 银川市" in err and "km outside its region" in err
    assert Region.objects.get(code=XINGQING).seat.coords == pytest.approx(near)
    assert Region.objects.get(code=YINCHUAN).seat is None


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["64010,兴庆区,106.3,38.5"], None, "row 2: code='64010' is not a 6-digit"),
        (
            ["640104,兴庆区,106.3,38.5", "640104,兴庆区,106.4,38.5"],
            None,
            "row 3: code 640104 already given",
        ),
        (["640104,兴庆区,东经106,38.5"], None, "row 2: longitude/latitude"),
        (
            ["640104,兴庆区,38.5,106.3"],
            None,
            "row 2: 38.5, 106.3 lies outside China (longitude first)",
        ),
        (["640104,106.3,38.5"], "code,lon,lat", "no column latitude, longitude"),
    ],
)
def test_a_bad_file_is_refused_naming_the_row_and_nothing_changes(
    db, tmp_path, rows, header, message
):
    before = dict(Region.objects.values_list("code", "seat"))
    path = write(tmp_path, rows, header or "code,name,longitude,latitude")
    with pytest.raises(CommandError, match=re.escape(message)):
        load(str(path))
    assert dict(Region.objects.values_list("code", "seat")) == before


def test_a_file_not_in_utf8_or_no_file_is_refused_saying_so(db, tmp_path):
    gbk = tmp_path / "seats-gbk.csv"
    gbk.write_bytes("code,name,longitude,latitude\n640104,兴庆区,106.3,38.5\n".encode("gbk"))
    with pytest.raises(CommandError, match=r"seats-gbk.csv: not UTF-8 text .*save it as CSV UTF-8"):
        load(str(gbk))
    with pytest.raises(CommandError, match="no such file"):
        load(str(tmp_path))  # a directory


def test_the_bundled_file_takes_no_crs(db):
    with pytest.raises(CommandError, match="bundled seats are GCJ-02"):
        load(source_crs="wgs84")
