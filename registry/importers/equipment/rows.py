"""Equipment rows checked in Python: cells parsed column by column, then the per-row rules."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

import numpy as np
import pyarrow as pa
import shapely

from geo import crs

from ... import catalogue
from ...intervals import RuleBook
from ...models import EquipmentStatus
from ...models.equipment import PIPELINE_KIND
from ...placement import check_coordinates
from ...services import rules
from ...services.equipment import check_identifiers
from ...validators import (
    ERROR,
    Finding,
    check_credit_code,
    check_division_code,
    normalise_certificate_number,
)
from .. import cells
from ..pipeline import ImportRequest, RowFinding
from ..readers import SourceRow
from .staging import STAGED, report_column

PARSERS = {
    "device_code": cells.code,
    "registration_code": cells.code,
    "certificate_number": cells.text,
    "rescue_id": cells.code,
    "variety": cells.code,
    "status": cells.text,
    "division_code": cells.code,
    "use_unit_credit_code": cells.code,
    "maintenance_unit_credit_code": cells.code,
    "use_unit_name": cells.text,
    "maintenance_unit_name": cells.text,
    "address": cells.text,
    "commissioned_on": cells.date,
    "manufactured_on": cells.date,
    "next_inspection_due": cells.date,
    "lon": cells.number,
    "lat": cells.number,
}
STATUS_WORDS = {
    "在用": EquipmentStatus.IN_USE,
    "使用": EquipmentStatus.IN_USE,
    "正常": EquipmentStatus.IN_USE,
    "停用": EquipmentStatus.SUSPENDED,
    "停止使用": EquipmentStatus.SUSPENDED,
    "注销": EquipmentStatus.CANCELLED,
    "已注销": EquipmentStatus.CANCELLED,
    "报废": EquipmentStatus.SCRAPPED,
    "已报废": EquipmentStatus.SCRAPPED,
    **{status.value: status for status in EquipmentStatus},
}

# Staged columns: (name, SQL type). Order is the COPY order.


# --- per row, in Python ------------------------------------------------------------------------


class RowChecker:
    """Cells to staged values, with a report line for everything wrong in them."""

    def __init__(self, request: ImportRequest, findings: list[RowFinding]):
        self.mapping = {name: column for name, column in request.mapping.items() if column}
        self.source_crs = request.source_crs
        self.findings = findings
        self.count = 0
        self.first_row_of: dict[tuple[str, str], int] = {}
        self.today = dt.date.today()
        # Read once per import, so an edit to the rule table applies from the next file on.
        self.rule_book = RuleBook.from_database()
        self.current: dict = {}

    def column(self, element: str) -> str:
        return report_column(self.mapping, element)

    def report(self, row: int, element: str, value, finding: Finding) -> None:
        text = "" if value is None else str(value)
        self.findings.append(
            RowFinding(
                row,
                self.column(element),
                text[:200],
                finding.rule,
                finding.severity,
                finding.message,
                finding.suggestion,
            )
        )

    def check(self, batch: list[SourceRow]) -> pa.Table:
        self.count += len(batch)
        # Column by column first: one call per cell, and the slow path only for cells that fail.
        parsed = {
            element: self.parse_column(batch, element, parse) for element, parse in PARSERS.items()
        }
        columns: dict[str, list] = {name: [] for name, _ in STAGED if name != "location"}
        lon = np.full(len(batch), np.nan)
        lat = np.full(len(batch), np.nan)
        for index, row in enumerate(batch):
            self.current = {element: values[index] for element, values in parsed.items()}
            staged = self.row(row)
            for name, value in staged.items():
                columns[name].append(value)
            lon[index], lat[index] = self.coordinates(row)
        table = {name: columns[name] for name, _ in STAGED[:8]}
        table["location"] = self.locations(batch, lon, lat)
        for name, _ in STAGED[9:]:
            table[name] = columns[name]
        return pa.table(table)

    def parse_column(self, batch: list[SourceRow], element: str, parse) -> list:
        column = self.mapping.get(element)
        if column is None:
            return [None] * len(batch)
        raw = [row.values.get(column) for row in batch]
        try:
            return list(map(parse, raw))
        except cells.CellError:
            pass
        values = []
        for row, value in zip(batch, raw, strict=True):
            try:
                values.append(parse(value))
            except cells.CellError as error:
                self.report(
                    row.number,
                    element,
                    value,
                    Finding(element, error.rule, error.message, ERROR, error.suggestion),
                )
                values.append(None)
        return values

    def row(self, row: SourceRow) -> dict:
        number = row.number
        cell = self.current
        device_code = cell["device_code"] or ""
        registration_code = cell["registration_code"] or ""
        certificate = cell["certificate_number"] or ""
        if certificate:
            certificate = normalise_certificate_number(certificate)
        rescue_id = cell["rescue_id"] or ""
        requested = cell["variety"] or ""
        variety, kind, variety_findings = _variety(requested)
        for finding in variety_findings:
            self.report(number, "variety", requested, finding)
        if variety:
            identifiers = {
                "device_code": device_code,
                "registration_code": registration_code,
                "certificate_number": certificate,
                "rescue_id": rescue_id,
            }
            for finding in check_identifiers(variety, requested, *identifiers.values()):
                self.report(number, finding.field, identifiers.get(finding.field, ""), finding)
        for element, value in (
            ("device_code", device_code),
            ("registration_code", registration_code),
            ("certificate_number", certificate),
        ):
            if value:
                first = self.first_row_of.setdefault((element, value), number)
                if first != number:
                    self.report(
                        number,
                        element,
                        value,
                        Finding(
                            element,
                            f"{element}.duplicate_in_file",
                            f"与第 {first} 行重复 / the same code as row {first}",
                            ERROR,
                            f"删除重复行或核对代码 / remove one of rows {first} and {number}",
                        ),
                    )
        status_text = cell["status"] or ""
        status = STATUS_WORDS.get(status_text.lower() if status_text.isascii() else status_text)
        if status_text and status is None:
            self.report(
                number,
                "status",
                status_text,
                Finding(
                    "status",
                    "status.unknown",
                    f"未知的设备状态 {status_text!r} / unknown status",
                    ERROR,
                    "在用 / 停用 / 注销 / 报废",
                ),
            )
        declared = cell["division_code"] or ""
        for finding in _division_findings(declared):
            self.report(number, "division_code", declared, finding)
        unit_codes = {}
        for role in ("use_unit", "maintenance_unit"):
            credit = cell[f"{role}_credit_code"] or ""
            for finding in _credit_findings(credit):
                self.report(number, f"{role}_credit_code", credit, finding)
            unit_codes[role] = credit
        use_unit_name = cell["use_unit_name"] or ""
        if not use_unit_name and not unit_codes["use_unit"]:
            self.report(
                number,
                "use_unit_name",
                "",
                Finding(
                    "use_unit_name",
                    "use_unit.required",
                    "缺少使用单位 / the use unit is missing",
                    ERROR,
                ),
            )
        commissioned_on = cell["commissioned_on"]
        manufactured_on = cell["manufactured_on"]
        next_due = cell["next_inspection_due"]
        for element, value in (
            ("commissioned_on", commissioned_on),
            ("manufactured_on", manufactured_on),
        ):
            if value is not None and value > self.today:
                self.report(
                    number,
                    element,
                    value,
                    Finding(
                        element, "date.future", "日期在未来 / the date is in the future", ERROR
                    ),
                )
        return {
            "row": number,
            "device_code": device_code,
            "registration_code": registration_code,
            "certificate_number": certificate,
            "rescue_id": rescue_id,
            "variety_id": variety or None,
            "kind": kind or None,
            "status": status or "",
            "address": cell["address"] or "",
            "declared_region_code": declared,
            "use_unit_credit_code": unit_codes["use_unit"],
            "use_unit_name": use_unit_name,
            "maintenance_unit_credit_code": unit_codes["maintenance_unit"],
            "maintenance_unit_name": cell["maintenance_unit_name"] or "",
            "manufactured_on": manufactured_on,
            "commissioned_on": commissioned_on,
            "next_inspection_due": next_due,
            # What the row's registration writes if it is new (register_equipment's rules).
            "registration_due": (
                rules.due_on_registration(self.rule_book, variety, {}, commissioned_on, next_due)
                if variety
                else None
            ),
            "registered_on": rules.registration_date(None, commissioned_on, self.today),
            "registration_details": json.dumps(rules.registration_details(certificate)),
        }

    def coordinates(self, row: SourceRow) -> tuple[float, float]:
        if "lon" in self.mapping:
            lon, lat = self.current["lon"], self.current["lat"]
            return (np.nan, np.nan) if lon is None or lat is None else (lon, lat)
        if row.geometry is None:
            return np.nan, np.nan
        shape = row.shape
        if shape.is_empty:
            return np.nan, np.nan
        if shape.geom_type != "Point":
            self.report(
                row.number,
                "lon",
                shape.geom_type,
                Finding(
                    "location",
                    "geometry.kind",
                    f"设备位置应为点，文件中为 {shape.geom_type} / a device's location is a point",
                    ERROR,
                ),
            )
            return np.nan, np.nan
        return shape.x, shape.y

    def locations(self, batch: list[SourceRow], lon: np.ndarray, lat: np.ndarray) -> pa.Array:
        """Hex EWKB points in storage coordinates; a report line for each out-of-place point."""
        given = ~(np.isnan(lon) | np.isnan(lat))
        checked = self.source_crs in (crs.CRS.WGS84, crs.CRS.CGCS2000, crs.CRS.GCJ02, crs.CRS.BD09)
        if checked:
            wrong = given & ~crs.in_china_bbox(lon, lat)
            for index in np.flatnonzero(wrong):
                for finding in check_coordinates(float(lon[index]), float(lat[index]), "location"):
                    self.report(batch[index].number, "lon", f"{lon[index]}, {lat[index]}", finding)
            given &= ~wrong
        x, y = crs.to_wgs84(lon[given], lat[given], self.source_crs)
        hex_points = np.full(len(batch), None, dtype=object)
        points = shapely.set_srid(shapely.points(x, y), crs.STORAGE_SRID)
        hex_points[given] = shapely.to_wkb(points, hex=True, include_srid=True)
        return pa.array(hex_points, type=pa.string())


@lru_cache(maxsize=4096)
def _variety(code: str) -> tuple[str, str, tuple[Finding, ...]]:
    """A catalogue code as (registrable variety, its kind, findings); retired codes map with a warning."""
    if not code:
        return (
            "",
            "",
            (Finding("variety", "variety.required", "缺少设备品种代码 / variety missing", ERROR),),
        )
    try:
        entry, finding = catalogue.resolve(code)
    except catalogue.UnknownCode as error:
        return "", "", (error.finding,)
    findings = (finding,) if finding else ()
    if not entry.registrable or not catalogue.is_leaf(entry.code):
        return (
            "",
            "",
            (
                *findings,
                Finding(
                    "variety",
                    "variety.not_registrable",
                    f"{entry.code} 不是可登记的设备品种 / not a use-registered variety "
                    "(give the most specific code)",
                    ERROR,
                ),
            ),
        )
    kind = catalogue.kind_of(entry.code)
    if kind == PIPELINE_KIND:
        return (
            "",
            "",
            (
                *findings,
                Finding(
                    "variety",
                    "variety.pipeline",
                    "压力管道以管线导入（GIS 线图层）/ pipelines are lines: import them from a GIS layer",
                    ERROR,
                ),
            ),
        )
    return entry.code, kind, findings


@lru_cache(maxsize=4096)
def _division_findings(code: str) -> tuple[Finding, ...]:
    return tuple(check_division_code(code)) if code else ()


@lru_cache(maxsize=65536)
def _credit_findings(code: str) -> tuple[Finding, ...]:
    return tuple(check_credit_code(code)) if code else ()
