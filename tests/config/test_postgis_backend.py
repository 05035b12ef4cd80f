"""config.postgis: Django's PostGIS backend, with the geometry adapters registered once per pooled
connection instead of on every checkout, and geometries still read and written through it."""

from __future__ import annotations

import pytest
from django.contrib.gis.db.backends.postgis.adapter import PostGISAdapter
from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISDatabaseWrapper
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import connections

from config.postgis.base import DatabaseWrapper
from geo.models import Region

pytestmark = pytest.mark.django_db(transaction=True)


def round_trip(connection, x: float, y: float) -> tuple[str, tuple]:
    """A GEOS parameter out through the dumper, a geometry back through the loader."""
    with connection.cursor() as cursor:
        point = PostGISAdapter(Point(x, y, srid=4326))
        cursor.execute("SELECT ST_AsText(%s::geometry), %s::geometry", [point, point])
        text, geometry = cursor.fetchone()
    return text, GEOSGeometry(geometry).coords


def test_the_project_uses_it_with_the_pool():
    connection = connections["default"]
    assert isinstance(connection, DatabaseWrapper)
    assert connection.pool is not None  # the case it is for


def test_adapters_are_registered_once_per_connection_and_geometries_still_travel(monkeypatch):
    connection = connections["default"]
    registered = []
    original = PostGISDatabaseWrapper.register_geometry_adapters

    def counting(self, pg_connection, clear_caches=False):
        registered.append(id(pg_connection))
        return original(self, pg_connection, clear_caches)

    monkeypatch.setattr(PostGISDatabaseWrapper, "register_geometry_adapters", counting)
    seen = set()
    for step in range(2 * connection.pool.max_size):
        connection.close()  # back to the pool
        connection.ensure_connection()  # a checkout
        seen.add(id(connection.connection))
        assert round_trip(connection, step, 2) == (f"POINT({step} 2)", (float(step), 2.0))
        assert not Region.objects.filter(boundary__intersects=Point(179, -89, srid=4326)).exists()
    # Only connections the pool opened during the test were registered, and each once.
    assert len(registered) == len(set(registered))
    assert set(registered) <= seen
    assert len(seen) > 1  # the pool handed out more than one connection, each used repeatedly


def test_clearing_the_caches_registers_again():
    connection = connections["default"]
    connection.ensure_connection()
    connection.register_geometry_adapters(connection.connection, clear_caches=True)
    assert round_trip(connection, 5, 6) == ("POINT(5 6)", (5.0, 6.0))
