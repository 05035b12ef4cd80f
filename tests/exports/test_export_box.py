"""An export's bbox is the map's bbox: for every layer, with and without the map's filters, the rows
of a box are those the count endpoint (/tiles/<layer>/count) counts there, points on its edges
included, and those a brute-force half-open test in Python keeps (west and north edges in, east and
south out; a pipeline by its point halfway along the route)."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone

from exports.core import count_rows, export_layer
from exports.options import Area, parse_area_bbox
from layers.filters import parse_query
from layers.sources import SOURCES
from registry.models import Unit, UnitRole
from tests.conftest import XINGQING, inside
from tests.exports.test_export import read_back
from tests.maps import test_tiles
from tests.maps.test_tiles import accident, api_count, resource

pytestmark = pytest.mark.django_db

# The tile tests' fixture: equipment placed straight through the ORM at any point.
place = test_tiles.place

TODAY = timezone.localdate()
STEP = 0.01
LAYERS = ["equipment", "overdue", "units", "accidents", "resources"]
# The map's filter of each layer, and the same rows as a plain ORM condition.
FILTERS = {
    "equipment": ("kind=3000", Q(kind="3000")),
    "overdue": ("kind=4000", Q(kind="4000")),
    "units": ("role=maintenance", Q(roles__contains=[UnitRole.MAINTENANCE])),
    "accidents": ("window=30d", Q(occurred_at__gte=timezone.now() - dt.timedelta(days=30))),
    "resources": ("type=hospital", Q(resource_type="hospital")),
}


@pytest.fixture
def grid(place, make_unit):
    """Rows of every layer on a 4 × 4 grid of points STEP apart in 兴庆区 (so boxes can have them
    on their edges, to the last bit), and a pipeline across the grid whose midpoint lies between
    grid lines. Returns the grid's longitudes and latitudes."""
    centre = inside(XINGQING)
    x0, y0 = round(centre.x, 2), round(centre.y, 2)
    xs = [round(x0 + i * STEP, 6) for i in range(4)]
    ys = [round(y0 + j * STEP, 6) for j in range(4)]
    overdue = TODAY - dt.timedelta(days=40)
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            k, point = 4 * i + j, Point(x, y, srid=4326)
            place(XINGQING, point, "3110" if k % 2 else "4110",
                  next_inspection_due=overdue if k % 3 else None)  # fmt: skip
            unit = make_unit(XINGQING, roles=(UnitRole.USE, UnitRole.MAINTENANCE)[: 1 + k % 2])
            Unit.objects.filter(pk=unit.pk).update(location=point)
            accident(XINGQING, point, days_ago=5 if k % 2 else 90)
            resource(XINGQING, point, "hospital" if k % 2 else "rescue_team")
    across = LineString((xs[0] - 0.004, ys[1] + 0.005), (xs[3] + 0.004, ys[1] + 0.005))
    place(XINGQING, None, "8110", route=MultiLineString(across, srid=4326))
    place(XINGQING, None, "3110")  # no point: not on the map, never exported
    return xs, ys


def boxes(xs, ys) -> list[str]:
    """Boxes whose edges run through grid points, one around everything, one missing everything."""
    return [
        f"{xs[0]!r},{ys[0]!r},{xs[1]!r},{ys[1]!r}",
        f"{xs[1]!r},{ys[1]!r},{xs[3]!r},{ys[3]!r}",
        f"{xs[0]!r},{ys[0]!r},{xs[1]!r},{ys[3]!r}",  # the pipeline's route crosses it, not its midpoint
        f"{xs[0] - STEP!r},{ys[0] - STEP!r},{xs[3] + STEP!r},{ys[3] + STEP!r}",
        f"{xs[3] + STEP!r},{ys[3] + STEP!r},{xs[3] + 2 * STEP!r},{ys[3] + 2 * STEP!r}",
    ]


def brute_force(layer: str, user, condition: Q, box: str) -> set[int]:
    """Ids of the rows whose map point is in the half-open box, tested row by row in Python."""
    west, south, east, north = map(float, box.split(","))
    found = set()
    rows = SOURCES[layer].rows(user, TODAY).filter(condition)
    for row in rows.values("id", *SOURCES[layer].geometry_columns):
        if row.get("route") is not None:
            line = shapely.from_wkb(bytes(row["route"].wkb)).geoms[0]
            point = line.interpolate(0.5, normalized=True)
        elif row.get("location") is not None:
            point = shapely.from_wkb(bytes(row["location"].wkb))
        else:
            continue
        if west <= point.x < east and south < point.y <= north:
            found.add(row["id"])
    return found


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
@pytest.mark.parametrize("layer", LAYERS)
def test_every_box_exports_what_the_map_counts(client, tmp_path, users, grid, layer, filtered):
    user = users["xingqing"]
    client.force_login(user)
    text, condition = FILTERS[layer] if filtered else ("", Q())
    query = parse_query(layer, QueryDict(text))
    params = dict(QueryDict(text).items())
    seen = set()
    for box in boxes(*grid):
        area = Area(bbox=parse_area_bbox(box))
        destination = tmp_path / f"{layer}.gpkg"
        result = export_layer(user, layer, query, area, "gpkg", "wgs84", destination)
        exported = {int(r["编号"]) for r in read_back(destination, "gpkg", layer, tmp_path)}
        expected = brute_force(layer, user, condition, box)
        assert exported == expected, box
        assert result.features == count_rows(user, layer, query, area) == len(expected)
        assert api_count(client, layer, bbox=box, **params) == len(expected), box
        seen.add(len(expected))
    assert len(seen) > 2  # the boxes differ: some rows in, some out


def test_a_pipeline_is_in_the_box_of_its_midpoint_not_of_every_box_it_crosses(users, grid):
    xs, ys = grid
    pipelines = parse_query("equipment", QueryDict("kind=8000"))
    crossed = Area(bbox=parse_area_bbox(f"{xs[0]!r},{ys[0]!r},{xs[1]!r},{ys[3]!r}"))
    halfway = Area(bbox=parse_area_bbox(f"{xs[1]!r},{ys[0]!r},{xs[2]!r},{ys[3]!r}"))
    assert count_rows(users["xingqing"], "equipment", pipelines, crossed) == 0
    assert count_rows(users["xingqing"], "equipment", pipelines, halfway) == 1


@pytest.mark.parametrize("layer", LAYERS)
def test_without_a_box_the_export_holds_the_jurisdictions_count(client, users, grid, layer):
    client.force_login(users["xingqing"])
    expected = api_count(client, layer)
    assert count_rows(users["xingqing"], layer, None) == expected > 0
