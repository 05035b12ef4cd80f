"""The accident analysis page (/analysis/accidents/) and its downloads: both call
analysis/accidents.py and analysis/hotspots.py with the API's parameters, so the page's tables
and charts and the files hold the same numbers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET

from common.errors import DomainError
from common.http import content_disposition, json_errors, private
from registry.models.events import CauseClass, PlaceType, Severity

from . import accidents, desk, downloads, hotspots
from .access import may_read

PAGE_PARAMS = (*accidents.LIST_PARAMS, "measure")
DOWNLOAD_PARAMS = ("table", "format", *PAGE_PARAMS)
TABLES = ("yearly", "monthly", "kind", "cause", "severity", "month", "place", "kind_cause",
          "hotspots", "list")  # fmt: skip
YEARS_CHOICES = (1, 3, 5, 10, 15, 20)
BREAKDOWNS = (
    ("kind", "by_kind", gettext_lazy("按事故类型")),
    ("cause", "by_cause", gettext_lazy("按原因分类")),
    ("severity", "by_severity", gettext_lazy("按事故等级")),
    ("month", "by_month", gettext_lazy("按月份")),
    ("place", "by_place", gettext_lazy("按场所类型")),
)


@login_required
@require_GET
def accidents_page(request: HttpRequest) -> HttpResponse:
    """Filters, the totals, accidents over time, the breakdowns, the hot spots and the list."""
    if not may_read(request.user):
        return render(request, "maps/no_jurisdiction.html", status=403)
    today = timezone.localdate()
    years_range = range(today.year, desk.EARLIEST_YEAR - 1, -1)
    try:
        p = accidents.parse(request.user, request.GET, PAGE_PARAMS, today)
    except DomainError as error:
        return render(request, "analysis/accidents.html",
                      {"errors": error.as_dict(), "years": years_range}, status=400)  # fmt: skip
    area, year, years, filters = p["region"], p["year"], p["years"], p["filters"]
    summary = accidents.summary(request.user, area, year, years, filters, today)
    listing = accidents.listing(area, year, years, filters, p["page"], today)
    spots = hotspots.hotspots(request.user, area, p["measure"], year, years, today)
    query = {
        "region": area.code,
        "year": year,
        "years": years,
        **filters,
        "measure": p["measure"].key,
    }
    return private(
        render(
            request,
            "analysis/accidents.html",
            {
                "summary": summary,
                "breakdowns": [(key, title, summary[field]) for key, field, title in BREAKDOWNS],
                "listing": listing,
                "spots": spots,
                "query": query,
                "filters": filters,
                "years": years_range,
                "years_choices": YEARS_CHOICES,
                "kinds": accidents.kinds(area, summary["years"], today),
                "causes": CauseClass.choices,
                "severities": Severity.choices,
                "places": PlaceType.choices,
                "measures": hotspots.MEASURES.values(),
                # The table lists the tested counties; every county is in the file.
                "tested_rows": [r for r in spots["counties"] if not r["excluded"]],
                "drawn_all": bool(area.prefix),
                "data": {"summary": summary, "query": query},
            },
        )
    )


def _table(name: str, request, p: dict, today) -> tuple[list[str], list[list]]:
    area, year, years, filters = p["region"], p["year"], p["years"], p["filters"]
    if name == "hotspots":
        return hotspot_table(
            hotspots.hotspots(request.user, area, p["measure"], year, years, today)
        )
    if name == "list":
        rows = accidents.listing(area, year, years, filters, p["page"], today)["results"]
        header = [gettext("时间"), gettext("区划"), gettext("地点"), gettext("事故类型"), gettext("等级"),
                  gettext("原因"), gettext("场所"), gettext("死亡"), gettext("受伤")]  # fmt: skip
        return header, [[r["occurred_at"], r["region_name"], r["address"], r["kind"], r["severity_label"],
                         r["cause_label"], r["place_label"], r["deaths"], r["injuries"]] for r in rows]  # fmt: skip
    summary = accidents.summary(request.user, area, year, years, filters, today)
    return summary_table(name, summary)


def summary_table(name: str, summary: dict) -> tuple[list[str], list[list]]:
    """A chart's numbers as the summary answers them."""
    harm = [gettext("事故"), gettext("死亡"), gettext("受伤")]
    if name == "yearly":
        header = [gettext("年份"), *harm, gettext("期末在用设备"), gettext("计入比率的事故"),
                  gettext("万台设备事故起数"), gettext("万台设备死亡人数")]  # fmt: skip
        return header, [[r["year"], r["accidents"], r["deaths"], r["injuries"], r["in_use"], r["rated_accidents"],
                         r["accidents_per_10k"], r["deaths_per_10k"]] for r in summary["yearly"]]  # fmt: skip
    if name == "monthly":
        return [gettext("月份"), *harm], [
            [r["month"], r["accidents"], r["deaths"], r["injuries"]] for r in summary["monthly"]
        ]
    if name == "kind_cause":
        causes = [c.label for c in CauseClass]
        header = [gettext("事故类型"), *[str(c) for c in causes], gettext("合计")]
        return header, [
            [r["kind"], *[c["accidents"] for c in r["causes"]], r["accidents"]]
            for r in summary["kind_causes"]
        ]
    key = {
        "kind": "by_kind",
        "cause": "by_cause",
        "severity": "by_severity",
        "month": "by_month",
        "place": "by_place",
    }[name]
    first = {"kind": gettext("事故类型"), "cause": gettext("原因分类"), "severity": gettext("等级"),
             "month": gettext("月份"), "place": gettext("场所类型")}[name]  # fmt: skip
    return [first, *harm], [
        [r["label"], r["accidents"], r["deaths"], r["injuries"]] for r in summary[key]
    ]


def hotspot_table(answer: dict) -> tuple[list[str], list[list]]:
    header = [gettext("区划代码"), gettext("县区"), gettext("分子"), gettext("分母"), gettext("比率"),
              "Gi* z", "p (FDR)", gettext("类别"), gettext("未参与原因")]  # fmt: skip
    labels = {k: label for k, (label, _) in hotspots.CLASSES.items()}
    return header, [[r["code"], r["name"], r["numerator"], r["denominator"], r["rate"], r["z"], r["p"],
                     labels[r["spot"]], r["excluded"]] for r in answer["counties"]]  # fmt: skip


@require_GET
def accidents_download(request: HttpRequest) -> HttpResponse:
    """?table=yearly|monthly|kind|cause|severity|month|place|kind_cause|hotspots|list&format=csv|xlsx
    with the page's own parameters."""
    if not may_read(request.user):
        return json_errors(
            {"user": gettext("您的账号不能查看统计分析")},
            status=403,
            rule="not_allowed",
        )
    today = timezone.localdate()
    errors = {}
    table, fmt = request.GET.get("table", ""), request.GET.get("format", "csv")
    if table not in TABLES:
        errors["table"] = f"应为 / one of {', '.join(TABLES)}"
    if fmt not in downloads.FORMATS:
        errors["format"] = f"应为 / one of {', '.join(downloads.FORMATS)}"
    params = {k: v for k, v in request.GET.items() if k not in ("table", "format")}
    try:
        p = accidents.parse(request.user, params, PAGE_PARAMS, today)
    except DomainError as error:
        return json_errors(error.as_dict() | errors)
    if errors:
        return json_errors(errors)
    header, rows = _table(table, request, p, today)
    name = f"accidents-{table}-{p['region'].code or 'national'}-{p['year']}"
    body = (
        downloads.as_csv(header, rows) if fmt == "csv" else downloads.as_xlsx(table, header, rows)
    )
    response = HttpResponse(body, content_type=downloads.FORMATS[fmt])
    response["Content-Disposition"] = content_disposition(f"{name}.{fmt}")
    return private(response)
