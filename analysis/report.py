"""The annual statistical report (年度统计报表) of an area and a year: the desk's own answers
(analysis/desk.py: the overview with trends, the child regions, devices by kind and status, the
indicators' definitions) gathered once, written as a formatted XLSX (one sheet per table) or
rendered as the printable page (templates/analysis/report.html).

The year's accidents (analysis/accidents.py's breakdowns) and the evaluation of the agencies
(analysis/evaluation.py's league under the scheme in force) are two more tables.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from common.i18n import in_language
from common.spreadsheets import neutralise

from . import accidents, desk, evaluation
from .desk import Area
from .indicators import COUNT, INDICATORS, PERCENT

TITLE = gettext_lazy("年度统计报表")


def annual(user: User, area: Area, year: int, today: dt.date) -> dict[str, Any]:
    """Every table of the report: one computation of the child regions over the trend's years
    serves the overview and the regions table, as on the desk's page."""
    figures = desk.area_figures(area, desk.span_of(year, desk.DEFAULT_YEARS), today)
    overview = desk.overview(user, area, year, desk.DEFAULT_YEARS, today, figures)
    return {
        "title": TITLE,
        "area": area.as_dict(),
        "year": year,
        "as_of": today.isoformat(),
        "overview": overview,
        "regions": desk.regions(user, area, year, today, figures),
        "devices": desk.devices_by_kind(area),
        "accidents": accidents.summary(user, area, year, 1, {}, today),
        # The desk's child regions' figures serve the evaluation too (counted once).
        "evaluation": evaluation.league(user, area, year, today, figures),
        "definitions": [desk.definition(i) for i in INDICATORS],
    }


# ------------------------------------------------------------------------------- tables


def overview_table(report: dict) -> tuple[list[str], list[list]]:
    overview = report["overview"]
    parent = overview["parent"]["name"] if overview["parent"] else gettext("上级")
    header = [
        gettext("指标"),
        gettext("单位"),
        f"{report['year']}",
        gettext("分子"),
        gettext("分母"),
        f"上年 / {report['year'] - 1}",
        gettext("同比"),
        parent,
        gettext("全国"),
    ]
    rows = []
    for item in overview["indicators"]:
        before = item["trend"][-2]["value"] if len(item["trend"]) >= 2 else None
        change = (
            item["value"] - before if item["value"] is not None and before is not None else None
        )
        rows.append(
            [
                in_language(item["name_zh"], item["name_en"]),
                item["unit"],
                item["value"],
                item["numerator"],
                item["denominator"],
                before,
                change,
                item["parent"],
                item["national"],
            ]
        )
    return header, rows


def trend_table(report: dict) -> tuple[list[str], list[list]]:
    items = [i for i in report["overview"]["indicators"] if i["trend"]]
    years = [p["year"] for p in items[0]["trend"]] if items else []
    header = [gettext("指标"), gettext("单位"), *(str(y) for y in years)]
    rows = [
        [in_language(i["name_zh"], i["name_en"]), i["unit"], *(p["value"] for p in i["trend"])]
        for i in items
    ]
    return header, rows


def regions_table(report: dict) -> tuple[list[str], list[list]]:
    answer = report["regions"]
    header = [gettext("区划代码"), gettext("区划"), *(i.name for i in INDICATORS)]
    rows = [
        [row["code"], row["name"], *(row["values"][i.key] for i in INDICATORS)]
        for row in answer["regions"]
    ]
    totals = answer["totals"]
    rows.append(
        [
            totals["code"],
            gettext("合计 %(area)s") % {"area": totals["name"]},
            *(totals["values"][i.key] for i in INDICATORS),
        ]
    )
    return header, rows


def devices_table(report: dict) -> tuple[list[str], list[list]]:
    answer = report["devices"]
    statuses = answer["statuses"]
    header = [
        gettext("种类代码"),
        gettext("种类"),
        *(s["label"] for s in statuses),
        gettext("合计"),
    ]
    rows = [
        [row["kind"], row["name"], *(row[s["key"]] for s in statuses), row["total"]]
        for row in answer["kinds"]
    ]
    rows.append(
        [
            "",
            gettext("合计"),
            *(sum(row[s["key"]] for row in answer["kinds"]) for s in statuses),
            sum(row["total"] for row in answer["kinds"]),
        ]
    )
    return header, rows


# The accident breakdowns of the year, in the order the accident page shows them.
ACCIDENT_GROUPS = (
    (gettext_lazy("事故类型"), "by_kind"),
    (gettext_lazy("原因"), "by_cause"),
    (gettext_lazy("严重程度"), "by_severity"),
    (gettext_lazy("场所"), "by_place"),
    (gettext_lazy("月份"), "by_month"),
)


def accidents_table(report: dict) -> tuple[list[str], list[list]]:
    answer = report["accidents"]
    header = [
        gettext("分组"),
        gettext("类别"),
        gettext("事故起数"),
        gettext("死亡"),
        gettext("受伤"),
    ]
    rows = [
        [group, item["label"], item["accidents"], item["deaths"], item["injuries"]]
        for group, key in ACCIDENT_GROUPS
        for item in answer[key]
    ]
    totals = answer["totals"]
    rows.append(["", gettext("合计"), totals["accidents"], totals["deaths"], totals["injuries"]])
    return header, rows


def evaluation_table(report: dict) -> tuple[list[str], list[list]]:
    """The child agencies' scores, best first, then the area's own: each component's points."""
    answer = report["evaluation"]
    names = [f"{c['name']} (分 / points)" for c in answer["own"]["components"]]
    header = [gettext("名次"), gettext("区划"), gettext("机构"), gettext("得分"), *names]

    def line(rank: Any, row: dict) -> list:
        points = [c["points"] for c in row["components"]]
        return [rank, row["name"], row["agency"], row["score"], *points]

    rows = [line(row["rank"], row) for row in answer["agencies"]]
    rows.append(line("", {**answer["own"], "name": f"本级 / own {answer['own']['name']}"}))
    return header, rows


def definitions_table(report: dict) -> tuple[list[str], list[list]]:
    header = [
        gettext("指标"),
        gettext("计算"),
        gettext("单位"),
        gettext("来源"),
        gettext("含义"),
    ]
    rows = [
        [
            in_language(d["name_zh"], d["name_en"]),
            d["formula"],
            d["unit"],
            d["source"],
            d["meaning"],
        ]
        for d in report["definitions"]
    ]
    return header, rows


def shown(value: Any) -> str:
    """A cell as the printed page writes it: thousands separators, rates to 4 places, a dash for
    no figure."""
    if value is None:
        return "—"
    if isinstance(value, bool | str | Promise):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.2f}"


# Indicators drawn as small trend charts at the top of the printed report.
TREND_KEYS = ("devices", "registrations", "inspection_rate", "accidents", "deaths_per_10k")

# The sheets, in order: (title, table, the units of the value columns by header position).
SHEETS = (
    ("概览 Overview", overview_table),
    ("趋势 Trend", trend_table),
    ("下级区划 Regions", regions_table),
    ("设备 Devices", devices_table),
    ("事故 Accidents", accidents_table),
    ("绩效评价 Evaluation", evaluation_table),
    ("指标定义 Definitions", definitions_table),
)


def _number_format(unit: str | None) -> str:
    if unit == COUNT:
        return "#,##0"
    if unit == PERCENT:
        return '0.00" %"'
    return "0.0000"


def as_xlsx(report: dict) -> bytes:
    """One formatted sheet per table: a title line, the area and year, bold shaded headers,
    frozen panes, column widths, number formats by each figure's unit, totals in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from exports.tables import SHEET_TITLE_UNSAFE, xlsx_value

    units = {i.name: i.unit for i in INDICATORS}
    row_units = {i.name: i.unit for i in INDICATORS}
    workbook = Workbook()
    workbook.remove(workbook.active)
    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="1F4E79")
    subtitle = gettext("%(area)s · %(year)s · 统计至 %(end)s · 生成于 %(made)s") % {
        "area": report["area"]["name"],
        "year": report["year"],
        "end": report["overview"]["period_end"],
        "made": report["as_of"],
    }
    for title, table in SHEETS:
        header, rows = table(report)
        sheet = workbook.create_sheet(SHEET_TITLE_UNSAFE.sub("_", title)[:31])
        sheet.append([xlsx_value(f"{TITLE} — {title}")])
        sheet["A1"].font = Font(bold=True, size=14)
        sheet.append([xlsx_value(subtitle)])
        sheet["A2"].font = Font(italic=True, color="555555")
        sheet.append([xlsx_value(neutralise(h)) for h in header])
        for cell in sheet[3]:
            cell.font, cell.fill = head_font, head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in rows:
            sheet.append([xlsx_value(neutralise(v)) for v in row])
            line = sheet.max_row
            unit = row_units.get(row[0]) if row else None
            for column, value in enumerate(row, start=1):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    cell_unit = units.get(header[column - 1], unit)
                    sheet.cell(line, column).number_format = _number_format(cell_unit)
            if row and isinstance(row[1], str) and row[1].startswith("合计"):
                for cell in sheet[line]:
                    cell.font = Font(bold=True)
        sheet.freeze_panes = "C4" if title != "指标定义 Definitions" else "B4"
        for column, name in enumerate(header, start=1):
            wide = 44 if title == "指标定义 Definitions" and column > 1 else 14
            first = 30 if column <= 2 and title != "设备 Devices" else 14
            sheet.column_dimensions[get_column_letter(column)].width = max(
                wide if column > 2 else first, min(len(str(name)) * 1.2, 30)
            )
        sheet.row_dimensions[3].height = 36
        sheet.print_title_rows = "3:3"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth = 1
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
