"""An export's rows as the writers read them: parts, chunks in the target system, and a summary.

A `Plan` holds the parts of the file (one per geometry type when the format keeps one geometry
type per layer), each a reader of its rows in chunks (the scoped, filtered queryset of a map layer,
or the region statistics), and reports each chunk to the progress callback. Coordinates move only
through geo.crs (the target's `from_wgs84`); when the target is WGS84 or CGCS2000 the stored WKB goes
to the file untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely

from exports.options import LAYER_TITLES, REGIONS, Area, Format, Query, Target
from layers.fields import COLUMNS, Chunk, Column, Lookups, dictionary_rows
from layers.filters import LAYER_FILTERS
from maps.choropleth import ChoroplethQuery

Progress = Callable[[int, int], None]  # (rows done, rows in all)
POLYGONS = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


@dataclass(frozen=True)
class Part:
    """The rows written as one layer of the file."""

    name: str  # layer name inside the file (ASCII: Shapefile members are named after it)
    geometry_type: str  # OGR name: Point, MultiLineString, MultiPolygon, or Unknown for several
    read: Callable[[Lookups, int], Iterator[Chunk]]  # (lookups, chunk_rows) → the rows in chunks


@dataclass
class Plan:
    layer: str
    query: Query
    area: Area
    format: Format
    target: Target
    parts: list[Part]
    lookups: Lookups
    region_name: str
    region_code: str
    total: int
    chunk_rows: int
    progress: Progress | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # more lines for the summary
    done: int = field(default=0, init=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        return COLUMNS[self.layer]

    @property
    def title(self) -> str:
        return f"{self.region_name} {LAYER_TITLES[self.layer][0]}"

    def chunks(self, part: Part) -> Iterator[Chunk]:
        for chunk in part.read(self.lookups, self.chunk_rows):
            self.done += len(chunk)
            yield chunk
            if self.progress is not None:
                self.progress(self.done, self.total)

    def moved_wkb(self, chunk: Chunk) -> np.ndarray:
        """The chunk's geometries as WKB in the target system."""
        if self.target.unchanged:
            return chunk.wkb
        shapes = shapely.from_wkb(chunk.wkb)
        return shapely.to_wkb(shapely.transform(shapes, self._convert))

    def points(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
        """x, y of each row's representative point in the target system (NaN without geometry):
        a point itself, a pipeline's point halfway along its first line (as on the map), a point
        inside a region's boundary."""
        shapes = shapely.from_wkb(chunk.wkb)
        types = shapely.get_type_id(shapes)
        lines = types == shapely.GeometryType.MULTILINESTRING
        if lines.any():
            first = shapely.get_geometry(shapes[lines], 0)
            shapes[lines] = shapely.line_interpolate_point(first, 0.5, normalized=True)
        areas = np.isin(types, POLYGONS)
        if areas.any():
            shapes[areas] = shapely.point_on_surface(shapes[areas])
        x, y = shapely.get_x(shapes), shapely.get_y(shapes)  # NaN where there is none
        if self.target.unchanged:
            return x, y
        return self.target.from_wgs84(x, y)

    def _convert(self, xy: np.ndarray) -> np.ndarray:
        x, y = self.target.from_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    # ------------------------------------------------------------------ what the file says of itself

    def coordinate_columns(self) -> list[tuple[str, str, str, str, str]]:
        """The coordinate columns of the tables (CSV, XLSX) as dictionary rows, header first."""
        unit = "度 / degrees" if self.target.geographic else "米 / metres"
        names = (
            (("lon", "经度", "longitude"), ("lat", "纬度", "latitude"))
            if self.target.geographic
            else (("x", "东坐标", "easting"), ("y", "北坐标", "northing"))
        )
        where = (
            "区划取边界内一点 / a point inside the region's boundary"
            if self.layer == REGIONS
            else "管道取走向中点 / pipelines: halfway along the route"
        )
        rows = [
            (name, zh, en, "float", f"{self.target.label}, {unit}; {where}")
            for name, zh, en in names
        ]
        rows.append(("坐标系", "坐标系", "coordinate system", "str", self.target.note))
        return rows

    def dictionary(self, with_coordinates: bool = False) -> list[tuple[str, str, str, str, str]]:
        rows = dictionary_rows(self.layer)
        return rows + self.coordinate_columns() if with_coordinates else rows

    def summary(self, features: int, today: dt.date) -> list[tuple[str, str]]:
        title_zh, title_en = LAYER_TITLES[self.layer]
        return [
            ("图层 / layer", f"{title_zh} / {title_en} ({self.layer})"),
            ("区划 / region", f"{self.region_name} ({self.region_code})"),
            ("坐标系 / coordinate system", f"{self.target.label}: {self.target.note}"),
            ("筛选条件 / filters", describe_query(self.query) or "无 / none"),
            ("范围 / area", describe_area(self.area) or "辖区全部 / the whole jurisdiction"),
            ("导出日期 / exported on", today.isoformat()),
            ("要素数 / features", str(features)),
            ("数据来源 / source", "SEGIS 特种设备安全监察地理信息系统"),
            *self.notes,
        ]


def describe_query(query: Query) -> str:
    if isinstance(query, ChoroplethQuery):
        # Kind and region are shared by both layers; the accidents' time window has its own line.
        query = query.equipment
    parts = []
    for index, value in query.values:
        params = LAYER_FILTERS[query.layer][index].params
        if isinstance(value, tuple) and value and value[0] == "window":
            parts.append(f"window={value[1]}")
        elif isinstance(value, tuple) and value and value[0] == "dates":
            _, start, end = value
            parts += [f"{p}={d}" for p, d in (("from", start), ("to", end)) if d]
        elif isinstance(value, tuple):
            parts.append(f"{params[0]}={','.join(map(str, value))}")
        else:
            parts.append(f"{params[0]}={value}")
    return "; ".join(parts)


def describe_area(area: Area) -> str:
    parts = []
    if area.region:
        parts.append(f"region={area.region}")
    if area.bbox:
        box = area.bbox
        parts.append(f"bbox={box.west},{box.south},{box.east},{box.north}")
    if area.polygon is not None:
        parts.append(f"polygon ({area.polygon.num_coords} vertices, WGS84)")
    return "; ".join(parts)
