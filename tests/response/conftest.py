"""Response fixtures: responders in two neighbouring counties, scattered resources and equipment."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from pyproj import Geod

from accounts.models import Role, User
from geo.models import Region
from registry.models import EmergencyResource
from registry.models.events import ResourceType
from tests.conftest import XINGQING, XIXIA

WGS84 = Geod(ellps="WGS84")


def metres(a: Point, b: Point) -> float:
    """Geodesic distance on the WGS84 ellipsoid, by PROJ: the reference for PostGIS geography."""
    return WGS84.inv(a.x, a.y, b.x, b.y)[2]


def scatter(code: str, count: int, seed: int) -> list[Point]:
    """Uniform random points inside a county's boundary, reproducible by seed."""
    boundary = shapely.from_wkb(bytes(Region.objects.get(code=code).boundary.wkb))
    shapely.prepare(boundary)
    west, south, east, north = boundary.bounds
    rng = np.random.default_rng(seed)
    found: list[Point] = []
    while len(found) < count:
        xs, ys = rng.uniform(west, east, 4 * count), rng.uniform(south, north, 4 * count)
        inside = shapely.contains_xy(boundary, xs, ys)
        found += [
            Point(float(x), float(y), srid=4326)
            for x, y in zip(xs[inside], ys[inside], strict=True)
        ]
    return found[:count]


@pytest.fixture
def responders(agencies) -> dict[str, User]:
    def user(username: str, code: str, role: str = Role.RESPONDER) -> User:
        return User.objects.create_user(
            username, password="pw-for-tests", agency=agencies[code], role=role
        )

    return {
        "xingqing": user("responder_xingqing", XINGQING),
        "xixia": user("responder_xixia", XIXIA),
        "analyst": user("analyst_xingqing", XINGQING, Role.ANALYST),
        "enterprise": user("enterprise_xingqing", XINGQING, Role.ENTERPRISE),
    }


@pytest.fixture
def make_resources(db):
    """Resources of every type at random points of a county, written as the generator does (bulk)."""

    def make(code: str, count: int, seed: int, **fields) -> list[EmergencyResource]:
        rng = np.random.default_rng(seed + 1)
        types = ResourceType.values
        return EmergencyResource.objects.bulk_create(
            EmergencyResource(
                name=f"{code}资源{seed}-{i}",
                resource_type=fields.get("resource_type") or types[int(rng.integers(len(types)))],
                location=point,
                region_id=code,
                contact_name=f"值班员{i}",
                contact_phone=f"1390000{i:04d}",
            )
            for i, point in enumerate(scatter(code, count, seed))
        )

    return make
