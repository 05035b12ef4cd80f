"""绩效评价 pages: the league table with the area's own score (/analysis/evaluation/), the scheme
and its form (/analysis/evaluation/scheme), the due dates behind an inspection rate
(/analysis/evaluation/dues) and the league table as CSV/XLSX (/analysis/evaluation/download).
Each calls analysis/evaluation.py with the API's parameters, so the page, the file and the API
hold the same numbers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts import policy
from accounts.policy import Action
from common.errors import DomainError
from common.http import content_disposition, json_errors, private
from geo.scoping import Scope

from . import desk, downloads, evaluation
from .access import may_read
from .models import Direction, ScoringRule

FIELDS = ("weight", "target", "floor", "direction", "rule")


def _years(today):
    return range(today.year, desk.EARLIEST_YEAR - 1, -1)


def _refused_page(request: HttpRequest) -> HttpResponse | None:
    if not may_read(request.user):
        return render(request, "maps/no_jurisdiction.html", status=403)
    return None


@login_required
@require_GET
def evaluation_page(request: HttpRequest) -> HttpResponse:
    """The area's own score with every component, its child agencies ranked, a chart of them."""
    if (refused := _refused_page(request)) is not None:
        return refused
    today = timezone.localdate()
    try:
        p = evaluation.parse(request.user, request.GET, ("region", "year"), today)
    except DomainError as error:
        context = {"errors": error.as_dict(), "years": _years(today)}
        return render(request, "analysis/evaluation.html", context, status=400)
    answer = evaluation.league(request.user, p["region"], p["year"], today)
    context = {
        "league": answer,
        "query": {"region": p["region"].code, "year": p["year"]},
        "years": _years(today),
        "may_edit": evaluation.may_edit(request.user),
        "data": {"agencies": answer["agencies"], "own": answer["own"], "year": p["year"]},
    }
    return private(render(request, "analysis/evaluation.html", context))


def _form_components(post) -> list[dict]:
    """The form's rows (one per rate indicator) as the API's components; a row with no weight is
    left out."""
    rows = []
    for key in evaluation.SCORABLE:
        if not (post.get(f"{key}-weight") or "").strip():
            continue
        rows.append({"indicator": key, **{f: post.get(f"{key}-{f}", "") for f in FIELDS}})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
@policy.writes(Action.EVALUATION_SCHEME)
def scheme_page(request: HttpRequest) -> HttpResponse:
    """The scheme a year is scored by; for national and provincial administrators, its form."""
    if (refused := _refused_page(request)) is not None:
        return refused
    today = timezone.localdate()
    errors, status = {}, 200
    params = request.POST if request.method == "POST" else request.GET
    try:
        year = desk.parse_year(params.get("year"), today)
    except DomainError as error:
        errors, year, status = error.as_dict(), today.year, 400
    if request.method == "POST" and not errors:
        try:
            evaluation.edit_scheme(
                acting_user=request.user,
                year=year,
                components=_form_components(request.POST),
                note=request.POST.get("note", ""),
                region=request.POST.get("region"),
            )
            return redirect(f"{request.path}?year={year}&saved=1")
        except DomainError as error:
            errors, status = error.as_dict(), 400
    own = evaluation.owner_of(Scope.of(request.user).prefix or "")
    scheme, published = evaluation.scheme_for(own, year)
    shown = evaluation.scheme_dict(scheme, published)
    by_key = {c["indicator"]: c for c in shown["components"]} if shown else {}
    if request.method == "POST":  # show what was sent, with its errors
        by_key = {c["indicator"]: c for c in _form_components(request.POST)}
    rows = [
        {
            "key": i.key,
            "name": i.name,
            "unit": i.unit,
            "formula": i.formula,
            **by_key.get(i.key, {}),
        }
        for i in evaluation.INDICATORS
        if i.key in evaluation.SCORABLE
    ]
    context = {
        "scheme": shown,
        "owner_code": own.ljust(6, "0") if own else "",
        "rows": rows,
        "year": year,
        "years": _years(today),
        "errors": errors,
        "saved": request.GET.get("saved") == "1",
        "may_edit": evaluation.may_edit(request.user),
        "directions": Direction.choices,
        "rules": ScoringRule.choices,
        "not_yet": evaluation.NOT_YET,
    }
    return render(request, "analysis/evaluation_scheme.html", context, status=status)


@login_required
@require_GET
def dues_page(request: HttpRequest) -> HttpResponse:
    """The inspection due dates behind a 定期检验率: met on time, missed, or all, a page at a time."""
    if (refused := _refused_page(request)) is not None:
        return refused
    today = timezone.localdate()
    try:
        p = evaluation.parse(request.user, request.GET, ("region", "year", "met", "page"), today)
    except DomainError as error:
        context = {"errors": error.as_dict()}
        return render(request, "analysis/evaluation_dues.html", context, status=400)
    answer = evaluation.dues_page(p["region"], p["year"], p["met"], p["page"], today)
    met = {None: "", True: "yes", False: "no"}[p["met"]]
    context = {"dues": answer, "query": {"region": p["region"].code, "year": p["year"], "met": met}}
    return private(render(request, "analysis/evaluation_dues.html", context))


def league_table(answer: dict) -> tuple[list[str], list[list]]:
    """The league table's numbers: rank, region, agency, score, and each component's value and
    points, the area's own row last."""
    components = answer["own"]["components"]
    header = [
        gettext("名次"),
        gettext("区划代码"),
        gettext("区划"),
        gettext("机构"),
        gettext("得分"),
    ]
    for c in components:
        header += [f"{c['name']} 值 / value", f"{c['name']} 得分 / points ({c['weight']:g})"]
    rows = []
    for row in [*answer["agencies"], {**answer["own"], "rank": None}]:
        cells = [row["rank"], row["code"], row["name"], row["agency"], row["score"]]
        for c in row["components"]:
            cells += [c["value"], c["points"]]
        rows.append(cells)
    rows[-1][2] = f"合计 / whole area {rows[-1][2]}"
    return header, rows


@login_required
@require_GET
def download(request: HttpRequest) -> HttpResponse:
    """?region&year&format=csv|xlsx: the league table's numbers as a file."""
    if not may_read(request.user):
        return json_errors(
            {"user": gettext("您的账号不能查看统计分析")},
            status=403,
            rule="not_allowed",
        )
    today = timezone.localdate()
    try:
        p = evaluation.parse(request.user, request.GET, ("region", "year", "format"), today)
    except DomainError as error:
        return json_errors(error.as_dict())
    answer = evaluation.league(request.user, p["region"], p["year"], today)
    header, rows = league_table(answer)
    fmt = p["format"]
    body = (
        downloads.as_csv(header, rows)
        if fmt == "csv"
        else downloads.as_xlsx("evaluation", header, rows)
    )
    response = HttpResponse(body, content_type=downloads.FORMATS[fmt])
    name = f"evaluation-{p['region'].code or 'national'}-{p['year']}.{fmt}"
    response["Content-Disposition"] = content_disposition(name)
    return private(response)
