"""Response statistics per region and maintenance unit (issue 4): the JSON answer, and the page with
its map, tables and CSV download. Both read `response.statistics` for the same parameters."""

from __future__ import annotations

import csv
import io
import json

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext, gettext_lazy, pgettext, pgettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import BaseRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from geo.offline import map_fragment, offline_map

from . import statistics
from .api import TAGS, MayRead
from .exceptions import ResponseError

PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, OpenApiParameter.QUERY,
                     description="first day of the period (reported), default: 364 days before `to`"),
    OpenApiParameter("to", OpenApiTypes.DATE, OpenApiParameter.QUERY,
                     description="last day of the period (reported), default: today"),
    OpenApiParameter("region", str, OpenApiParameter.QUERY,
                     description="6-digit division code inside your jurisdiction; default: all of it"),
]  # fmt: skip

# Share of arrivals within the norm: the map's classes, best first, and the legend's labels.
SHARE_CLASSES = [
    (0.9, "#1a9850", "≥ 90 %"),
    (0.75, "#a6d96a", "75–90 %"),
    (0.5, "#fdae61", "50–75 %"),
    (0.0, "#d73027", "< 50 %"),
]
NO_ARRIVALS = "#c8cdd3"  # grey: no incident arrived in the region in the period

REGION_COLUMNS = [
    ("code", gettext_lazy("区划代码")),
    ("name", gettext_lazy("区划")),
    ("incidents", pgettext_lazy("count", "事件")),
    ("false_alarms", pgettext_lazy("count", "误报")),
    ("arrived", pgettext_lazy("count", "到达")),
    ("arrival_median_min", gettext_lazy("到达中位数(分)")),
    ("arrival_mean_min", gettext_lazy("到达均值(分)")),
    ("arrival_p90_min", gettext_lazy("到达P90(分)")),
    ("within_norm", gettext_lazy("达标")),
    ("within_norm_share", gettext_lazy("达标率")),
    ("release_median_min", gettext_lazy("解困中位数(分)")),
]
UNIT_COLUMNS = [
    ("id", gettext_lazy("单位ID")),
    ("name", gettext_lazy("维保单位")),
    ("asks", pgettext_lazy("count", "派单")),
    ("accepted", gettext_lazy("响应")),
    ("declined", gettext_lazy("拒绝")),
    ("timed_out", gettext_lazy("超时")),
    ("cancelled", pgettext_lazy("count", "撤销")),
    ("pending", gettext_lazy("待应答")),
    ("answer_median_min", gettext_lazy("应答中位数(分)")),
    ("responding_for", gettext_lazy("承担处置")),
    ("arrived", pgettext_lazy("count", "到达")),
    ("arrived_within_norm", gettext_lazy("达标到达")),
    ("within_norm_share", gettext_lazy("达标率")),
]


def share_colour(share: float | None) -> str:
    if share is None:
        return NO_ARRIVALS
    return next(colour for limit, colour, _ in SHARE_CLASSES if share >= limit)


def _params(request: Request) -> QueryDict:
    """The query without DRF's renderer choice (`?format=json|api|csv`), which is no filter."""
    params = request.query_params.copy()
    params.pop(api_settings.URL_FORMAT_OVERRIDE, None)
    return params


class Statistics(APIView):
    """Arrival times and the share within the norm per sub-region, and each maintenance unit's
    asks and answers, for a period (by reported date) and a division of your jurisdiction."""

    permission_classes = [MayRead]

    @extend_schema(tags=TAGS, parameters=PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = statistics.parse_query(request.user, _params(request))
        return Response(statistics.response_statistics(request.user, query))


class CSVRenderer(BaseRenderer):
    """`?format=csv`: the page's two tables as one CSV file (the view writes the text)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, str | bytes) else json.dumps(data, ensure_ascii=False)


def statistics_csv(answer: dict) -> str:
    """Both tables in one file: the regions, a blank line, the maintenance units; with a BOM so
    Excel reads the Chinese headers."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    period, region = answer["period"], answer["region"]
    writer.writerow([f"{region['name']} {period['from']} – {period['to']}"])
    for columns, rows in (
        (REGION_COLUMNS, [answer["totals"] | {"code": region["code"], "name": gettext("合计")}]
         + answer["regions"]),
        (UNIT_COLUMNS, answer["maintenance_units"]),
    ):  # fmt: skip
        writer.writerow([])
        writer.writerow([label for _, label in columns])
        for row in rows:
            writer.writerow(["" if row.get(name) is None else row[name] for name, _ in columns])
    return out.getvalue()


def share_map(answer: dict) -> dict:
    """The sub-regions coloured by their share of arrivals within the norm, grey without any."""
    import folium

    # Quarter zoom steps: the jurisdiction fills the frame instead of half of it.
    m = offline_map(zoom_start=8, control_scale=True, jquery=False, zoom_snap=0.25)
    features = []
    for row in answer["regions"]:
        if not row.get("outline"):
            continue
        share = row["within_norm_share"]
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(row["outline"]),
                "properties": {
                    "name": row["name"],
                    "incidents": row["incidents"],
                    "arrived": row["arrived"],
                    "share": "—" if share is None else f"{share:.0%}",
                    "median": "—"
                    if row["arrival_median_min"] is None
                    else f"{row['arrival_median_min']:g}",
                    "colour": share_colour(share),
                },
            }
        )
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=gettext("到达达标率"),
            style_function=lambda f: {
                "fillColor": f["properties"]["colour"],
                "color": "#44546a",
                "weight": 1.2,
                "fillOpacity": 0.7,
            },
            highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.85},
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "incidents", "arrived", "share", "median"],
                aliases=[
                    gettext("区划"),
                    pgettext("count", "事件"),
                    pgettext("count", "到达"),
                    gettext("达标率"),
                    gettext("到达中位数(分)"),
                ],
            ),  # fmt: skip
        ).add_to(m)
        m.fit_bounds(layer.get_bounds())
    return map_fragment(m)


class StatisticsPage(APIView):
    """The statistics page: the period and division form, the map, totals and both tables;
    `?format=csv` downloads the tables."""

    permission_classes = [MayRead]
    renderer_classes = [TemplateHTMLRenderer, CSVRenderer]
    template_name = "response/statistics.html"

    def handle_exception(self, exc):
        # A page sends an anonymous visitor to the login form, as every other page does.
        if isinstance(exc, NotAuthenticated) or not self.request.user.is_authenticated:
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)

    @extend_schema(exclude=True)
    def get(self, request: Request):
        params = _params(request)
        as_csv = request.accepted_renderer.format == "csv"
        try:
            query = statistics.parse_query(request.user, params)
        except ResponseError as error:
            if as_csv:
                return HttpResponse(
                    json.dumps({"errors": error.as_dict()}, ensure_ascii=False),
                    status=400,
                    content_type="application/json",
                )
            return render(
                request,
                self.template_name,
                {"errors": error.as_dict(), "params": params, "norm": statistics.norm_json()},
                status=400,
            )
        answer = statistics.response_statistics(request.user, query, outlines=not as_csv)
        if as_csv:
            name = f"response-statistics-{answer['region']['code'] or 'national'}-" + (
                f"{query.start:%Y%m%d}-{query.end:%Y%m%d}.csv"
            )
            response = HttpResponse(statistics_csv(answer), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        csv_query = params.copy()
        csv_query["format"] = "csv"
        return render(
            request,
            self.template_name,
            {
                "answer": answer,
                "query": query,
                "params": params,
                "norm": answer["norm"],
                "map": share_map(answer),
                "share_classes": SHARE_CLASSES,
                "no_arrivals": NO_ARRIVALS,
                "csv_url": "?" + csv_query.urlencode(),
                "choices": statistics.region_choices(request.user),
            },
        )
