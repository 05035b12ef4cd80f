"""The printable incident sheet: the facts of one incident for the report, and a map snapshot.

No HTTP here. The facts reuse what the API shows (the equipment card with its masked and audited
contacts, the timeline and dispatch shapes, hazards nearby and nearest resources) so the sheet
never says something the console would say otherwise. What is around is read when the sheet is
made, not when the incident was reported: the sheet says so.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.html import escape

from accounts.models import User
from common.i18n import in_language
from geo.offline import add_outline, map_fragment, printed_map, region_outline
from geo.routing import GEOD
from registry import catalogue
from registry.models.events import ResourceType

from . import around, conf
from .api import card_queryset
from .card import equipment_card
from .incident_api import detailed_incidents
from .locate import Located
from .models import Incident, IncidentState, LocatedBy
from .serializers import dispatch_json, event_json

if TYPE_CHECKING:
    import folium

PURPOSE = "incident sheet"
# 96333 fault codes with a known meaning; any other code is printed as given.
FAULT_CODES = {"11": "困人 / passengers trapped"}
# The county outline is context on a map without a basemap, not survey data (about 50 m).
# The map is printed at 180 mm × 120 mm; at 96 dpi that is this many pixels.
MAP_WIDTH_PX, MAP_HEIGHT_PX = 680, 454
# The share of the map's width a label may need beside its point.
LABEL_ROOM = 0.22

INCIDENT_COLOUR = "#b2182b"
EQUIPMENT_COLOUR = "#1f4e79"
HAZARD_COLOUR = "#d46b08"
RESOURCE_COLOUR = "#237804"
PARTY_COLOUR = "#722ed1"


def sheet_queryset(user: User):
    """The user's incidents (own jurisdiction and shared ones) with their timeline and asks: the
    API's detail queryset, so the sheet and the console read the same rows."""
    return detailed_incidents(user)


@dataclass(frozen=True)
class Arrival:
    """Minutes from the report to arrival on site, against the norm of the incident's county."""

    minutes: float | None
    norm_minutes: float
    urban: bool

    @property
    def within_norm(self) -> bool | None:
        return None if self.minutes is None else self.minutes <= self.norm_minutes


def _minutes(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60.0, 1)


def arrival(incident: Incident) -> Arrival:
    urban = conf.is_urban(incident.region)
    return Arrival(
        _minutes(incident.reported_at, incident.arrived_at),
        conf.arrival_norm_min()["urban" if urban else "rural"],
        urban,
    )


def _state_label(state: str) -> str:
    return IncidentState(state).label if state else ""


def timeline(incident: Incident) -> list[dict]:
    rows = []
    for event in incident.events.all():
        row = event_json(event)
        row["kind_label"] = event.get_kind_display()
        row["from_label"] = _state_label(event.from_state)
        row["to_label"] = _state_label(event.to_state)
        rows.append(row)
    return rows


def dispatches(incident: Incident) -> list[dict]:
    rows = []
    for asked in incident.dispatches.all():
        row = dispatch_json(asked)
        row["answered_at"] = asked.responded_at or asked.declined_at
        row["answer_minutes"] = _minutes(asked.asked_at, row["answered_at"])
        row["party_kind"] = "unit" if asked.unit_id else "resource"
        rows.append(row)
    return rows


def _located(incident: Incident) -> Located:
    return Located(point=incident.location, how=incident.located_by, region=incident.region)


def _resource_rows(found: dict[str, list[dict]]) -> list[dict]:
    labels = dict(ResourceType.choices)
    return [
        {"type": t, "type_label": labels[t], "items": found.get(t, [])} for t in ResourceType.values
    ]


def _hazard_label(kind: str) -> str:
    if kind == "filling":
        return "加气站 / filling station"
    entry = catalogue.get(kind)
    return in_language(entry.name_zh, entry.name_en) if entry else kind


def incident_facts(user: User, incident: Incident) -> dict:
    """Everything the sheet prints about an incident the user may see (from `sheet_queryset`)."""
    device = None
    if incident.equipment_id is not None:
        device = card_queryset(user).filter(pk=incident.equipment_id).first()
    card = equipment_card(user, device, purpose=PURPOSE) if device is not None else None
    if card is not None:
        entry = catalogue.get(device.kind)
        card["kind_label"] = in_language(entry.name_zh, entry.name_en) if entry else device.kind

    where = _located(incident)
    k = int(conf.value("RESPONSE_NEAREST_K"))
    speed, found = around.resources_around(user, where, k=k, types=list(ResourceType.values))
    radii = around.radii_for(None, None)
    hazards_found, items = around.hazards_around(user, where, radii)
    hazards = json.loads(items)
    for hazard in hazards:
        hazard["kind_label"] = _hazard_label(hazard["kind"])
        hazard["involved"] = hazard["what"] == "equipment" and hazard["id"] == incident.equipment_id

    location = incident.location
    return {
        "incident": incident,
        "fault_meaning": FAULT_CODES.get(incident.fault_code, ""),
        "located_by_label": LocatedBy(incident.located_by).label if incident.located_by else "",
        "given": incident.query if incident.located_by == LocatedBy.COORDINATES else "",
        "lon": location.x,
        "lat": location.y,
        "equipment": card,
        "equipment_hidden": incident.equipment_id is not None and card is None,
        "events": timeline(incident),
        "dispatches": dispatches(incident),
        "arrival": arrival(incident),
        "speed_kmh": speed,
        "resources": _resource_rows(found),
        "hazards": hazards,
        "hazard_radii": [
            {"kind": kind, "label": _hazard_label(kind), "radius_m": radius}
            for kind, radius in radii.items()
        ],
        "hazards_total": hazards_found["total"],
        "hazards_truncated": hazards_found["truncated"],
        "made_at": timezone.now(),
    }


def _responding_parties(incident: Incident) -> list[tuple[str, float, float]]:
    """Parties that answered yes and have a place: (name, lon, lat)."""
    parties = []
    for asked in incident.dispatches.all():
        party = asked.party
        if asked.responded_at and party is not None and party.location is not None:
            parties.append((party.name, party.location.x, party.location.y))
    return parties


def _add_outline(m: folium.Map, region_code: str) -> None:
    if outline := region_outline(region_code):
        add_outline(m, outline[1], name=outline[0], interactive=False)


def _label(
    m: folium.Map, spot: tuple[float, float], text: str, *, west: bool, kind: str = "resource"
) -> None:
    # A permanent label as a marker, not a tooltip: it prints, and needs no hover. The responding
    # party's label hangs below its point, clear of a resource's label on the same line.
    import folium

    side = "west" if west else "east"
    below = -10 if kind == "party" else 8
    folium.Marker(
        spot,
        icon=folium.DivIcon(
            html=f'<span class="sheet-label sheet-label-{kind} sheet-label-{side}">'
            f"{escape(text)}</span>",
            icon_size=(0, 0),
            icon_anchor=(8, below) if west else (-8, below),
        ),
    ).add_to(m)


def _label_west(lon: float, incident_lon: float, frame: tuple[float, float]) -> bool:
    """Whether a label goes left of its point: away from the incident, so labels spread outwards,
    unless that side is too close to the frame's edge (`frame`: its west and east) to hold it."""
    west, east = frame
    where = (lon - west) / (east - west) if east > west else 0.5
    outward_west = lon < incident_lon
    if outward_west and where < LABEL_ROOM:
        return False
    if not outward_west and where > 1 - LABEL_ROOM:
        return True
    return outward_west


def _frame(south: float, west: float, north: float, east: float) -> tuple[float, float]:
    """West and east of what the map shows once fitted: a box taller than the map's shape is
    widened to it (degrees of longitude shrink by cos φ on the Mercator map)."""
    middle = (south + north) / 2
    tall = (north - south) / math.cos(math.radians(middle)) * MAP_WIDTH_PX / MAP_HEIGHT_PX
    half = max(east - west, tall) / 2
    centre = (west + east) / 2
    return centre - half, centre + half


def _distance(metres: float) -> str:
    return f"{metres / 1000:.2f} km" if metres >= 1000 else f"{metres:.0f} m"


def sheet_map(facts: dict) -> dict:
    """The snapshot: incident, equipment, hazards within their radii, nearest resources with their
    straight lines, the responding party; fitted to these, drawn without a basemap."""
    import folium

    incident: Incident = facts["incident"]
    here = (facts["lat"], facts["lon"])
    m = printed_map(location=here, zoom_start=15, width=MAP_WIDTH_PX, height=MAP_HEIGHT_PX)
    _add_outline(m, incident.region_id)
    points = [here]
    labels: list[tuple[tuple[float, float], str, str]] = []

    radii: dict[float, list[str]] = {}
    for entry in facts["hazard_radii"]:
        radii.setdefault(entry["radius_m"], []).append(entry["label"].split(" / ")[0])
    for radius, kinds in sorted(radii.items(), reverse=True):
        folium.Circle(
            here,
            radius=radius,
            color=HAZARD_COLOUR,
            weight=1,
            dash_array="4 4",
            fill=False,
            tooltip=f"{'、'.join(kinds)} {radius:.0f} m",
        ).add_to(m)
    for hazard in facts["hazards"]:
        spot = (hazard["lat"], hazard["lon"])
        folium.CircleMarker(
            spot, radius=5, color=HAZARD_COLOUR, fill=True, fill_opacity=0.8, weight=1
        ).add_to(m)
        points.append(spot)

    for group in facts["resources"]:
        if not group["items"]:
            continue
        nearest = group["items"][0]  # the nearest of each type; the table lists the rest
        spot = (nearest["lat"], nearest["lon"])
        folium.PolyLine([here, spot], color=RESOURCE_COLOUR, weight=1.5, opacity=0.8).add_to(m)
        folium.CircleMarker(
            spot, radius=6, color=RESOURCE_COLOUR, fill=True, fill_opacity=0.9, weight=1
        ).add_to(m)
        text = f"{group['type_label'].split(' / ')[0]} {_distance(nearest['distance_m'])}"
        labels.append((spot, text, "resource"))
        points.append(spot)

    for name, lon, lat in _responding_parties(incident):
        folium.CircleMarker(
            (lat, lon), radius=8, color=PARTY_COLOUR, fill=True, fill_opacity=0.9, weight=2
        ).add_to(m)
        folium.PolyLine([here, (lat, lon)], color=PARTY_COLOUR, weight=2.5).add_to(m)
        away = GEOD.inv(facts["lon"], facts["lat"], lon, lat)[2]
        text = f"{name} {_distance(away)}"
        labels.append(((lat, lon), text, "party"))
        points.append((lat, lon))

    card = facts["equipment"]
    if card and card["lat"] is not None:
        spot = (card["lat"], card["lon"])
        folium.CircleMarker(
            spot, radius=7, color=EQUIPMENT_COLOUR, fill=True, fill_opacity=0.9, weight=2
        ).add_to(m)
        points.append(spot)

    # Drawn last, so it sits on top: a ringed cross no other feature looks like.
    folium.Marker(
        here,
        icon=folium.DivIcon(
            html='<div class="sheet-incident-marker">✚</div>',
            icon_size=(26, 26),
            icon_anchor=(13, 13),
        ),
    ).add_to(m)

    south, north = min(p[0] for p in points), max(p[0] for p in points)
    west, east = min(p[1] for p in points), max(p[1] for p in points)
    # The largest hazard circle is part of the picture even when no hazard lies near its edge.
    reach = max(radii, default=0.0) * 1.05
    dlat = reach / 110_574.0
    dlon = reach / (111_320.0 * math.cos(math.radians(here[0])))
    south, north = min(south, here[0] - dlat), max(north, here[0] + dlat)
    west, east = min(west, here[1] - dlon), max(east, here[1] + dlon)
    m.fit_bounds([[south, west], [north, east]], padding=(28, 28), max_zoom=17)
    for spot, text, kind in labels:
        frame = _frame(south, west, north, east)
        _label(m, spot, text, west=_label_west(spot[1], here[1], frame), kind=kind)
    return map_fragment(m)
