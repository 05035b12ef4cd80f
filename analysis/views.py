"""The desk's page (/analysis/) and its downloads (/analysis/download): both call analysis/desk.py
with the same parameters as the API, so the page's tables and charts and the files agree."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from common.errors import DomainError
from common.http import content_disposition, json_errors, private

from . import desk, downloads
from .access import may_read, refusal
from .indicators import INDICATORS

PAGE_PARAMS = ("region", "year", "indicator")
DOWNLOAD_PARAMS = ("table", "format", "region", "year", "years", "indicator")


def _refused(request: HttpRequest) -> HttpResponse | None:
    return refusal(request.user)


@login_required
@require_GET
def desk_page(request: HttpRequest) -> HttpResponse:
    """Indicator cards with their trends, the child regions (table, choropleth, ranking, click to
    open), devices by kind and status; each chart with its table and its download."""
    if not may_read(request.user):
        return render(request, "maps/no_jurisdiction.html", status=403)
    today = timezone.localdate()
    params = request.GET
    try:
        parsed = desk.parse(request.user, params, PAGE_PARAMS, today)
    except DomainError as error:
        return render(
            request,
            "analysis/desk.html",
            {"errors": error.as_dict(), "years": range(today.year, desk.EARLIEST_YEAR - 1, -1)},
            status=400,
        )
    area, year, indicator = parsed["region"], parsed["year"], parsed["indicator"]
    # One computation of the child regions over the trend's years serves the cards and the table.
    figures = desk.area_figures(area, desk.span_of(year, desk.DEFAULT_YEARS), today)
    overview = desk.overview(request.user, area, year, desk.DEFAULT_YEARS, today, figures)
    regions = desk.regions(request.user, area, year, today, figures)
    devices = desk.devices_by_kind(area)
    query = {"region": area.code, "year": year, "indicator": indicator.key}
    return private(
        render(
            request,
            "analysis/desk.html",
            {
                "overview": overview,
                "regions": regions,
                "devices": devices,
                "indicator": indicator,
                "indicators": INDICATORS,
                "query": query,
                "years": range(today.year, desk.EARLIEST_YEAR - 1, -1),
                "data": {
                    "overview": overview,
                    "regions": regions,
                    "devices": devices,
                    "indicator": indicator.key,
                    "query": query,
                },
            },
        )
    )


@require_GET
def download(request: HttpRequest) -> HttpResponse:
    """?table=trend|regions|devices&format=csv|xlsx, with the chart's own parameters."""
    if (refused := _refused(request)) is not None:
        return refused
    params = request.GET
    today = timezone.localdate()
    errors = {}
    table, fmt = params.get("table", ""), params.get("format", "csv")
    if table not in downloads.TABLES:
        errors["table"] = f"应为 / one of {', '.join(downloads.TABLES)}"
    if fmt not in downloads.FORMATS:
        errors["format"] = f"应为 / one of {', '.join(downloads.FORMATS)}"
    try:
        parsed = desk.parse(request.user, params, DOWNLOAD_PARAMS, today)
    except DomainError as error:
        return json_errors(error.as_dict() | errors)
    if errors:
        return json_errors(errors)
    area, year, indicator = parsed["region"], parsed["year"], parsed["indicator"]
    if table == "trend":
        overview = desk.overview(request.user, area, year, parsed["years"], today)
        header, rows = downloads.trend_table(overview, indicator)
        name = f"{indicator.key}-trend-{area.code or 'national'}-{year}"
    elif table == "regions":
        header, rows = downloads.regions_table(desk.regions(request.user, area, year, today))
        name = f"regions-{area.code or 'national'}-{year}"
    else:
        header, rows = downloads.devices_table(desk.devices_by_kind(area))
        name = f"devices-{area.code or 'national'}-{today:%Y%m%d}"
    if fmt == "csv":
        body = downloads.as_csv(header, rows)
    else:
        body = downloads.as_xlsx(table, header, rows)
    response = HttpResponse(body, content_type=downloads.FORMATS[fmt])
    response["Content-Disposition"] = content_disposition(f"{name}.{fmt}")
    return private(response)
