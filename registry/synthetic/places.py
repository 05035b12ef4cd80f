"""Random points inside real county boundaries, concentrated where people live."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry


@dataclass
class County:
    code: str
    name: str
    city_code: str
    boundary: BaseGeometry
    urban: bool  # a city district (区): where elevators are
    # Where people cluster: for a city district, the point of it nearest the city's core.
    core: tuple[float, float] | None = None

    @property
    def centre(self) -> tuple[float, float]:
        if self.core is not None:
            return self.core
        point = self.boundary.point_on_surface()
        return point.x, point.y


def place_city_cores(counties: list[County]) -> None:
    """Pull each city district's centre towards the middle of its city's districts.

    A district's own middle can lie in farmland (兴庆区 stretches east to the Yellow River); the
    built-up area is where the city's districts meet. The core is the mean of the districts'
    surface points; a district's centre is its point nearest that core (the core itself if inside).
    """
    by_city: dict[str, list[County]] = {}
    for county in counties:
        if county.urban:
            by_city.setdefault(county.city_code, []).append(county)
    for districts in by_city.values():
        if len(districts) < 2:
            continue
        points = [d.boundary.point_on_surface() for d in districts]
        core = shapely.Point(np.mean([p.x for p in points]), np.mean([p.y for p in points]))
        for district in districts:
            nearest = shapely.ops.nearest_points(district.boundary, core)[0]
            # Step a little inside, so the Gaussian around it is not half outside the district.
            inward = (
                shapely.ops.nearest_points(district.boundary.buffer(-0.01), core)[0]
                if not district.boundary.contains(core)
                else nearest
            )
            district.core = (inward.x, inward.y) if not inward.is_empty else (nearest.x, nearest.y)


def sample_points(
    rng: np.random.Generator, county: County, count: int, *, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """`count` points inside the county, Gaussian around its centre; `spread` is a share of the county's size.

    Rejection sampling, vectorised; falls back to uniform over the bounding box for awkward shapes.
    """
    minx, miny, maxx, maxy = county.boundary.bounds
    cx, cy = county.centre
    sigma_x, sigma_y = (maxx - minx) * spread, (maxy - miny) * spread
    shapely.prepare(county.boundary)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    need = count
    for attempt in range(50):
        batch = max(need * 2, 16)
        if attempt < 25:
            x = rng.normal(cx, sigma_x, batch)
            y = rng.normal(cy, sigma_y, batch)
        else:
            x = rng.uniform(minx, maxx, batch)
            y = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(county.boundary, x, y)
        xs.append(x[inside][:need])
        ys.append(y[inside][:need])
        need -= int(min(inside.sum(), need))
        if need == 0:
            break
    if need:
        xs.append(np.full(need, cx))
        ys.append(np.full(need, cy))
    return np.concatenate(xs), np.concatenate(ys)


def jitter_inside(
    rng: np.random.Generator, county: County, x: np.ndarray, y: np.ndarray, metres: float
) -> tuple[np.ndarray, np.ndarray]:
    """Move points by up to a few hundred metres (the buildings of one site), keeping them in the county."""
    degrees = metres / 111_000
    jx = x + rng.normal(0, degrees / np.cos(np.radians(y)), x.size)
    jy = y + rng.normal(0, degrees, y.size)
    inside = shapely.contains_xy(county.boundary, jx, jy)
    return np.where(inside, jx, x), np.where(inside, jy, y)
