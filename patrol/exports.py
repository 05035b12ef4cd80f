"""What leaves a patrol plan for the road: GPX and GeoJSON of its day routes for navigation apps,
and the facts of the printable sheet a team carries for one day.

No HTTP here. Routes are read in one query with their stops, devices and use units; the place of
a stop is `routes.place_of` (a pipeline is visited at a point on its route), so the files, the
sheet and the plan page put every stop on the same spot. Unit phones on the sheet are masked for
roles without personal data; a phone shown in full leaves an audit row, as on the incident card.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import Prefetch
from django.utils.html import escape
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts.audit import record_personal_data_read
from accounts.models import User
from common.i18n import in_language
from geo.functions import SimplifyPreserveTopology
from geo.offline import OUTLINE_TOLERANCE, add_outline, map_fragment, printed_map
from registry import catalogue, personal

from .exceptions import refuse
from .models import PatrolPlan, PatrolRoute, PatrolStop
from .routes import DAY_START, place_of, travel_model, value

if TYPE_CHECKING:
    import folium
    from lxml import etree

PURPOSE = "patrol route sheet"
CONTACT_FIELDS = ("contact_name", "contact_phone")
GPX_NS = "http://www.topografix.com/GPX/1/1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
GPX_SCHEMA = f"{GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd"
# 1e-7° is about a centimetre: the stored points, written out without float noise.
DECIMALS = 7

# What to look at on site, by kind (the first digit of the catalogue code), besides the reasons
# that put the device on the route. Data, not logic: a county may reword it without code changes.
CHECKLIST: dict[str, tuple[str, ...]] = {
    "1000": (gettext_lazy("水位计"), gettext_lazy("安全阀"), gettext_lazy("压力表")),
    "2000": (
        gettext_lazy("安全阀"),
        gettext_lazy("压力表"),
        gettext_lazy("定期检验报告"),
    ),
    "3000": (
        gettext_lazy("维保记录"),
        gettext_lazy("安全部件"),
        gettext_lazy("应急救援电话"),
    ),
    "4000": (gettext_lazy("限位器"), gettext_lazy("制动器"), gettext_lazy("钢丝绳")),
    "5000": (gettext_lazy("制动"), gettext_lazy("转向"), gettext_lazy("作业人员证")),
    "6000": (
        gettext_lazy("安全压杠"),
        gettext_lazy("运营日检记录"),
        gettext_lazy("应急预案"),
    ),
    "8000": (gettext_lazy("管道标识"), gettext_lazy("泄漏"), gettext_lazy("安全附件")),
    "9000": (gettext_lazy("钢丝绳"), gettext_lazy("制动器"), gettext_lazy("救援演练记录")),
}
COMMON_CHECKS = (gettext_lazy("使用登记证"),)

ROUTE_COLOUR = "#1f4e79"
# The sheet's map is printed at 180 mm × 110 mm; at 96 dpi that is this many pixels.
MAP_WIDTH_PX, MAP_HEIGHT_PX = 680, 416
# A stop marker is about 24 px of the map's ~400 px: stops nearer than that share a marker.
MARKER_SHARE = 0.04


# --------------------------------------------------------------------------- reading


def _stops() -> Prefetch:
    return Prefetch(
        "stops",
        queryset=PatrolStop.objects.select_related(
            "candidate__equipment__use_unit", "recorded_by"
        ).order_by("sequence"),
    )


def plan_routes(plan: PatrolPlan, route: Any = None) -> list[PatrolRoute]:
    """The plan's routes by day and team number, or only `route` (an id, as given in `?route=`),
    which must be one of the plan's."""
    routes = (
        PatrolRoute.objects.filter(plan=plan)
        .select_related("team")
        .prefetch_related(_stops())
        .order_by("day", "team__number")
    )
    if route is None or route == "":
        return list(routes)
    try:
        route_id = int(route)
    except (TypeError, ValueError):
        refuse("route", "route.id", gettext("route 应为路线编号"))
    found = list(routes.filter(pk=route_id))
    if not found:
        refuse(
            "route",
            "route.not_in_plan",
            f"路线 {route_id} 不属于计划 {plan.pk} / route {route_id} is not a route of plan "
            f"{plan.pk}",
        )
    return found


def route_label(route: PatrolRoute) -> str:
    return f"{route.team.name} {route.day.isoformat()}"


def clock(minutes: float, start: str = DAY_START) -> str:
    """The clock time `minutes` after the day's start (08:30 by default), as HH:MM."""
    hours, mins = map(int, start.split(":"))
    at = dt.datetime(2000, 1, 1, hours, mins) + dt.timedelta(minutes=round(minutes))
    return at.strftime("%H:%M")


def _path(route: PatrolRoute, stops: Sequence[PatrolStop]) -> list[tuple[float, float]]:
    """Start → stops → end as (lon, lat); the stored path when there is one."""
    if route.path is not None:
        return [(x, y) for x, y in route.path.coords]
    team = route.team
    places = [place_of(s.candidate) for s in stops]
    return [team.start.coords, *(p.coords for p in places if p is not None), team.end.coords]


def _kind_label(code: str) -> str:
    entry = catalogue.get(code)
    return in_language(entry.name_zh, entry.name_en) if entry else code


def reasons_summary(reasons: Iterable[dict]) -> str:
    return "; ".join(f"{r['detail']} (+{r['points']})" for r in reasons)


def checklist(kind: str) -> tuple[str, ...]:
    """The checks in the request's language (the table holds lazy translations)."""
    return tuple(str(check) for check in CHECKLIST.get(kind, ()) + COMMON_CHECKS)


# --------------------------------------------------------------------------- GPX


def _coord(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{GPX_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _wpt(root: etree._Element, lon: float, lat: float, **children: str) -> None:
    # GPX 1.1 fixes the order of a waypoint's children: name, cmt, desc, …, type.
    point = _sub(root, "wpt")
    point.set("lat", _coord(lat))
    point.set("lon", _coord(lon))
    for tag in ("name", "cmt", "desc", "type"):
        if children.get(tag):
            _sub(point, tag, children[tag])


def _stop_desc(stop: PatrolStop) -> str:
    candidate = stop.candidate
    device = candidate.equipment
    checks = gettext("、").join(checklist(device.kind))
    return " | ".join(
        part
        for part in (
            device.address,
            _kind_label(device.kind),
            gettext("到达 %(t)s") % {"t": clock(stop.arrival_minutes)},
            reasons_summary(candidate.reasons),
            gettext("检查：%(checks)s") % {"checks": checks},
        )
        if part
    )


def gpx_document(plan: PatrolPlan, routes: Sequence[PatrolRoute]) -> bytes:
    """GPX 1.1: a waypoint per stop in route order and per team start (and end, when elsewhere),
    then a track per route (team and day) along start → stops → end."""
    from lxml import etree

    root = etree.Element(f"{{{GPX_NS}}}gpx", nsmap={None: GPX_NS, "xsi": XSI_NS})
    root.set("version", "1.1")
    root.set("creator", "SEGIS")
    root.set(f"{{{XSI_NS}}}schemaLocation", GPX_SCHEMA)
    metadata = _sub(root, "metadata")
    _sub(metadata, "name", gettext("巡查计划 %(n)s") % {"n": plan.pk})
    _sub(metadata, "desc", f"{plan.starts_on.isoformat()} – {plan.ends_on.isoformat()}")

    teams_done: set[int] = set()
    for route in routes:
        team = route.team
        if team.pk not in teams_done:
            teams_done.add(team.pk)
            _wpt(
                root,
                *team.start.coords,
                name=gettext("出发：%(team)s") % {"team": team.name},
                type="start",
            )
            if team.end.coords != team.start.coords:
                _wpt(
                    root,
                    *team.end.coords,
                    name=gettext("返回：%(team)s") % {"team": team.name},
                    type="end",
                )
        for stop in route.stops.all():
            place = place_of(stop.candidate)
            if place is None:
                continue
            device = stop.candidate.equipment
            _wpt(
                root,
                place.x,
                place.y,
                name=f"{stop.sequence}. {device.device_code or device.registration_code}",
                cmt=route_label(route),
                desc=_stop_desc(stop),
                type=device.kind,
            )
    for route in routes:
        track = _sub(root, "trk")
        _sub(track, "name", route_label(route))
        _sub(
            track,
            "desc",
            ngettext("%(n)s 处，%(min)s 分钟", "%(n)s 处，%(min)s 分钟", len(route.stops.all()))
            % {"n": len(route.stops.all()), "min": round(route.total_minutes)},
        )
        _sub(track, "type", "patrol")
        segment = _sub(track, "trkseg")
        for lon, lat in _path(route, route.stops.all()):
            point = _sub(segment, "trkpt")
            point.set("lat", _coord(lat))
            point.set("lon", _coord(lon))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------- GeoJSON


def _position(lon: float, lat: float) -> list[float]:
    return [round(lon, DECIMALS), round(lat, DECIMALS)]


def geojson_document(plan: PatrolPlan, routes: Sequence[PatrolRoute]) -> dict[str, Any]:
    """RFC 7946 FeatureCollection (lon/lat, no `crs`): a LineString per route, a Point per stop."""
    features: list[dict[str, Any]] = []
    for route in routes:
        stops = list(route.stops.all())
        features.append(
            {
                "type": "Feature",
                "id": f"route-{route.pk}",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [_position(*p) for p in _path(route, stops)],
                },
                "properties": {
                    "feature": "route",
                    "plan": plan.pk,
                    "route": route.pk,
                    "team": route.team.name,
                    "team_number": route.team.number,
                    "day": route.day.isoformat(),
                    "minutes": round(route.total_minutes, 1),
                    "travel_minutes": round(route.travel_minutes, 1),
                    "service_minutes": round(route.service_minutes, 1),
                    "stops": len(stops),
                },
            }
        )
        for stop in stops:
            place = place_of(stop.candidate)
            if place is None:
                continue
            candidate = stop.candidate
            device = candidate.equipment
            features.append(
                {
                    "type": "Feature",
                    "id": f"stop-{stop.pk}",
                    "geometry": {"type": "Point", "coordinates": _position(place.x, place.y)},
                    "properties": {
                        "feature": "stop",
                        "plan": plan.pk,
                        "route": route.pk,
                        "team": route.team.name,
                        "day": route.day.isoformat(),
                        "sequence": stop.sequence,
                        "device_code": device.device_code,
                        "registration_code": device.registration_code,
                        "kind": device.kind,
                        "variety": device.variety_id,
                        "address": device.address,
                        "arrival_minutes": round(stop.arrival_minutes, 1),
                        "arrival": clock(stop.arrival_minutes),
                        "score": candidate.score,
                        "reasons": reasons_summary(candidate.reasons),
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def geojson_bytes(plan: PatrolPlan, routes: Sequence[PatrolRoute]) -> bytes:
    return json.dumps(geojson_document(plan, routes), ensure_ascii=False).encode()


# --------------------------------------------------------------------------- the sheet


def sheet_queryset(user: User):
    """The routes the user may see, with their plan, team, members and stops."""
    return (
        PatrolRoute.objects.visible_to(user)
        .select_related("plan__owner", "plan__region", "team")
        .prefetch_related("team__members", _stops())
        .defer("plan__area")  # a county's outline; the map reads it simplified
    )


def _use_unit(user: User, unit) -> dict | None:
    if unit is None:
        return None
    return {
        "name": unit.name,
        "contact_name": personal.value_for(user, unit, "contact_name"),
        "contact_phone": personal.value_for(user, unit, "contact_phone"),
        "masked": not user.may_read_personal_data,
    }


def _stop_row(user: User, stop: PatrolStop) -> dict:
    candidate = stop.candidate
    device = candidate.equipment
    variety = catalogue.get(device.variety_id)
    place = place_of(candidate)
    return {
        "id": stop.pk,
        "sequence": stop.sequence,
        "arrival": clock(stop.arrival_minutes),
        "departure": clock(stop.departure_minutes),
        "device_code": device.device_code,
        "registration_code": device.registration_code,
        "kind": device.kind,
        "kind_label": _kind_label(device.kind),
        "variety": device.variety_id,
        "variety_label": in_language(variety.name_zh, variety.name_en) if variety else "",
        "address": device.address,
        "use_unit": _use_unit(user, device.use_unit),
        "score": candidate.score,
        # The kind's points rank the device; they are nothing to look for on site.
        "reasons": [r["detail"] for r in candidate.reasons if r["factor"] != "kind"],
        "checklist": checklist(device.kind),
        "lon": place.x if place else None,
        "lat": place.y if place else None,
        "result": None
        if stop.recorded_at is None
        else {
            "visited": stop.visited,
            "findings": stop.findings,
            "order_issued": stop.order_issued,
            "order_number": stop.order_number,
            "sealed": stop.sealed,
        },
    }


def sheet_facts(user: User, route: PatrolRoute) -> dict:
    """The sheet of one team's day: header, the stops with whom to ask and what to check, and the
    units whose phones it shows in full written to the audit log."""
    stops = list(route.stops.all())
    rows = [_stop_row(user, s) for s in stops]
    units = {s.candidate.equipment.use_unit for s in stops} - {None}
    disclosed = [u for u in units if user.may_read_personal_data and u.contact_phone]
    record_personal_data_read(user, sorted(disclosed, key=lambda u: u.pk), CONTACT_FIELDS, PURPOSE)
    team = route.team
    members = [m.get_full_name() or m.username for m in team.members.all()]
    return {
        "route": route,
        "plan": route.plan,
        "team": team,
        "label": route_label(route),
        "members": members,
        "day_start": DAY_START,
        "back_at": clock(route.total_minutes),
        "stops": rows,
        "start": team.start.coords,
        "end": team.end.coords,
        "path": _path(route, stops),
        "masked": not user.may_read_personal_data,
        "start_label": ((route.plan.criteria.get("routing") or {}).get("start") or {}).get("label"),
        "break": (
            f"{clock(route.break_at_minutes)}–{clock(route.break_at_minutes + team.break_minutes)}"
            if route.break_at_minutes is not None
            else None
        ),
        "travel": travel_note(),
    }


def travel_note() -> str:
    """What the legs' minutes are: straight lines, until a road network is configured."""
    return gettext(
        "直线距离估算：直线 × %(detour)s 绕行系数，市辖区按 %(urban)s km/h，其他地区按 %(other)s km/h；"
        "未配置路网"
    ) % {
        "detour": f"{travel_model().detour:g}",
        "urban": f"{float(value('PATROL_URBAN_SPEED_KMH')):g}",
        "other": f"{travel_model().speed_kmh:g}",
    }


def _add_outline(m: folium.Map, plan: PatrolPlan) -> None:
    shape = (
        PatrolPlan.objects.filter(pk=plan.pk)
        .annotate(shape=AsGeoJSON(SimplifyPreserveTopology("area", OUTLINE_TOLERANCE)))
        .values_list("shape", flat=True)
        .first()
    )
    if shape:
        add_outline(m, shape, interactive=False)


def _badge(spot: tuple[float, float], text: str, css: str, size: int) -> folium.Marker:
    import folium

    return folium.Marker(
        spot,
        icon=folium.DivIcon(
            html=f'<div class="{css}">{escape(text)}</div>',
            icon_size=(size, size),
            icon_anchor=(size // 2, size // 2),
        ),
    )


def _marker_groups(
    rows: Sequence[dict], bounds: tuple[float, float, float, float]
) -> list[tuple[tuple[float, float], list[int]]]:
    """Stops closer than a marker's width on the fitted map share one marker ("7·8"), so no
    number hides under another."""
    south, west, north, east = bounds
    shrink = math.cos(math.radians((south + north) / 2))
    reach = MARKER_SHARE * max(north - south, (east - west) * shrink, 1e-6)
    groups: list[tuple[tuple[float, float], list[int]]] = []
    for row in rows:
        if row["lat"] is None:
            continue
        for (lat, lon), numbers in groups:
            if math.hypot(row["lat"] - lat, (row["lon"] - lon) * shrink) < reach:
                numbers.append(row["sequence"])
                break
        else:
            groups.append(((row["lat"], row["lon"]), [row["sequence"]]))
    return groups


def sheet_map(facts: dict) -> dict:
    """The day on a map without a basemap: the plan's area, the route line, numbered stops, the
    start and end; fitted to the route, fixed (it prints as it shows)."""
    import folium

    path = [(lat, lon) for lon, lat in facts["path"]]
    m = printed_map(location=path[0], zoom_start=13, width=MAP_WIDTH_PX, height=MAP_HEIGHT_PX)
    _add_outline(m, facts["plan"])
    folium.PolyLine(path, color=ROUTE_COLOUR, weight=3, opacity=0.85).add_to(m)
    start = (facts["start"][1], facts["start"][0])
    end = (facts["end"][1], facts["end"][0])
    if start == end:
        _badge(start, gettext("起/终"), "route-sheet-base", 34).add_to(m)
    else:
        _badge(start, gettext("起"), "route-sheet-base", 28).add_to(m)
        _badge(end, gettext("终"), "route-sheet-base", 28).add_to(m)
    south, north = min(p[0] for p in path), max(p[0] for p in path)
    west, east = min(p[1] for p in path), max(p[1] for p in path)
    for (lat, lon), numbers in _marker_groups(facts["stops"], (south, west, north, east)):
        label = "·".join(map(str, numbers))
        width = 24 + 9 * (len(label) - 1)
        folium.Marker(
            (lat, lon),
            icon=folium.DivIcon(
                html=f'<div class="route-sheet-stop">{escape(label)}</div>',
                icon_size=(width, 24),
                icon_anchor=(width // 2, 12),
            ),
        ).add_to(m)
    m.fit_bounds([[south, west], [north, east]], padding=(30, 30), max_zoom=16)
    return map_fragment(m)
