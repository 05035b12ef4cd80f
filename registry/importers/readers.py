"""Readers: a stored upload as rows of column → value, with the geometry and the source row number.

CSV (csv module, the encoding intake detected) and XLSX (openpyxl, read-only) are parsed here, in
pure Python, from files intake has checked. GeoJSON, GeoPackage and Shapefile are read by GDAL
(pyogrio) in the bounded child process of sandbox.py, on the stored file's path only, and come
back as Arrow batches. Geometry is WKB with the coordinates as the file gives them (lon, lat for
geographic CRSs); the layer's CRS is reported, never passed to GDAL, and converting it is for
geo/crs.py once the user has declared or confirmed it.

Row numbers are what a user sees in their own tool: in CSV and XLSX the header is row 1 and the
first data row is row 2; in GIS layers the first feature is row 1.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import shapely

from .errors import refuse
from .intake import StoredUpload
from .sandbox import gdal_batches

# pyarrow loads with the first file read, not when Django starts.
if TYPE_CHECKING:
    pass

# Encodings a user may name for a Shapefile's .dbf when it has no .cpg (GDAL option values).
DBF_ENCODINGS = {"utf-8": "UTF-8", "gbk": "GBK", "cp936": "GBK", "gb18030": "GB18030"}
EXTRA = "_extra"  # cells beyond the header, kept as a list
GDAL_FORMATS = ("geojson", "gpkg", "shp")
EPSG = re.compile(r"EPSG:\d+")


@dataclass(frozen=True)
class SourceRow:
    """One row of a source file, before any mapping or validation."""

    number: int
    values: dict[str, Any]
    geometry: bytes | None = None  # WKB, coordinates as given

    @property
    def shape(self) -> shapely.Geometry | None:
        return None if self.geometry is None else shapely.from_wkb(self.geometry)


@dataclass
class RowReader:
    """Columns, CRS and rows of one upload; use as a context manager (a GDAL read is a process)."""

    upload: StoredUpload
    columns: list[str] = field(default_factory=list)
    crs: str | None = None  # "EPSG:4326" or "EPSG:4490" as the layer declares it; else None
    encoding: str | None = None
    layer: str | None = None
    layers: list[str] = field(default_factory=list)  # every layer of a GIS file
    sandboxed: bool = False  # the GDAL read ran with network sockets forbidden (seccomp)
    _rows: Iterator[SourceRow] | None = None
    _stream: Any = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def __iter__(self) -> Iterator[SourceRow]:
        return self._rows

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()


def open_rows(
    upload: StoredUpload, *, layer: str | None = None, encoding: str | None = None
) -> RowReader:
    """A reader of the upload's rows. `layer`: a sheet or layer name when the file has several;
    `encoding`: a Shapefile .dbf's encoding when it has no .cpg (utf-8, gbk, gb18030)."""
    reader = RowReader(upload)
    try:
        if upload.format == "csv":
            _open_csv(reader)
        elif upload.format == "xlsx":
            _open_xlsx(reader, layer)
        else:
            _open_gdal(reader, layer, encoding)
    except BaseException:
        reader.close()
        raise
    return reader


def _header(cells: list[Any] | tuple[Any, ...]) -> list[str]:
    """Header names: blanks become column_N, repeats get _2, _3 …: every key of a row is unique."""
    names: list[str] = []
    for position, cell in enumerate(cells, start=1):
        name = "" if cell is None else str(cell).strip()
        name = name or f"column_{position}"
        base, n = name, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def _values(columns: list[str], cells: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(columns, cells, strict=False))
    for name in columns[len(cells) :]:
        values[name] = None
    if len(cells) > len(columns):
        values[EXTRA] = list(cells[len(columns) :])
    return values


def _blank(cells: list[Any] | tuple[Any, ...]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# --------------------------------------------------------------------------- CSV


def _open_csv(reader: RowReader) -> None:
    upload = reader.upload
    # Closed with the reader: rows are read after this function returns.
    f = open(upload.path, encoding=upload.encoding, newline="")  # noqa: SIM115
    reader._stack.enter_context(f)
    rows = csv.reader(f, delimiter=upload.delimiter or ",")
    reader.encoding = upload.encoding
    try:
        reader.columns = _header(next(rows, []))
    except csv.Error as error:
        refuse("file", "csv.syntax", f"第 1 行无法解析 / Row 1 cannot be parsed: {error}")
    reader._rows = _csv_rows(rows, reader.columns)


def _csv_rows(rows, columns: list[str]) -> Iterator[SourceRow]:
    number = 1
    try:
        for cells in rows:
            number += 1
            if not _blank(cells):
                yield SourceRow(number, _values(columns, cells))
    except csv.Error as error:
        refuse("file", "csv.syntax", f"第 {number + 1} 行无法解析 / Row {number + 1} cannot be "
               f"parsed: {error}")  # fmt: skip


# --------------------------------------------------------------------------- XLSX


def _open_xlsx(reader: RowReader, sheet: str | None) -> None:
    import openpyxl
    from django.core.exceptions import ImproperlyConfigured

    if not openpyxl.DEFUSEDXML:
        # OPENPYXL_DEFUSEDXML=False would have it parse with the standard library's XML parsers.
        raise ImproperlyConfigured("openpyxl must parse with defusedxml (OPENPYXL_DEFUSEDXML)")
    try:
        workbook = openpyxl.load_workbook(reader.upload.path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises whatever its parsers raise on a damaged part
        _refuse_workbook(reader.upload, error)
    reader._stack.callback(workbook.close)
    if sheet is None:
        names = workbook.sheetnames
        if len(names) != 1:
            refuse("layer", "layer", f"工作簿有多个工作表，请选择一个 / The workbook holds several "
                   f"sheets, choose one: {', '.join(names)}")  # fmt: skip
        sheet = names[0]
    elif sheet not in workbook.sheetnames:
        refuse("layer", "layer", f"没有工作表 “{sheet}” / No sheet “{sheet}”")
    reader.layer = sheet
    worksheet = workbook[sheet]
    # Read-only sheets are parsed as their rows are asked for: a bad part may show itself late.
    try:
        rows = worksheet.iter_rows(values_only=True)
        first = worksheet.min_row or 1
        reader.columns = _header(next(rows, ()))
    except Exception as error:
        _refuse_workbook(reader.upload, error)
    reader._rows = _xlsx_rows(reader.upload, rows, reader.columns, first)


def _xlsx_rows(upload: StoredUpload, rows, columns: list[str], first: int) -> Iterator[SourceRow]:
    try:
        for number, cells in enumerate(rows, start=first + 1):
            # Sheets often carry formatted but empty cells to the right: trim them.
            cells = list(cells)
            while len(cells) > len(columns) and cells[-1] is None:
                cells.pop()
            if not _blank(cells):
                yield SourceRow(number, _values(columns, cells))
    except Exception as error:
        _refuse_workbook(upload, error)


def _refuse_workbook(upload: StoredUpload, error: Exception) -> NoReturn:
    """openpyxl parses with defusedxml (it uses it when installed): a DTD or entity it met is
    named as such; anything else is a damaged workbook, told without the server's paths."""
    from defusedxml import DefusedXmlException

    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, DefusedXmlException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        refuse("file", "xlsx.dtd", "工作簿含 DTD 或实体声明，未读取 / The workbook holds a DTD or "
               "entity declaration: not read", "用 Excel 或 WPS 另存为新的 XLSX / Save it as a new "
               "XLSX from Excel or WPS")  # fmt: skip
    message = str(error).replace(str(upload.path), upload.original_name)
    message = message.replace(str(upload.directory), "")
    refuse("file", "xlsx.damaged", f"工作簿无法读取 / The workbook cannot be read: {message}")


# --------------------------------------------------------------------------- GDAL formats


def _open_gdal(reader: RowReader, layer: str | None, encoding: str | None) -> None:
    upload = reader.upload
    gdal_encoding = None
    if encoding is not None:
        if upload.format != "shp" or encoding.lower() not in DBF_ENCODINGS:
            refuse("encoding", "encoding", "只能为无 .cpg 的 Shapefile 指定编码：utf-8、gbk 或 "
                   "gb18030 / An encoding may only be given for a Shapefile without .cpg: utf-8, "
                   "gbk or gb18030")  # fmt: skip
        gdal_encoding = DBF_ENCODINGS[encoding.lower()]
    stream = reader._stack.enter_context(
        gdal_batches(upload.path, upload.format, layer=layer, encoding=gdal_encoding)
    )
    reader._stream = stream
    meta = {k.decode(): v.decode() for k, v in (stream.schema.metadata or {}).items()}
    geometry = meta.get("segis.geometry") or None
    reader.columns = [name for name in stream.schema.names if name != geometry]
    reader.crs = layer_crs(meta.get("segis.crs") or None)
    reader.encoding = gdal_encoding or upload.encoding or meta.get("segis.encoding") or None
    reader.layer = meta.get("segis.layer") or None
    reader.layers = json.loads(meta.get("segis.layers") or "[]")
    reader.sandboxed = meta.get("segis.sandboxed") == "1"
    if reader.layer is None:
        # Several layers, none chosen: every layer's columns for the mapping form, no rows.
        reader.columns = json.loads(meta.get("segis.columns") or "[]")
        reader._rows = _layer_not_chosen(reader.layers)
    else:
        reader._rows = _gdal_rows(stream, reader.columns, geometry)


def _layer_not_chosen(layers: list[str]) -> Iterator[SourceRow]:
    names = ", ".join(layers)
    refuse("layer", "layer", f"文件有多个图层，请选择一个 / The file holds several layers, choose "
           f"one: {names}", names)  # fmt: skip
    yield  # a generator: the refusal comes with the first row asked for, not at open


# --------------------------------------------------------------------------- the layer's CRS

# Read as they are: the two systems SEGIS stores without a shift (geo/crs.py), and their 3D forms
# (GDAL reports a GeoJSON with heights as EPSG:4979); heights are kept as given.
LAYER_CRSS = {
    "EPSG:4326": "EPSG:4326", "OGC:CRS84": "EPSG:4326", "EPSG:4979": "EPSG:4326",
    "OGC:CRS84h": "EPSG:4326", "EPSG:4490": "EPSG:4490", "EPSG:4480": "EPSG:4490",
}  # fmt: skip
WEB_MERCATOR_CODES = {"EPSG:3857", "EPSG:900913", "EPSG:3785", "EPSG:102100", "EPSG:102113",
                      "ESRI:102100", "ESRI:102113"}  # fmt: skip
WEB_MERCATOR_NAMES = re.compile(r"web.?mercator|pseudo.?mercator|mercator.auxiliary.sphere", re.I)
# Offset systems have no code; a definition that names one is theirs, whatever its datum says.
OFFSET_NAMES = re.compile(r"gcj|\bmars\b|火星|bd.?09|baidu|百度", re.I)
CRS_SUGGESTION = (
    "在 GIS 软件中另存为 WGS84（EPSG:4326）或 CGCS2000（EPSG:4490）经纬度 / Save the layer in "
    "WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490) longitude/latitude from your GIS"
)


def layer_crs(declared: str | None) -> str | None:
    """The layer's CRS as an accepted EPSG code, or None when the file declares none (the user
    then says which). Anything else is refused by name: Web Mercator metres, an offset system
    (GCJ-02, BD-09) and every other datum or projection would otherwise be read as WGS84."""
    if not declared:
        return None
    if declared in LAYER_CRSS:
        return LAYER_CRSS[declared]
    name = _crs_name(declared)
    if OFFSET_NAMES.search(declared if EPSG.fullmatch(declared) else name + declared):
        refuse("file", "crs.offset", f"图层坐标系 “{name}” 是加偏坐标（GCJ-02/BD-09），不能按 "
               f"WGS84 读取 / The layer's coordinate system “{name}” is an offset system "
               "(GCJ-02/BD-09) and cannot be read as WGS84",
               "删除 .prj（或另存为无坐标系的文件）后上传，并把源坐标系选为 gcj02 或 bd09 / Remove "
               "the .prj (or save without a CRS), upload again and choose gcj02 or bd09 as the "
               "source CRS")  # fmt: skip
    if declared.upper() in WEB_MERCATOR_CODES or WEB_MERCATOR_NAMES.search(name):
        refuse("file", "crs.web_mercator", f"图层坐标系为 Web 墨卡托（{name}，单位米），不是经纬度 "
               f"/ The layer is in Web Mercator ({name}, metres), not longitude/latitude",
               CRS_SUGGESTION)  # fmt: skip
    refuse("file", "crs.unsupported", f"图层坐标系 “{name}” 不受支持，只接受 WGS84 或 CGCS2000 "
           f"经纬度 / The layer's coordinate system “{name}” is not supported: only WGS84 or "
           "CGCS2000 longitude/latitude are", CRS_SUGGESTION)  # fmt: skip


def _crs_name(declared: str) -> str:
    """A definition's name for messages: "EPSG:4214 Beijing 1954", or the WKT's own name."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        name = CRS.from_user_input(declared).name
    except CRSError:
        name = ""
    if EPSG.fullmatch(declared) or declared.startswith("ESRI:"):
        return f"{declared} {name}".strip()
    return (name or declared)[:80]


def _gdal_rows(stream, columns: list[str], geometry: str | None) -> Iterator[SourceRow]:
    import pyarrow as pa

    number = 0
    for batch in stream:
        table = pa.Table.from_batches([batch])
        values = [table.column(name).to_pylist() for name in columns]
        shapes = table.column(geometry).to_pylist() if geometry else [None] * table.num_rows
        for i in range(table.num_rows):
            number += 1
            yield SourceRow(
                number, {c: v[i] for c, v in zip(columns, values, strict=True)}, shapes[i]
            )
