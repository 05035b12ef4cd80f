"""Where each map layer's rows come from, as SQL: the scoped, filtered queryset of a layer (the
ORM's own SQL, parameterised), the index pre-filters and the half-open box test that tiles, counts
and GeoJSON share, and the one way to run such a statement.

Rows are found with the GiST index of the stored 4326 column (`location && <box in 4326>`, widened
by a margin so that rounding never loses a row); the exact test follows. Rows with no geometry (or
an empty one) fail `&&` and drop out.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from cylinders.reads import with_station_figures
from geo.mercator import world
from geo.scoping import Scope
from licensing.reads import licence_rows, unlicensed_filling_rows, unlicensed_rows
from registry.models import Accident, EmergencyResource, Equipment, Unit

from .filters import MERCATOR_MAX_LATITUDE, BBox, LayerQuery

BBOX_MARGIN_DEGREES = 1e-7


class Sql:
    """A SQL fragment and its parameters; `format` splices other fragments into `{name}` slots,
    keeping the parameters in the order their placeholders appear."""

    SLOT = re.compile(r"\{([a-z_]+)\}")

    def __init__(self, text: str, params: tuple | list = ()):
        self.text, self.params = text, tuple(params)

    def format(self, **parts: Sql | str) -> Sql:
        text, params, at = [], [], 0
        for match in self.SLOT.finditer(self.text):
            part = parts[match[1]]
            part = part if isinstance(part, Sql) else Sql(part)
            text.append(self.text[at : match.start()])
            params.extend(self._params_between(at, match.start()))
            text.append(part.text)
            params.extend(part.params)
            at = match.end()
        text.append(self.text[at:])
        params.extend(self._params_between(at, len(self.text)))
        return Sql("".join(text), params)

    def _params_between(self, start: int, end: int) -> tuple:
        before = self.text[:start].count("%s")
        return self.params[before : before + self.text[start:end].count("%s")]


@dataclass(frozen=True)
class Source:
    """Where a layer's rows come from and what its features carry (SQL over the row alias `r`)."""

    rows: Callable[[Any, dt.date], QuerySet]  # (user, today) -> scoped queryset
    columns: tuple[str, ...]  # fields selected from the queryset (values()), the aliases in `r`
    geometry_columns: tuple[str, ...]  # stored 4326 geometry columns, each GiST-indexed
    point: str  # representative 4326 point: clusters, counts, and the drawn point
    properties: str  # of individual features: "expr AS name, ..."
    line: str | None = None  # a 4326 line drawn instead of the point when present
    # (column, property): the most frequent value of a cluster's members
    dominant: tuple[str, str] | None = None
    total: str | None = None  # a column summed per cluster, under its own name
    today_in_properties: bool = False


_EQUIPMENT = {
    "geometry_columns": ("location", "route"),
    # Halfway along a pipeline's first line: on the route, and cheap (ST_PointOnSurface goes
    # through GEOS, which costs more than everything else a cluster tile does per row).
    "point": "COALESCE(r.location, ST_LineInterpolatePoint(ST_GeometryN(r.route, 1), 0.5))",
    "line": "r.route",
    "dominant": ("kind", "kind"),
}
_EQUIPMENT_COLUMNS = ("id", "kind", "variety_id", "status", "device_code", "location", "route")
_EQUIPMENT_PROPERTIES = (
    "r.id AS id, r.kind AS kind, r.variety_id AS variety, r.status AS status, r.device_code AS code"
)

SOURCES: dict[str, Source] = {
    "equipment": Source(
        rows=lambda user, today: Equipment.objects.visible_to(user),
        columns=_EQUIPMENT_COLUMNS,
        properties=_EQUIPMENT_PROPERTIES,
        **_EQUIPMENT,
    ),
    "overdue": Source(
        rows=lambda user, today: Equipment.objects.visible_to(user).overdue(on=today),
        columns=(*_EQUIPMENT_COLUMNS, "next_inspection_due"),
        properties=_EQUIPMENT_PROPERTIES + ", (%s::date - r.next_inspection_due) AS days_overdue",
        today_in_properties=True,
        **_EQUIPMENT,
    ),
    "units": Source(
        rows=lambda user, today: Unit.objects.visible_to(user),
        columns=("id", "name", "roles", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties="r.id AS id, r.name AS name, array_to_string(r.roles, ',') AS roles",
    ),
    "accidents": Source(
        rows=lambda user, today: Accident.objects.visible_to(user),
        columns=("id", "severity", "deaths", "occurred_at", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties=(
            "r.id AS id, r.severity AS severity, r.deaths AS deaths, "
            "to_json(r.occurred_at) #>> '{}' AS occurred_at"
        ),
        total="deaths",
    ),
    "resources": Source(
        rows=lambda user, today: EmergencyResource.objects.visible_to(user),
        columns=("id", "name", "resource_type", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties="r.id AS id, r.name AS name, r.resource_type AS type",
        dominant=("resource_type", "type"),
    ),
    # Gas-cylinder filling stations with their figures (cylinders.reads): clusters sum violations.
    "stations": Source(
        rows=lambda user, today: with_station_figures(Unit.objects.visible_to(user), today),
        columns=("id", "name", "location", "owned_cylinders", "overdue", "fillings", "violations"),
        geometry_columns=("location",),
        point="r.location",
        properties=(
            "r.id AS id, r.name AS name, r.owned_cylinders AS cylinders, r.overdue AS overdue, "
            "r.fillings AS fillings, r.violations AS violations"
        ),
        total="violations",
    ),
    # Licences (issue 23): one feature per licence at its unit, coloured by validity that day.
    "licences": Source(
        rows=licence_rows,
        columns=("id", "kind", "validity", "number", "unit_name", "location"),
        geometry_columns=("location",),
        point="r.location",
        properties=(
            "r.id AS id, r.kind AS licence_kind, r.validity AS validity, r.number AS number, "
            "r.unit_name AS unit"
        ),
        dominant=("validity", "validity"),
    ),
    # Devices made or installed by a unit without a licence covering them (licensing.findings).
    "unlicensed": Source(
        rows=unlicensed_rows,
        columns=_EQUIPMENT_COLUMNS,
        properties=_EQUIPMENT_PROPERTIES,
        **_EQUIPMENT,
    ),
}
# Stations that filled without a filling licence (无证充装, licensing.findings): the stations
# layer's rows and figures, of those stations only. A layer of its own, as its rows are units and
# the `unlicensed` layer's are devices (one model per layer: its filters, fields and pages).
SOURCES["unlicensed_filling"] = replace(
    SOURCES["stations"],
    rows=lambda user, today: with_station_figures(unlicensed_filling_rows(user, today), today),
)


@dataclass(frozen=True)
class GeometryPart:
    """The rows of a layer that have one geometry type: a layer of an exported file, an OGC API
    collection. Desktop GIS layers hold one geometry type (QGIS makes a Point layer and never
    draws a line in it; ogr2ogr writes lines into a POINT table), so a layer whose rows are points
    or pipelines' routes is served as two: `<layer>` (points) and `<layer>_lines`."""

    name: str  # the file's layer name, the collection id
    layer: str  # the map layer: its scope, filters and fields
    geometry_type: str  # OGR's name: Point or MultiLineString
    column: str  # the stored geometry column every row of the part has
    split: bool  # whether the layer has another part (else its rows need no filter)

    @property
    def lines(self) -> bool:
        return self.geometry_type == "MultiLineString"

    def rows(self, queryset: QuerySet) -> QuerySet:
        """The layer's rows (scoped, filtered) that belong to this part."""
        return queryset.filter(**{f"{self.column}__isnull": False}) if self.split else queryset


_PART_TYPES = (("", "Point"), ("_lines", "MultiLineString"))


def geometry_parts(layer: str) -> tuple[GeometryPart, ...]:
    """The layer's parts, points first: one per stored geometry column (a point, a route)."""
    columns = SOURCES[layer].geometry_columns
    return tuple(
        GeometryPart(layer + suffix, layer, geometry_type, column, len(columns) > 1)
        for column, (suffix, geometry_type) in zip(columns, _PART_TYPES, strict=False)
    )


class NothingVisible(Exception):
    """The filtered queryset is empty before it reaches the database (none(), an empty IN list)."""


def queryset_sql(queryset: QuerySet) -> Sql:
    """The queryset's own SQL, parameterised, to wrap in a statement; NothingVisible when the ORM
    already knows it matches no row."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        raise NothingVisible from None
    return Sql(sql, params)


@lru_cache(maxsize=256)
def scoped_sql(model: str, prefix: str | None, columns: tuple[str, ...]) -> Sql:
    """The SQL of a model's rows a jurisdiction sees (`visible_to`), these columns: compiled once
    per jurisdiction rather than on every request (half a millisecond each time)."""
    rows = apps.get_model(model).objects.visible_to(Scope(prefix))
    return queryset_sql(rows.order_by().values(*columns))


def rows_sql(layer: str, user, query: LayerQuery, today: dt.date) -> Sql:
    """The layer's visible, filtered rows as SQL. Compiling the queryset costs about half a
    millisecond, as much as a small tile's query: the SQL is kept per jurisdiction, filters and
    day for a minute (the tile cache's lifetime, which a "last 24 h" window already lives with)."""
    epoch = int(time.monotonic() // ROWS_SQL_TTL_S)
    return _rows_sql(layer, Scope.of(user).prefix, query.values, today, epoch)


ROWS_SQL_TTL_S = 60


@lru_cache(maxsize=512)
def _rows_sql(layer: str, prefix: str | None, values: tuple, today: dt.date, _epoch: int) -> Sql:
    source = SOURCES[layer]
    visible = source.rows(Scope(prefix), today)
    filtered = LayerQuery(layer, values).apply(visible)
    return queryset_sql(filtered.order_by().values(*source.columns))


def envelope(west: float, south: float, east: float, north: float) -> Sql:
    return Sql("ST_MakeEnvelope(%s, %s, %s, %s, 4326)", (west, south, east, north))


def overlaps(layer: str, envelope: Sql) -> Sql:
    """`&&` on each stored geometry column (OR: a bitmap OR of GiST index scans)."""
    text = " OR ".join(f"r.{column} && {{envelope}}" for column in SOURCES[layer].geometry_columns)
    return Sql(f"({text})").format(envelope=envelope)


def query_box(query: LayerQuery) -> BBox:
    """The query's bbox as Web Mercator can project it; the whole world without one."""
    return (query.bbox or BBox(-180, -MERCATOR_MAX_LATITUDE, 180, MERCATOR_MAX_LATITUDE)).clamped()


def box_corners(box: BBox) -> dict[str, Sql]:
    """The half-open box test's edges as world coordinates (`west`, `east`, `north`, `south`):
    the box's corners go through the very formulas the points do."""
    corner_u, corner_v = world("ST_MakePoint(%s, %s)")
    return {
        "west": Sql(corner_u, (box.west, box.south)),
        "east": Sql(corner_u, (box.east, box.north)),
        "north": Sql(corner_v, (box.east, box.north)),
        "south": Sql(corner_v, (box.west, box.south)),
    }


def box_envelope(box: BBox) -> Sql:
    """The index pre-filter of a box test, widened so that rounding never loses a row."""
    m = BBOX_MARGIN_DEGREES
    return envelope(box.west - m, box.south - m, box.east + m, box.north + m)


def execute(statement: Sql, *, parallel: bool = True) -> tuple:
    """The statement's one row, run without JIT, which compiles a map query for longer than it
    runs (the planner sees millions of rows and costly spatial functions); `parallel=False` for
    small answers, where starting workers costs more than they save on a busy two-core server."""
    settings = "SET LOCAL jit = off; "
    if not parallel:
        settings += "SET LOCAL max_parallel_workers_per_gather = 0; "
    # One round trip instead of four (BEGIN, SET LOCAL, the query, COMMIT): Django binds
    # parameters client-side with psycopg 3, so the statements travel as one simple query whose
    # implicit transaction bounds the SET LOCALs (inside an atomic block, that block does).
    with connection.cursor() as cursor:
        cursor.execute(settings + statement.text, statement.params)
        while cursor.description is None and cursor.nextset():
            pass
        return cursor.fetchone()
