"""Equipment counted per grid cell ahead of time, so low-zoom cluster tiles read thousands of sums
instead of millions of rows.

A cell is the tiles' own grid (maps.tiles): at level L a point with world coordinates (u, v) is in
cell (floor(u·2^L), floor(v·2^L)), and the cluster cells of a tile at zoom z are level z + 3, so a
tile reads exactly its 64 cells at one of LEVELS. The coarser levels are folded from the finest by
shifting right (floor(floor(u·2^L) / 2^k) = floor(u·2^(L-k)), exactly).

Each row counts the devices of one (level, cell, region prefix, variety, kind, status) with the sums
of their longitudes and latitudes (for the cluster's mean position). The region prefix is kept at
every DEPTH (0, 2, 4, 6 digits: national, province, city, county) so that any jurisdiction, or a
region filter, reads only its own rows with an index range, whatever its size. What the cells can
answer: the equipment layer filtered by kind, variety, status and region — the filters that are
columns here; a date filter, and the overdue layer (which moves with today), stay live.

In step with writes: statement-level triggers on registry_equipment with transition tables fold
every INSERT, UPDATE, DELETE (COPY included) into the cells in the writer's own transaction, so a
tile never disagrees with the table it counts. It is derived data, not a business rule, and the
trigger is the one place that sees every write path (services, admin, the COPY of the generator,
imports). The cost: writers whose rows fall in one coarse cell update the same rows and so wait for
each other's commit. `rebuild()` recomputes everything (the `rebuild_tile_cells` command), and
`differences()` checks the cells against the table.

Changing the SQL below needs a migration that calls `install()` again: a test compares the function
in the database with this module's.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from geo.mercator import world
from geo.scoping import Scope
from layers.filters import LAYER_FILTERS, LayerQuery, RegionFilter
from layers.sources import NothingVisible, Sql

# Every cluster level of zooms 0-11 (z + 3): a tile reads its 64 cells and no more.
LEVELS = tuple(range(3, 15))
DEPTHS = (0, 2, 4, 6)
FINEST = max(LEVELS)
TABLE = "layers_equipmentcell"
FILLFACTOR = 80
FUNCTION = "layers_equipment_cells_sync"
TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}
# The cluster point of maps.tiles' equipment source, over the alias `e`.
POINT = "COALESCE(e.location, ST_LineInterpolatePoint(ST_GeometryN(e.route, 1), 0.5))"
_COLUMNS = "location, route, region_id, variety_id, kind, status"

# Changed rows (sign, location, route, region_id, variety_id, kind, status) -> sums per finest cell
# -> the same sums at every level and depth -> added to the cells, in key order: a recount then
# lays the table out as a tile reads it (neighbouring cells on the same pages), and the table's
# fillfactor leaves room for the triggers' updates to stay on their page. A sum that lands on zero devices
# is deleted afterwards by the caller.
_FOLD = f"""
WITH changed AS ({{changed}}),
finest AS (
  SELECT floor(p.u * {float(1 << FINEST)!r})::int AS gx, floor(p.v * {float(1 << FINEST)!r})::int AS gy,
         p.region_id, p.variety_id, p.kind, p.status,
         sum(p.sign) AS n, sum(p.sign * p.x) AS sx, sum(p.sign * p.y) AS sy
  FROM (
    SELECT c.sign, c.region_id, c.variety_id, c.kind, c.status,
           {world("c.point")[0]} AS u, {world("c.point")[1]} AS v,
           ST_X(c.point) AS x, ST_Y(c.point) AS y
    FROM (SELECT e.sign, e.region_id, e.variety_id, e.kind, e.status, {POINT} AS point
          FROM changed AS e) AS c
    WHERE c.point IS NOT NULL AND NOT ST_IsEmpty(c.point)
  ) AS p
  GROUP BY 1, 2, 3, 4, 5, 6
)
INSERT INTO {TABLE} AS cell (level, depth, region, gx, gy, variety_id, kind, status, n, sx, sy)
SELECT l.level, d.depth, left(f.region_id, d.depth), f.gx >> ({FINEST} - l.level),
       f.gy >> ({FINEST} - l.level), f.variety_id, f.kind, f.status, sum(f.n), sum(f.sx), sum(f.sy)
FROM finest AS f
CROSS JOIN unnest(ARRAY{list(LEVELS)}::smallint[]) AS l(level)
CROSS JOIN unnest(ARRAY{list(DEPTHS)}::smallint[]) AS d(depth)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (level, depth, region, gx, gy, variety_id, kind, status)
DO UPDATE SET n = cell.n + EXCLUDED.n, sx = cell.sx + EXCLUDED.sx, sy = cell.sy + EXCLUDED.sy
"""

_CHANGED = {
    "INSERT": f"SELECT 1 AS sign, {_COLUMNS} FROM new_rows",
    "DELETE": f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows",
    "UPDATE": (
        f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows "
        f"UNION ALL SELECT 1 AS sign, {_COLUMNS} FROM new_rows"
    ),
    "ALL": f"SELECT 1 AS sign, {_COLUMNS} FROM registry_equipment",
}
_DROP_EMPTY = f"DELETE FROM {TABLE} WHERE n = 0"
TRUNCATE_BODY = f"$body$ BEGIN DELETE FROM {TABLE}; RETURN NULL; END $body$"


def _fold(changed: str) -> str:
    return _FOLD.replace("{changed}", changed)


def function_sql() -> str:
    branches = "\n".join(
        f"  {'IF' if i == 0 else 'ELSIF'} TG_OP = '{op}' THEN\n    {_fold(_CHANGED[op])};"
        for i, op in enumerate(TRIGGERS)
    )
    return (
        f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{branches}\n  END IF;\n  {_DROP_EMPTY};\n  RETURN NULL;\nEND\n$body$"
    )


def install_sql() -> list[str]:
    """The function and its triggers (CREATE OR REPLACE: a migration may run it again)."""
    statements = [function_sql()]
    for op, transition in TRIGGERS.items():
        name = f"{FUNCTION}_{op.lower()}"
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON registry_equipment",
            f"CREATE TRIGGER {name} AFTER {op} ON registry_equipment {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        ]
    # TRUNCATE has no transition table: the cells go with the rows. DELETE, not TRUNCATE: a
    # TRUNCATE of both tables in one statement (Django's flush) cannot truncate the cells again.
    statements += [
        f"CREATE OR REPLACE FUNCTION {FUNCTION}_truncate() RETURNS trigger LANGUAGE plpgsql AS "
        f"{TRUNCATE_BODY}",
        f"DROP TRIGGER IF EXISTS {FUNCTION}_truncate ON registry_equipment",
        f"CREATE TRIGGER {FUNCTION}_truncate AFTER TRUNCATE ON registry_equipment "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}_truncate()",
    ]
    return statements


def uninstall_sql() -> list[str]:
    return [
        *(
            f"DROP TRIGGER IF EXISTS {FUNCTION}_{op.lower()} ON registry_equipment"
            for op in TRIGGERS
        ),
        f"DROP TRIGGER IF EXISTS {FUNCTION}_truncate ON registry_equipment",
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
        f"DROP FUNCTION IF EXISTS {FUNCTION}_truncate()",
    ]


def install() -> None:
    with connection.cursor() as cursor:
        for statement in install_sql():
            cursor.execute(statement)


@transaction.atomic
def rebuild() -> int:
    """Recompute every cell from the table; writers wait meanwhile. Returns the number of cells."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE registry_equipment IN SHARE MODE")
        # TRUNCATE rather than DELETE: a recount leaves no dead rows behind for vacuum to find.
        cursor.execute(f"TRUNCATE {TABLE}")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_fold(_CHANGED["ALL"]))
        cursor.execute(_DROP_EMPTY)
        cursor.execute(f"ANALYZE {TABLE}")
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return cursor.fetchone()[0]


def differences(limit: int = 20) -> list[tuple]:
    """Cells whose count differs from the table's (level, depth, region, gx, gy, variety, kind,
    status, stored n, actual n); empty when the cells are in step. Positions are compared to 1e-6°."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            "CREATE TEMPORARY TABLE expected_cells (LIKE layers_equipmentcell INCLUDING IDENTITY "
            "INCLUDING INDEXES)"
        )
        cursor.execute(_fold(_CHANGED["ALL"]).replace(TABLE, "expected_cells"))
        keys = "level, depth, region, gx, gy, variety_id, kind, status"
        cursor.execute(
            f"SELECT {keys}, s.n, e.n FROM {TABLE} AS s "
            f"FULL JOIN expected_cells AS e USING ({keys}) "
            "WHERE s.n IS DISTINCT FROM e.n "
            "OR abs(s.sx / NULLIF(s.n, 0) - e.sx / e.n) > 1e-6 "
            "OR abs(s.sy / NULLIF(s.n, 0) - e.sy / e.n) > 1e-6 "
            f"ORDER BY {keys} LIMIT %s",
            [limit],
        )
        found = cursor.fetchall()
        # ON COMMIT does not fire when this runs as a savepoint inside a longer transaction.
        cursor.execute("DROP TABLE expected_cells")
        return found


# --------------------------------------------------------------------------- reading them

COLUMNS = ("kind", "variety_id", "status")


def answerable_columns(query: LayerQuery) -> dict[str, Any] | None:
    """The query's filters as cell columns (region as a prefix), or None if one is not a column."""
    columns: dict[str, Any] = {}
    for index, value in query.values:
        f = LAYER_FILTERS[query.layer][index]
        if isinstance(f, RegionFilter):
            columns["region"] = value
        elif getattr(f, "field", None) in COLUMNS:
            columns[f.field] = value
        else:
            return None
    return columns


def narrowest_prefix(user, region: str | None) -> str:
    """The user's jurisdiction narrowed by a region filter, as a code prefix; NothingVisible when
    the two share no division."""
    scope = Scope.of(user).narrowed(region)
    if scope is None:
        raise NothingVisible
    return scope.prefix


def region_condition(prefix: str) -> tuple[int, Sql]:
    """The depth whose rows to read and the condition on their region for a code prefix."""
    depth = min(d for d in DEPTHS if d >= len(prefix))
    if len(prefix) == depth:
        return depth, Sql("c.region = %s", (prefix,))
    if set(prefix) == {"9"}:
        return depth, Sql("c.region >= %s", (prefix,))
    following = str(int(prefix) + 1).zfill(len(prefix))
    return depth, Sql("c.region >= %s AND c.region < %s", (prefix, following))
