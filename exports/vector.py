"""The GDAL formats: GeoPackage, Shapefile (zipped), GeoJSON and KML, written by pyogrio.

Rows reach GDAL as a stream of Arrow record batches (`pyogrio.write_arrow`), one chunk at a time:
memory stays bounded whatever the size of the layer, and every driver gets one uninterrupted
write (GeoJSON with RFC7946=YES and KML cannot be appended to chunk by chunk). GDAL sees only paths
inside the export's own temporary directory, driver names and EPSG integers fixed in this package.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
from pyogrio import raw

from exports.plan import Part, Plan
from exports.tables import write_dictionary_csv, write_summary_text
from layers.fields import PLACEMARK_NAMES

GEOMETRY = "geometry"
WKB_FIELD = pa.field(GEOMETRY, pa.binary(), metadata={"ARROW:extension:name": "geoarrow.wkb"})
# GeoPackage 1.2, as GDAL 3.6 itself writes: pyogrio's GDAL 3.12 writes 1.4 by default, and GDAL
# 3.6 and QGIS 3.22 warn on opening every 1.4 file. Nothing written here needs 1.4 (points, lines,
# polygons, attribute tables, the R-tree extension, EPSG systems); a feature that does would
# have to raise this, and say why.
GPKG_VERSION = "1.2"
DBF_MAX_BYTES = 254  # a DBF character field holds at most 254 bytes
ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "date": pa.date32(),
    "datetime": pa.string(),  # ISO 8601 with the offset: DBF and KML have no time zones
}


def _truncate(value: str | None) -> str | None:
    """At most DBF_MAX_BYTES of UTF-8, never cutting a character in two."""
    if value is None:
        return None
    data = value.encode()
    if len(data) <= DBF_MAX_BYTES:
        return value
    return data[:DBF_MAX_BYTES].decode(errors="ignore")


def _truncated(array: pa.Array) -> pa.Array:
    # Measured in Arrow: text that long is rare, and only it goes through Python.
    if not pc.any(pc.greater(pc.binary_length(array), DBF_MAX_BYTES)).as_py():
        return array
    return pa.array([_truncate(v) for v in array.to_pylist()], type=pa.string())


def _schema(plan: Plan, *, aliases: bool, dates_as_text: bool) -> pa.Schema:
    fields = []
    for column in plan.columns:
        kind = "str" if dates_as_text and column.type == "date" else column.type
        fields.append(pa.field(column.alias if aliases else column.name_zh, ARROW_TYPES[kind]))
    return pa.schema([*fields, WKB_FIELD])


class _Stream:
    """The plan's rows of one part as Arrow batches. An exception raised while producing them
    (a database error, a KeyboardInterrupt) reaches GDAL as a bare stream error: it is kept here
    and raised again in place of GDAL's."""

    def __init__(self, plan: Plan, part: Part, schema: pa.Schema, *, dbf: bool):
        self.plan, self.part, self.schema, self.dbf = plan, part, schema, dbf
        self.error: BaseException | None = None

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self):
        try:
            for chunk in self.plan.chunks(self.part):
                yield self._batch(chunk)
        except BaseException as error:
            self.error = error
            raise

    def _batch(self, chunk) -> pa.RecordBatch:
        arrays = []
        for values, column, arrow_field in zip(chunk.values, self.plan.columns, self.schema,
                                               strict=False):  # fmt: skip
            # Dates as text (KML) cast to ISO 8601, as str() writes them.
            array = pa.array(values, type=ARROW_TYPES[column.type]).cast(arrow_field.type)
            if self.dbf and arrow_field.type == pa.string():
                array = _truncated(array)
            arrays.append(array)
        arrays.append(pa.array(self.plan.moved_wkb(chunk), type=pa.binary()))
        return pa.record_batch(arrays, schema=self.schema)


def _write(plan: Plan, part: Part, path: Path, driver: str, *, aliases=False, dates_as_text=False,
           **options) -> None:  # fmt: skip
    schema = _schema(plan, aliases=aliases, dates_as_text=dates_as_text)
    stream = _Stream(plan, part, schema, dbf=driver == "ESRI Shapefile")
    try:
        pyogrio.write_arrow(
            stream.reader(),
            str(path),
            layer=part.name,
            driver=driver,
            geometry_name=GEOMETRY,
            geometry_type=part.geometry_type,
            crs=f"EPSG:{int(plan.target.srid)}",
            **options,
        )
    except Exception:
        if stream.error is not None:
            raise stream.error from None
        raise


def _table(path: Path, layer: str, names: list[str], rows: list[tuple]) -> None:
    """A table without geometry in a GeoPackage."""
    columns = list(zip(*rows, strict=True))
    raw.write(
        str(path),
        geometry=None,
        field_data=[np.array(column, dtype=object) for column in columns],
        fields=names,
        layer=layer,
        driver="GPKG",
        geometry_type=None,
    )


def write_gpkg(plan: Plan, directory: Path) -> Path:
    """One layer per geometry type, the field dictionary and the export summary as tables."""
    path = directory / "export.gpkg"
    for number, part in enumerate(plan.parts):
        suffix = " 管道" if part.geometry_type == "MultiLineString" else ""
        _write(
            plan,
            part,
            path,
            "GPKG",
            # The first part creates the file: its version is set then.
            dataset_options={"VERSION": GPKG_VERSION} if number == 0 else None,
            layer_options={
                "IDENTIFIER": plan.title + suffix,
                "DESCRIPTION": f"{plan.target.label}: {plan.target.note}",
            },
        )
    _table(
        path,
        "field_dictionary",
        ["别名 alias", "字段 name_zh", "英文 name_en", "类型 type", "说明 note"],
        plan.dictionary(),
    )
    _table(
        path,
        "export_summary",
        ["项目 item", "内容 value"],
        plan.summary(plan.done, plan.lookups.today),
    )
    return path


def write_shapefile(plan: Plan, directory: Path) -> Path:
    """A zip of one Shapefile per geometry type (.shp .shx .dbf .prj .cpg, ASCII field aliases),
    fields.csv (alias → Chinese and English names) and README.txt (what was exported)."""
    folder = directory / "shp"
    folder.mkdir()
    for part in plan.parts:
        _write(plan, part, folder / f"{part.name}.shp", "ESRI Shapefile", aliases=True,
               encoding="UTF-8")  # fmt: skip
    write_dictionary_csv(folder / "fields.csv", plan.dictionary())
    write_summary_text(folder / "README.txt", plan.summary(plan.done, plan.lookups.today))
    path = directory / "export.zip"
    # The fastest level: twice as fast as the default on DBF files, and 15 % larger.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)
    return path


def write_geojson(plan: Plan, directory: Path) -> Path:
    """RFC 7946: WGS84 lon/lat, 7 decimals (about 1 cm)."""
    path = directory / "export.geojson"
    (part,) = plan.parts
    _write(plan, part, path, "GeoJSON", layer_options={"RFC7946": "YES"})
    return path


def write_kml(plan: Plan, directory: Path) -> Path:
    """KML 2.2 (always WGS84); each placemark is named after the layer's naming column."""
    path = directory / "export.kml"
    (part,) = plan.parts
    _write(plan, part, path, "KML", dates_as_text=True,
           dataset_options={"NameField": PLACEMARK_NAMES[plan.layer]})  # fmt: skip
    return path
