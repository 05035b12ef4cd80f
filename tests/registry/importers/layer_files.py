"""GIS files for the issue-17 tests: a layer in a given CRS or .prj, a GeoPackage with two layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from pyogrio import raw

from tests.registry.importers.conftest import NAMES, POINTS, zip_bytes

GCJ02_PRJ = (
    'GEOGCS["GCJ02",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["Degree",0.017453292519943295]]'
)
BEIJING54_PRJ = (
    'GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
ESRI_WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


def layer(path: Path, driver: str, *, crs="EPSG:4326", name="equipment", points=POINTS) -> Path:
    """A point layer of NAMES written by GDAL; a GeoPackage written to again gains a layer."""
    raw.write(
        str(path),
        geometry=shapely.to_wkb([shapely.Point(p) for p in points]),
        field_data=[np.array(NAMES, dtype=object), np.array([1, 2], dtype=np.int64)],
        fields=["name", "seq"] if name == "equipment" else ["名称", "序号"],
        driver=driver,
        geometry_type="Point",
        crs=crs,
        layer=name,
        append=path.exists(),
    )
    return path


def two_layer_geopackage(path: Path) -> Path:
    """Layers "equipment" (name, seq) and "boilers" (名称, 序号)."""
    layer(path, "GPKG")
    return layer(path, "GPKG", name="boilers")


def shapefile_with_prj(folder: Path, prj: str | None, *, crs="EPSG:4326", points=POINTS) -> bytes:
    """A zipped Shapefile whose .prj is `prj` (None: no .prj at all)."""
    folder.mkdir(parents=True, exist_ok=True)
    layer(folder / "equipment.shp", "ESRI Shapefile", crs=crs, points=points)
    if prj is not None:
        (folder / "equipment.prj").write_text(prj)
    else:
        (folder / "equipment.prj").unlink()
    parts = {p.name: p for p in folder.iterdir() if p.suffix in (".shp", ".shx", ".dbf", ".prj")}
    return zip_bytes(parts)
