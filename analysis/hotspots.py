"""Hot spots (热点分析): where high (or low) rates cluster among the counties of an area.

Getis-Ord Gi* (PySAL `esda.G_Local`, star=True: each county counts with its neighbours) on a
RATE per county, never a raw count (a big city has more accidents because it has more devices):

- `accidents`: accidents in the period × 10,000 ÷ (devices in use at the period's end × years),
  accidents per 10,000 devices per year, from the desk's own measures (analysis/figures.py);
- `overdue`: overdue devices today ÷ devices in use today (the map's overdue layer's share).

Neighbours are queen contiguity of the county polygons (sharing an edge or a corner), found by
PostGIS (`ST_Intersects` on the stored boundaries, index-assisted) and handed to
`libpysal.weights.W`. Counties with no device in use have no rate: they are left out and listed.
A county with no neighbour left among the tested ones (an island such as a sea county, or one
cut off by counties left out) cannot be tested and is listed too. Inference is by conditional
permutation (999, a fixed seed, so the same data give the same classes), the pseudo p-values
adjusted for testing every county at once (Benjamini-Hochberg false discovery rate); a county is
hot (cold) at 99 / 95 / 90 % when its Gi* z is positive (negative) and its adjusted p-value is at
most 0.01 / 0.05 / 0.10.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils.translation import gettext_lazy

from geo.basemap import outline_tolerance
from geo.models import Region
from geo.scoping import Scope
from maps.choropleth import county_outlines

from . import desk
from .precomputed import measures

PERMUTATIONS = 999
SEED = 18
MIN_COUNTIES = 5  # fewer tested counties: no pattern to speak of
LEVELS = ((0.01, "99"), (0.05, "95"), (0.10, "90"))


@dataclass(frozen=True)
class Measure:
    key: str
    name: str
    unit: str


MEASURES = {
    "accidents": Measure("accidents", gettext_lazy("万台设备年均事故起数"), "per 10,000"),
    "overdue": Measure("overdue", gettext_lazy("超期未检率"), "share"),
}  # fmt: skip
CLASSES = {
    "hot_99": (gettext_lazy("热点 99 %"), "#b2182b"),
    "hot_95": (gettext_lazy("热点 95 %"), "#ef8a62"),
    "hot_90": (gettext_lazy("热点 90 %"), "#fddbc7"),
    "none": (gettext_lazy("不显著"), "#f7f7f7"),
    "cold_90": (gettext_lazy("冷点 90 %"), "#d1e5f0"),
    "cold_95": (gettext_lazy("冷点 95 %"), "#67a9cf"),
    "cold_99": (gettext_lazy("冷点 99 %"), "#2166ac"),
    "excluded": (gettext_lazy("未参与"), "#bdbdbd"),
}


def parse_measure(raw: str | None) -> Measure:
    key = (raw or "accidents").strip()
    if key not in MEASURES:
        desk.refuse("measure", "measure.unknown", f"应为 / one of {', '.join(MEASURES)}")
    return MEASURES[key]


def classify(z: float, p: float) -> str:
    """The significance class of a Gi* z-score and its pseudo p-value."""
    for alpha, level in LEVELS:
        if p <= alpha:
            return f"hot_{level}" if z > 0 else f"cold_{level}"
    return "none"


def contiguity(codes: list[str]) -> dict[str, list[str]]:
    """Queen neighbours among these counties: polygons sharing at least a point."""
    neighbours: dict[str, list[str]] = {code: [] for code in codes}
    if len(codes) < 2:
        return neighbours
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.code, b.code
              FROM geo_region a
              JOIN geo_region b ON a.code < b.code AND ST_Intersects(a.boundary, b.boundary)
             WHERE a.code = ANY(%s) AND b.code = ANY(%s)
            """,
            [codes, codes],
        )
        for a, b in cursor.fetchall():
            neighbours[a].append(b)
            neighbours[b].append(a)
    return neighbours


def gi_star(
    values: dict[str, float], neighbours: dict[str, list[str]], seed: int = SEED
) -> dict[str, tuple[float, float]]:
    """(z, pseudo p) of Gi* for each county with at least one neighbour among `values`."""
    import numpy as np
    from esda import G_Local
    from libpysal.weights import W

    codes = sorted(values)
    graph = {c: [n for n in neighbours.get(c, []) if n in values] for c in codes}
    # Islands have no neighbourhood to compare with: they are dropped before the test.
    tested = [c for c in codes if graph[c]]
    if len(tested) < MIN_COUNTIES:
        return {}
    while True:  # dropping an island can leave another county without neighbours
        graph = {c: [n for n in graph[c] if n in tested] for c in tested}
        still = [c for c in tested if graph[c]]
        if len(still) == len(tested):
            break
        tested = still
    if len(tested) < MIN_COUNTIES:
        return {}
    y = np.array([values[c] for c in tested], dtype=float)
    if not y.any() or np.allclose(y, y[0]):
        return {c: (0.0, 1.0) for c in tested}  # all equal: nothing stands out
    w = W(graph, id_order=tested, silence_warnings=True)
    w.transform = "B"
    g = G_Local(y, w, transform="B", permutations=PERMUTATIONS, star=True, n_jobs=1, seed=seed,
                keep_simulations=True)  # fmt: skip
    # esda's pseudo p counts ties on the wrong side (a county of rate 0 among zeros comes out
    # p = 0.001): count simulated values as extreme as the observed one, ties included.
    simulated, observed = np.asarray(g.rGs), np.asarray(g.Gs)[:, None]
    tolerance = 1e-12 * max(1.0, float(np.abs(observed).max()))
    as_high = (simulated >= observed - tolerance).sum(axis=1)
    as_low = (simulated <= observed + tolerance).sum(axis=1)
    p = (np.minimum(as_high, as_low) + 1) / (PERMUTATIONS + 1)
    return {c: (float(z), float(q)) for c, z, q in zip(tested, g.Zs, fdr(p), strict=True)}


def fdr(p):
    """Benjamini-Hochberg adjusted p-values: one test per county, so at 95 % about one county in
    twenty would be 'significant' by chance without it."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def rates(
    area: desk.Area, measure: Measure, year: int, years: int, today: dt.date
) -> dict[str, dict]:
    """Every county under the area with its numerator, denominator and rate (None: no device)."""
    period = desk.span_of(year, years)
    figures = measures(Scope(area.prefix), 6, period, today)
    names = dict(Region.objects.within_prefix(area.prefix).counties().values_list("code", "name"))
    out = {}
    for code in sorted(set(names) | {c for c in figures if len(c) == 6}):
        per_year = figures.get(code)
        if measure.key == "accidents":
            numerator = sum(per_year[y].accidents for y in period) if per_year else 0
            devices = per_year[year].in_use if per_year else 0
            denominator = devices * len(period)
            rate = round(numerator * 10_000 / denominator, 4) if denominator else None
        else:
            numerator = per_year[year].overdue if per_year else 0
            denominator = per_year[year].in_use_now if per_year else 0
            rate = round(numerator / denominator, 6) if denominator else None
        out[code] = {"code": code, "name": names.get(code, code), "numerator": numerator,
                     "denominator": denominator, "rate": rate}  # fmt: skip
    return out


def hotspots(
    user, area: desk.Area, measure: Measure, year: int, years: int, today: dt.date
) -> dict[str, Any]:
    """Gi* classes of the area's counties on the measure's rate, with what was left out and why."""
    counties = rates(area, measure, year, years, today)
    valued = {c: r["rate"] for c, r in counties.items() if r["rate"] is not None}
    neighbours = contiguity(sorted(valued)) if len(valued) >= MIN_COUNTIES else {}
    tested = gi_star(valued, neighbours) if neighbours else {}
    rows, excluded = [], []
    for code, row in counties.items():
        if row["rate"] is None:
            reason = "no_devices"
        elif code not in tested:
            reason = "no_neighbours" if tested else "too_few"
        else:
            reason = ""
        z, p = tested.get(code, (None, None))
        klass = classify(z, p) if code in tested else "excluded"
        rows.append({**row, "z": None if z is None else round(z, 4),
                     "p": None if p is None else round(p, 4), "spot": klass, "excluded": reason})  # fmt: skip
        if reason:
            excluded.append({"code": code, "name": row["name"], "reason": reason})
    excluded.sort(key=lambda e: (e["reason"], e["code"]))
    period = desk.span_of(year, years)
    return {
        "area": area.as_dict(),
        "breadcrumb": desk.breadcrumb(user, area),
        "measure": measure.key,
        "measure_name": measure.name,
        "year": year,
        "years": period,
        "as_of": today.isoformat(),
        "method": {
            "statistic": "Getis-Ord Gi*",
            "weights": "queen contiguity (binary)",
            "permutations": PERMUTATIONS,
            "seed": SEED,
            "correction": "Benjamini-Hochberg FDR",
        },  # fmt: skip
        "tested": len(tested),
        "counties": rows,
        "excluded": excluded,
        "counts": {k: sum(1 for r in rows if r["spot"] == k) for k in CLASSES},
        "legend": [
            {"key": k, "label": label, "colour": colour} for k, (label, colour) in CLASSES.items()
        ],
    }


def hotspot_map(
    user, area: desk.Area, measure: Measure, year: int, years: int, today: dt.date
) -> str:
    """The counties as GeoJSON (maps.choropleth's outlines) with their rate, Gi* and class colour."""
    answer = hotspots(user, area, measure, year, years, today)
    by_code = {row["code"]: row for row in answer["counties"]}
    tolerance = outline_tolerance(Scope.of(user).prefix or "")
    features = []
    # The nation's 2,800-odd county outlines are too many to draw on a request: there, only the
    # counties with a rate are drawn (the others are in the table and the file, as not tested).
    only = None if area.prefix else [c for c, row in by_code.items() if row["rate"] is not None]
    for code, name, level, outline, label in county_outlines(area.prefix, tolerance, only):
        row = by_code.get(code, {})
        klass = row.get("spot", "excluded")
        properties = {
            "code": code, "name": name, "level": level, "value": row.get("rate"),
            "z": row.get("z"), "p": row.get("p"), "spot": klass, "fill": CLASSES[klass][1],
            "label_point": [round(label.x, 5), round(label.y, 5)] if label else None,
        }  # fmt: skip
        features.append(
            f'{{"type":"Feature","id":"{code}","properties":'
            f'{json.dumps(properties, ensure_ascii=False, cls=DjangoJSONEncoder)},"geometry":{outline}}}'
        )
    head = {k: answer[k] for k in ("area", "measure", "year", "tested", "counts", "legend")}
    members = json.dumps(head, ensure_ascii=False, cls=DjangoJSONEncoder)[1:-1]
    return f'{{"type":"FeatureCollection",{members},"features":[' + ",".join(features) + "]}"
