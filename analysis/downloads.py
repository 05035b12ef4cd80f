"""A chart's numbers as a file: CSV (UTF-8 with a BOM, so Excel reads the Chinese) or XLSX.

The rows are what the desk's API answers for the same parameters (analysis/desk.py), unrounded
further; text cells are neutralised as every export's are (common.spreadsheets), so a region
or unit name cannot run as a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.utils.translation import gettext

from common.spreadsheets import neutralise

from .indicators import INDICATORS, Indicator

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TABLES = ("trend", "regions", "devices")


def trend_table(overview: dict[str, Any], indicator: Indicator) -> tuple[list[str], list[list]]:
    item = next(i for i in overview["indicators"] if i["key"] == indicator.key)
    header = [gettext("年份"), indicator.name, gettext("分子"), gettext("分母")]
    rows = [[p["year"], p["value"], p["numerator"], p["denominator"]] for p in item["trend"]]
    if indicator.current_only:  # read from the daily snapshots: which day, and how it was had
        header += [gettext("快照日"), gettext("推算")]
        for row, p in zip(rows, item["trend"], strict=True):
            row += [p["day"], gettext("是") if p["derived"] else None]
    return header, rows


def regions_table(answer: dict[str, Any]) -> tuple[list[str], list[list]]:
    header = [gettext("区划代码"), gettext("区划")] + [i.name for i in INDICATORS]
    rows = [
        [row["code"], row["name"], *(row["values"][i.key] for i in INDICATORS)]
        for row in [
            *answer["regions"],
            answer["totals"]
            | {"name": gettext("合计 %(area)s") % {"area": answer["totals"]["name"]}},
        ]
    ]
    return header, rows


def devices_table(answer: dict[str, Any]) -> tuple[list[str], list[list]]:
    statuses = answer["statuses"]
    header = (
        [gettext("种类代码"), gettext("种类")] + [s["label"] for s in statuses] + [gettext("合计")]
    )
    rows = [
        [row["kind"], row["name"], *(row[s["key"]] for s in statuses), row["total"]]
        for row in answer["kinds"]
    ]
    return header, rows


def as_csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(v) for v in row] for row in rows)  # None: an empty cell
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(title: str, header: list[str], rows: list[list]) -> bytes:
    from openpyxl import Workbook

    from exports.tables import SHEET_TITLE_UNSAFE, xlsx_value

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE_UNSAFE.sub("_", title)[:31]
    sheet.freeze_panes = "A2"
    for row in [header, *rows]:
        sheet.append([xlsx_value(neutralise(v)) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
