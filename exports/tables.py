"""The table formats: CSV (UTF-8 with a BOM, so Excel reads the Chinese) and XLSX (openpyxl,
write-only: rows stream to disk), each row with its point's coordinates in the chosen system.

Spreadsheets run formulas: a text cell starting with =, +, -, @ (or a tab or carriage return,
which Excel also strips before reading a formula) is neutralised with a leading single quote,
unless the text is a plain number. Numbers are written as numbers and never touched.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter

from common.spreadsheets import neutralise, neutralised
from exports.plan import Plan

TEXT_TYPES = ("str", "datetime")
SHEET_TITLE_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def _coordinate(value: float, geographic: bool) -> float | None:
    if not math.isfinite(value):
        return None
    return round(float(value), 7 if geographic else 3)


def _rows(plan: Plan, text: Callable[[list], list] = neutralised) -> Iterator[tuple[Any, ...]]:
    """Every row: the columns (text ones through `text`), then x, y (or lon, lat) and the
    coordinate system's label. Numbers and dates are never formulas: they go as they are."""
    geographic, label = plan.target.geographic, plan.target.label
    is_text = [column.type in TEXT_TYPES for column in plan.columns]
    for part in plan.parts:
        for chunk in plan.chunks(part):
            xs, ys = plan.points(chunk)
            columns = [
                text(values) if textual else values
                for values, textual in zip(chunk.values, is_text, strict=True)
            ]
            columns.append([_coordinate(x, geographic) for x in xs])
            columns.append([_coordinate(y, geographic) for y in ys])
            columns.append([label] * len(chunk))
            yield from zip(*columns, strict=True)


def _header(plan: Plan) -> list[str]:
    return [c.name_zh for c in plan.columns] + [row[0] for row in plan.coordinate_columns()]


def write_csv(plan: Plan, directory: Path) -> Path:
    path = directory / "export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_header(plan))
        writer.writerows(_rows(plan))  # None is written as an empty cell
    return path


def xlsx_value(value: Any) -> Any:
    """A cell value openpyxl can store: text without the control characters XML refuses."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _xlsx_text(values: list[str | None]) -> list[str | None]:
    return [xlsx_value(v) for v in neutralised(values)]


def _sheet(workbook: Workbook, title: str, directory: Path, files: list[str]):
    sheet = workbook.create_sheet(SHEET_TITLE_UNSAFE.sub("_", title)[:31])
    # openpyxl streams a write-only sheet to a file of its own in the system temporary folder,
    # left behind until the process ends if the export fails: put it in ours, which is removed.
    # openpyxl deletes it on save and expects to find it in its list of files to clean up.
    out = str(directory / f"sheet{len(workbook.worksheets)}.xml")
    files.append(out)
    ALL_TEMP_FILES.append(out)
    sheet._writer = WorksheetWriter(sheet, out=out)
    sheet._writer.write_top()
    return sheet


def write_xlsx(plan: Plan, directory: Path) -> Path:
    """The rows on the first sheet, the field dictionary and the export summary on the second."""
    workbook = Workbook(write_only=True)
    files: list[str] = []
    try:
        rows = _sheet(workbook, plan.title, directory, files)
        rows.freeze_panes = "A2"
        rows.append(_header(plan))
        for row in _rows(plan, _xlsx_text):
            rows.append(row)
        about = _sheet(workbook, "字段说明 fields", directory, files)
        about.append(["别名 alias", "字段 name", "英文 English", "类型 type", "说明 note"])
        for row in plan.dictionary(with_coordinates=True):
            about.append([xlsx_value(neutralise(v)) for v in row])
        about.append([])
        for item, value in plan.summary(plan.done, plan.lookups.today):
            about.append([item, xlsx_value(neutralise(value))])
        path = directory / "export.xlsx"
        workbook.save(path)
    finally:
        for out in files:
            if out in ALL_TEMP_FILES:
                ALL_TEMP_FILES.remove(out)
    return path


def write_dictionary_csv(path: Path, rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["别名 alias", "字段 name_zh", "英文 name_en", "类型 type", "说明 note"])
        writer.writerows(rows)


def write_summary_text(path: Path, items: list[tuple[str, str]]) -> None:
    lines = [f"{item}: {value}" for item, value in items]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
