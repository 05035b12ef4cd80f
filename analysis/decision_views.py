"""Decision support's pages (/analysis/decisions/<question>) and files, and the annual report's
printable page (/analysis/report) and XLSX (/analysis/report.xlsx). Each calls
analysis/decisions.py or analysis/report.py with the API's parameters, so a page, its file and
the JSON agree."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext
from django.views.decorators.http import require_GET

from common.errors import DomainError
from common.http import content_disposition, json_errors, private
from geo.basemap import outline_tolerance
from geo.scoping import Scope
from maps.choropleth import county_outlines, region_outlines

from . import decisions, desk, downloads, report
from .access import may_read, refusal

QUESTIONS = {
    "workload": gettext_lazy("检验工作量预测"),
    "coverage": gettext_lazy("应急救援覆盖缺口"),
    "risk": gettext_lazy("使用单位风险排序"),
}
REPORT_PARAMS = ("region", "year")


def county_map(user, area: desk.Area, values: dict[str, float | int | None]) -> str:
    """The area's counties as GeoJSON text with one value each (the page's map)."""
    tolerance = outline_tolerance(Scope.of(user).prefix or "")
    return outline_map(county_outlines(area.prefix, tolerance), values)


def outline_map(outlines: list[tuple], values: dict[str, float | int | None]) -> str:
    """Outlines (maps.choropleth's tuples) as GeoJSON text with one value each, by code."""
    features = []
    for code, name, _level, outline, _label in outlines:
        properties = json.dumps({"code": code, "name": name, "value": values.get(code)})
        features.append(
            f'{{"type":"Feature","id":"{code}","properties":{properties},"geometry":{outline}}}'
        )
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def _answer(user, question: str, p: dict, *, page: int | None = 1):
    area, today = p["region"], p["today"]
    if question == "workload":
        return decisions.workload(area, today)
    if question == "coverage":
        return decisions.coverage(area, user, p["kind"], p["types"], p["minutes"], p["k"], today)
    return decisions.risk(area, user, today, p["sort"], page)


def _map_values(question: str, answer: dict) -> dict:
    if question == "workload":
        return {row["code"]: row["total"] for row in answer["counties"]}
    if question == "coverage":
        return {row["code"]: row["uncovered"] for row in answer["counties"]}
    return {}


def question_page(question: str):
    """The view of one question's page (a route each: no free path parameter)."""

    @login_required
    @require_GET
    def page(request: HttpRequest) -> HttpResponse:
        return decisions_page(request, question)

    page.__name__ = page.__qualname__ = f"{question}_page"
    return page


def question_download(question: str):
    """The view of one question's file."""

    @require_GET
    def download(request: HttpRequest) -> HttpResponse:
        return decisions_download(request, question)

    download.__name__ = download.__qualname__ = f"{question}_download"
    return download


def decisions_page(request: HttpRequest, question: str) -> HttpResponse:
    """One question: its table, chart and map of counties, with its downloads."""
    if question not in QUESTIONS:
        raise Http404
    if not may_read(request.user):
        return render(request, "maps/no_jurisdiction.html", status=403)
    context = {
        "question": question,
        "questions": [
            (key, label, reverse(f"analysis:decisions-{key}")) for key, label in QUESTIONS.items()
        ],
        "title": QUESTIONS[question],
        "download": reverse(f"analysis:decisions-{question}-download"),
    }
    try:
        p = decisions.parse(request.user, request.GET, question, timezone.localdate())
    except DomainError as error:
        return render(
            request, "analysis/decisions.html", context | {"errors": error.as_dict()}, status=400
        )
    answer = _answer(request.user, question, p, page=None)
    area = p["region"]
    query = {"region": area.code} | {
        key: (",".join(value) if isinstance(value, tuple) else value)
        for key, value in p.items()
        if key in decisions.QUESTION_PARAMS[question] and value is not None and key != "page"
    }
    if question == "risk":
        # The map sums the scores of every unit by its county; the table shows one page.
        values: dict = {}
        for row in answer["units"]:
            values[row["region"]] = values.get(row["region"], 0) + row["score"]
        answer = decisions.page_of(answer, p["page"])
    else:
        values = _map_values(question, answer)
    return private(
        render(
            request,
            "analysis/decisions.html",
            context
            | {
                "answer": answer,
                "area": area,
                "query": query,
                "breadcrumb": desk.breadcrumb(request.user, area),
                "kinds": decisions.KINDS,
                "has_next": answer.get("page", 1) * decisions.PAGE_SIZE < answer.get("count", 0),
                "data": {"question": question, "answer": answer, "query": query},
                "county_map": county_map(request.user, area, values),
            },
        )
    )


def _table(question: str, answer: dict) -> tuple[list[str], list[list]]:
    if question == "workload":
        header = [
            gettext("类别"),
            gettext("代码"),
            gettext("名称"),
            *answer["months"],
            gettext("合计"),
        ]
        rows = [
            [gettext("检验机构"), b["id"] or "", b["name"], *b["months"], b["total"]]
            for b in answer["bodies"]
        ]
        rows += [
            [gettext("县"), c["code"], c["name"], *c["months"], c["total"]]
            for c in answer["counties"]
        ]
        rows += [
            [gettext("合计"), "", gettext("首次到期"), *answer["due"], sum(answer["due"])],
            [
                gettext("合计"),
                "",
                gettext("再次到期"),
                *answer["repeats"],
                sum(answer["repeats"]),
            ],
        ]
        return header, rows
    if question == "coverage":
        header = [
            gettext("县"),
            gettext("名称"),
            pgettext("count", "设备"),
            pgettext("devices beyond the limit", "超时"),
            "% ",
            gettext("分钟"),
        ]
        rows = [
            [c["code"], c["name"], c["devices"], c["uncovered"], c["share"], c["minutes"]]
            for c in answer["counties"]
        ]
        rows += [[]]
        rows += [
            [
                gettext("新增站点"),
                gettext("经度"),
                gettext("纬度"),
                gettext("县"),
                gettext("新覆盖"),
                gettext("累计"),
            ]
        ]
        rows += [
            [
                s["rank"],
                s["lon"],
                s["lat"],
                s["county_name"],
                s["newly_covered"],
                s["covered_so_far"],
            ]
            for s in answer["sites"]
        ]
        return header, rows
    keys = list(decisions.RISK_WEIGHTS)
    header = [
        gettext("单位"),
        gettext("统一社会信用代码"),
        gettext("区划"),
        pgettext("count", "设备"),
        *keys,
        gettext("得分"),
    ]
    rows = [
        [u["name"], u["credit_code"], u["region"], u["devices"], *(u[k] for k in keys), u["score"]]
        for u in answer["units"]
    ]
    return header, rows


def decisions_download(request: HttpRequest, question: str) -> HttpResponse:
    """The question's table as CSV or XLSX (?format=csv|xlsx and its own parameters); the risk
    ranking whole, not one page."""
    if question not in QUESTIONS:
        raise Http404
    if (refused := refusal(request.user)) is not None:
        return refused
    params = request.GET.copy()
    fmt = params.pop("format", ["csv"])[-1]
    errors = {}
    if fmt not in downloads.FORMATS:
        errors["format"] = f"应为 / one of {', '.join(downloads.FORMATS)}"
    try:
        p = decisions.parse(request.user, params, question, timezone.localdate())
    except DomainError as error:
        return json_errors(error.as_dict() | errors)
    if errors:
        return json_errors(errors)
    answer = _answer(request.user, question, p, page=None)
    header, rows = _table(question, answer)
    body = (
        downloads.as_csv(header, rows)
        if fmt == "csv"
        else downloads.as_xlsx(question, header, rows)
    )
    response = HttpResponse(body, content_type=downloads.FORMATS[fmt])
    name = f"{question}-{p['region'].code or 'national'}-{p['today']:%Y%m%d}.{fmt}"
    response["Content-Disposition"] = content_disposition(name)
    return private(response)


def _report(request: HttpRequest):
    today = timezone.localdate()
    p = desk.parse(request.user, request.GET, REPORT_PARAMS, today)
    return report.annual(request.user, p["region"], p["year"], today)


@login_required
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    """The annual report, printable (print CSS; PDF through the browser's print)."""
    if not may_read(request.user):
        return render(request, "maps/no_jurisdiction.html", status=403)
    today = timezone.localdate()
    years = range(today.year, desk.EARLIEST_YEAR - 1, -1)
    try:
        answer = _report(request)
    except DomainError as error:
        return render(
            request, "analysis/report.html", {"errors": error.as_dict(), "years": years}, status=400
        )
    query = {"region": answer["area"]["code"], "year": answer["year"]}
    # The child regions' map of devices in use, from the report's own regions table.
    area = desk.parse_area(request.user, query["region"])
    region_map = outline_map(
        region_outlines(area.prefix, outline_tolerance(Scope.of(request.user).prefix or "")),
        {row["code"]: row["values"]["in_use"] for row in answer["regions"]["regions"]},
    )
    return private(
        render(
            request,
            "analysis/report.html",
            {
                "report": answer,
                "query": query,
                "years": years,
                "tables": [
                    (title, header, [[report.shown(v) for v in row] for row in rows])
                    for title, table in report.SHEETS[:-1]
                    for header, rows in [table(answer)]
                ],
                "trend_keys": report.TREND_KEYS,
                "region_map": region_map,
                "data": {"report": answer, "query": query},
            },
        )
    )


@require_GET
def report_xlsx(request: HttpRequest) -> HttpResponse:
    """The annual report as XLSX, one formatted sheet per table."""
    if (refused := refusal(request.user)) is not None:
        return refused
    try:
        answer = _report(request)
    except DomainError as error:
        return json_errors(error.as_dict())
    response = HttpResponse(report.as_xlsx(answer), content_type=downloads.FORMATS["xlsx"])
    name = f"annual-report-{answer['area']['code'] or 'national'}-{answer['year']}.xlsx"
    response["Content-Disposition"] = content_disposition(name)
    return private(response)
