"""What is around a point, in geodesic metres: the nearest emergency resources of each type, and
hazardous equipment within the radius its kind calls for.

Raw SQL, because the ORM has no word for a KNN search per type in one statement. The rows still
come from the scoped querysets (`visible_to`), wrapped as subqueries by
`layers.sources.queryset_sql`, so scoping is the ORM's. Distances are `ST_Distance` on geography:
geodesic on the WGS84 ellipsoid, what `pyproj.Geod(ellps="WGS84")` computes.

Nearest k, exactly. `<->` on the GiST index orders by planar degrees, which at 32°N shrinks
east-west distances by cos φ ≈ 0.85: its k first rows are often not the k geodesically nearest. So
the first step takes m = 4k rows in `<->` order and measures them geodesically. They settle the
answer when they are all the rows there are, or when their k-th geodesic distance (the reach) is
shorter than any row beyond them can be — every such row lies at least the m-th planar distance
away, and a planar degree is at least `metres_per_planar_degree` metres. Otherwise the second step
reads every row within the reach (a box that surely holds that circle, through the same index) and
ranks those. Either way the result equals a brute-force geodesic search over all rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from django.contrib.gis.geos import Point

from accounts.models import User
from geo.models import Region
from geo.scoping import prefix_of
from layers.sources import NothingVisible, Sql, envelope, execute, scoped_sql
from registry.models import UnitRole

FILLING = "filling"  # gas filling stations: units with the filling role, not equipment

# A degree of latitude is nowhere shorter than at the equator (110,574 m); a degree of longitude
# at latitude φ is at least 111,320·cos φ m on the ellipsoid. Within a circle, φ is taken at its
# most poleward latitude. One percent more for safety costs little.
_LAT_M = 110_574.0
_LON_M = 111_320.0
_SAFETY = 1.01
# Rows the first step measures, for k wanted: enough that they nearly always settle the answer.
CANDIDATES_PER_K = 4
MIN_CANDIDATES = 8


def _poleward(point: Point, radius: float) -> float:
    return math.radians(min(abs(point.y) + radius / _LAT_M, 89.0))


def circle_bounds(point: Point, radius: float) -> tuple[float, float, float, float]:
    """West, south, east, north of a box holding every point within `radius` geodesic metres."""
    dlat = radius * _SAFETY / _LAT_M
    dlon = radius * _SAFETY / (_LON_M * math.cos(_poleward(point, radius)))
    return point.x - dlon, point.y - dlat, point.x + dlon, point.y + dlat


def circle_box(point: Point, radius: float) -> Sql:
    """The index pre-filter of a geodesic circle: its bounding box in 4326."""
    return envelope(*circle_bounds(point, radius))


def metres_per_planar_degree(point: Point, reach: float) -> float:
    """At least this many geodesic metres per degree of `<->` distance, within `reach` of the
    point: the ellipsoid's metric is nowhere smaller there than the flat one of these two."""
    return min(_LAT_M, _LON_M * math.cos(_poleward(point, reach))) / _SAFETY


def point_sql(point: Point) -> Sql:
    return Sql("ST_SetSRID(ST_MakePoint(%s, %s), 4326)", (point.x, point.y))


RESOURCE_COLUMNS = (
    "id",
    "name",
    "resource_type",
    "capability",
    "duty_hours",
    "address",
    "region_id",
    "location",
)

# One type's rows, in the answer's shape: the first step orders by `<->`, the second filters to
# the reach and orders geodesically. A statement per type, with the type as a constant, lets the
# planner pick by the type's own statistics: the GiST order for a common type, or the type index
# and a sort for a rare one. A legacy empty point has no distance: it is left out.
_RESOURCES = """
(SELECT r.id, r.name, r.resource_type AS type, r.capability, r.duty_hours, r.address,
        r.region_id AS region, ST_X(r.location) AS lon, ST_Y(r.location) AS lat,
        r.location <-> {p} AS planar,
        ST_Distance(r.location::geography, {p}::geography) AS distance_m
 FROM ({rows}) AS r
 WHERE r.resource_type = %s AND NOT ST_IsEmpty(r.location) {within}
 ORDER BY {order}
 LIMIT %s)
"""
_WITHIN_REACH = Sql(
    "AND r.location && {box} AND ST_Distance(r.location::geography, {p}::geography) <= %s"
)


def _joined(parts: Sequence[Sql], separator: str) -> Sql:
    return Sql(separator.join(p.text for p in parts), [v for p in parts for v in p.params])


def _resources_sql(parts: Sequence[Sql]) -> Sql:
    union = _joined(parts, " UNION ALL ")
    return Sql("SELECT coalesce(json_agg(c), '[]'::json) FROM ({union}) AS c").format(union=union)


def _grouped(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["type"], []).append(row)
    for ranked in found.values():
        ranked.sort(key=lambda row: (row["distance_m"], row["id"]))
    return found


def _by_type(statement: Sql) -> dict[str, list[dict]]:
    return _grouped(execute(statement, parallel=False)[0])


def _visible_resources(user: User) -> Sql:
    # The type is compared outside, a constant the planner still sees once the subquery is pulled
    # up: the scoped queryset is compiled once, not once per type.
    return scoped_sql("registry.EmergencyResource", prefix_of(user), RESOURCE_COLUMNS)


def nearest_candidates_sql(user: User, point: Point, types: Sequence[str], m: int) -> Sql:
    """The first step: each type's m rows in `<->` order, with their geodesic distances."""
    rows, p = _visible_resources(user), point_sql(point)
    order = Sql("r.location <-> {p}").format(p=p)
    return _resources_sql(
        [Sql(_RESOURCES, (t, m)).format(p=p, rows=rows, within="", order=order) for t in types]
    )


def _within_reach_sql(user: User, point: Point, reaches: Mapping[str, float], k: int) -> Sql:
    """The second step: each type's rows within its reach, nearest first."""
    rows, p = _visible_resources(user), point_sql(point)
    return _resources_sql(
        [
            Sql(_RESOURCES, (t, k)).format(
                p=p,
                rows=rows,
                within=Sql(_WITHIN_REACH.text, (reach,)).format(box=circle_box(point, reach), p=p),
                order="distance_m, r.id",
            )
            for t, reach in reaches.items()
        ]
    )


def candidates_for(k: int) -> int:
    """How many rows of each type the first step measures, for k wanted."""
    return max(CANDIDATES_PER_K * k, MIN_CANDIDATES)


def nearest_resources(
    user: User,
    point: Point,
    types: Sequence[str],
    k: int,
    first_step: list[dict] | None = None,
) -> dict[str, list[dict]]:
    """The k visible resources of each type nearest to the point, nearest first (ties by id).
    `first_step`: the rows of `nearest_candidates_sql` for these types and k, when the caller
    already ran it (`CountyAndCandidates`)."""
    found: dict[str, list[dict]] = {t: [] for t in types}
    m = candidates_for(k)
    if not types:
        return found
    try:
        if first_step is None:
            candidates = _by_type(nearest_candidates_sql(user, point, types, m))
        else:
            candidates = _grouped(first_step)
    except NothingVisible:
        return found
    reaches = {}
    for resource_type in types:
        ranked = candidates.get(resource_type, [])
        if len(ranked) == m:
            reach = ranked[k - 1]["distance_m"]
            edge = max(row["planar"] for row in ranked)
            if reach >= edge * metres_per_planar_degree(point, reach):
                reaches[resource_type] = reach  # a row beyond the m might be nearer
                continue
        found[resource_type] = ranked[:k]
    if reaches:
        found.update(_by_type(_within_reach_sql(user, point, reaches, k)))
    for rows in found.values():
        for row in rows:
            del row["planar"]
    return found


class CountyAndCandidates:
    """The county of an incident's point and, in the same statement, the first step of the
    nearest resources there: one round trip where locating and then searching took two, which
    was a fifth of a nearest-k answer. Give `county_of` to the locating (response.locate), then
    `first_step_at(located.point)` to `nearest_resources`."""

    def __init__(self, user: User, types: Sequence[str], k: int):
        self.user, self.types, self.k = user, list(types), k
        self.at: tuple[float, float] | None = None
        self.first_step: list[dict] | None = None

    def county_of(self, point: Point) -> Region | None:
        try:
            candidates = nearest_candidates_sql(
                self.user, point, self.types, candidates_for(self.k)
            )
        except NothingVisible:
            return Region.locate(point)
        county = Sql(*Region.locate_sql(point))
        statement = Sql(
            "SELECT ({candidates}), (SELECT row_to_json(c) FROM ({county}) AS c)"
        ).format(candidates=candidates, county=county)
        self.first_step, row = execute(statement, parallel=False)
        self.at = (point.x, point.y)
        return Region.from_located(row)

    def first_step_at(self, point: Point) -> list[dict] | None:
        """The first step's rows if they were read at this point, else None (search anew)."""
        return self.first_step if self.at == (point.x, point.y) else None


# Each row's geodesic distance is computed once (LATERAL) and both tested and returned: in a
# dense downtown box, `ST_DWithin` and then `ST_Distance` on geography measured every row twice,
# the larger part of the statement. Measured on the ellipsoid either way, so the answer is the same.
_EQUIPMENT_HITS = Sql(
    """
SELECT 'equipment'::text AS what, r.id,
       coalesce(nullif(r.device_code, ''), r.registration_code)::text AS label,
       r.kind::text AS kind, r.variety_id::text AS variety, r.status::text AS status,
       r.address::text AS address, r.radius, d.distance,
       coalesce(r.location, ST_ClosestPoint(r.route, {p})) AS point
FROM (SELECT r.*, {radius} AS radius FROM ({rows}) AS r
      WHERE (r.location && {box} OR r.route && {box})) AS r
CROSS JOIN LATERAL (
    SELECT ST_Distance(coalesce(r.location, r.route)::geography, {p}::geography) AS distance
) AS d
WHERE r.radius IS NOT NULL AND d.distance <= r.radius
"""
)

_FILLING_HITS = Sql(
    """
SELECT 'unit'::text AS what, r.id, r.name::text AS label, 'filling'::text AS kind,
       NULL::text AS variety, NULL::text AS status, r.address::text AS address,
       %s::float8 AS radius, d.distance, r.location AS point
FROM ({rows}) AS r
CROSS JOIN LATERAL (SELECT ST_Distance(r.location::geography, {p}::geography) AS distance) AS d
WHERE r.location && {box} AND %s = ANY(r.roles) AND d.distance <= %s::float8
"""
)

_WITHIN = Sql(
    """
SELECT coalesce(json_agg(json_build_object(
           'what', h.what, 'id', h.id, 'label', h.label, 'kind', h.kind, 'variety', h.variety,
           'status', h.status, 'address', h.address, 'radius_m', h.radius,
           'distance_m', h.distance, 'lon', ST_X(h.point), 'lat', ST_Y(h.point)
       ) ORDER BY h.distance, h.what, h.id), '[]'::json)::text,
       coalesce(max(h.total), 0)
FROM (
    SELECT u.*, count(*) OVER () AS total FROM ({hits}) AS u
    ORDER BY u.distance, u.what, u.id
    LIMIT %s
) AS h
"""
)

FILLING_COLUMNS = ("id", "name", "address", "location", "roles")
EQUIPMENT_COLUMNS = (
    "id",
    "device_code",
    "registration_code",
    "kind",
    "variety_id",
    "status",
    "address",
    "location",
    "route",
)


def within_sql(user: User, point: Point, radii: Mapping[str, float], limit: int) -> Sql:
    """The statement behind `within`: one JSON list (nearest first, at most `limit`) and the total."""
    p = point_sql(point)
    parts: dict[str, Sql] = {}
    kinds = {kind: radius for kind, radius in radii.items() if kind != FILLING}
    if kinds:
        try:
            # The kinds are chosen by the radius each one gets (none: not asked for), not by a
            # `kind IN` the planner would AND in from the kind index, reading a province's worth
            # of index entries for a box of a few thousand rows.
            rows = scoped_sql("registry.Equipment", prefix_of(user), EQUIPMENT_COLUMNS)
        except NothingVisible:
            pass
        else:
            radius = _joined(
                [Sql("WHEN %s THEN %s::float8", (kind, r)) for kind, r in sorted(kinds.items())],
                " ",
            )
            parts["equipment"] = _EQUIPMENT_HITS.format(
                p=p,
                rows=rows,
                box=circle_box(point, max(kinds.values())),
                radius=Sql("(CASE r.kind {cases} END)").format(cases=radius),
            )
    if FILLING in radii:
        radius = radii[FILLING]
        try:
            # The role is tested on the rows in the box (`= ANY`), not by `with_role`'s `@>`,
            # which the planner would AND in from the roles index at a cost above the box's.
            rows = scoped_sql("registry.Unit", prefix_of(user), FILLING_COLUMNS)
        except NothingVisible:
            pass
        else:
            parts["filling"] = Sql(
                _FILLING_HITS.text, (radius, UnitRole.FILLING.value, radius)
            ).format(p=p, rows=rows, box=circle_box(point, radius))
    if not parts:
        raise NothingVisible
    hits = Sql(" UNION ALL ".join(f"({{{name}}})" for name in parts)).format(**parts)
    return Sql(_WITHIN.text, (limit,)).format(hits=hits)


def within_json(
    user: User, point: Point, radii: Mapping[str, float], limit: int
) -> tuple[str, int]:
    """Visible equipment of each kind (and filling stations) within its radius of the point,
    nearest first, at most `limit`, as JSON text; and how many there are in all."""
    if not radii:
        return "[]", 0
    try:
        statement = within_sql(user, point, radii, limit)
    except NothingVisible:
        return "[]", 0
    found, total = execute(statement, parallel=False)
    return found, int(total)


def within(
    user: User, point: Point, radii: Mapping[str, float], limit: int
) -> tuple[list[dict], int]:
    """`within_json`, parsed."""
    found, total = within_json(user, point, radii, limit)
    return json.loads(found), total
