"""Hot spots: Gi* finds a planted cluster of high rates and not a seeded permutation of the same
values; islands and counties without devices are left out and said so; neighbours are the
county polygons' queen contiguity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely
from django.test import Client
from django.utils import timezone

from analysis import desk, hotspots
from geo.models import Region
from tests.analysis.conftest import JINFENG
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN

SIDE = 7
CLUSTER = ["r0c0", "r0c1", "r1c0", "r1c1", "r0c2", "r2c0"]  # adjacent, in a corner


def lattice(side: int = SIDE) -> dict[str, list[str]]:
    """Queen neighbours of a side × side grid of square 'counties'."""
    graph = {}
    for r in range(side):
        for c in range(side):
            graph[f"r{r}c{c}"] = [
                f"r{r + dr}c{c + dc}"
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
                if (dr or dc) and 0 <= r + dr < side and 0 <= c + dc < side
            ]
    return graph


def background(seed: int = 7) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {
        code: float(v)
        for code, v in zip(sorted(lattice()), rng.gamma(2.0, 0.5, SIDE * SIDE), strict=True)
    }


def planted() -> dict[str, float]:
    values = background()
    for code in CLUSTER:
        values[code] += 6.0
    return values


def test_a_planted_cluster_is_hot_at_95_percent():
    result = hotspots.gi_star(planted(), lattice())
    classes = {code: hotspots.classify(*result[code]) for code in result}
    assert all(classes[code] in ("hot_95", "hot_99") for code in CLUSTER[:4]), classes
    # Nothing far from the cluster is hot.
    assert not any(c.startswith("hot") for code, c in classes.items() if code >= "r4")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_random_pattern_of_the_same_values_is_not(seed):
    values = planted()
    shuffled = np.random.default_rng(seed).permutation(list(values.values()))
    result = hotspots.gi_star(dict(zip(sorted(values), shuffled, strict=True)), lattice())
    hot = [code for code, zp in result.items() if hotspots.classify(*zp) in ("hot_95", "hot_99")]
    assert hot == []


def test_the_same_data_give_the_same_classes():
    assert hotspots.gi_star(planted(), lattice()) == hotspots.gi_star(planted(), lattice())


def test_islands_are_left_out():
    graph = lattice()
    graph["island"] = []
    values = planted() | {"island": 100.0}
    result = hotspots.gi_star(values, graph)
    assert "island" not in result and len(result) == SIDE * SIDE


def test_all_zero_rates_find_nothing():
    result = hotspots.gi_star(dict.fromkeys(lattice(), 0.0), lattice())
    assert {hotspots.classify(*zp) for zp in result.values()} == {"none"}


def test_a_county_of_zeros_among_zeros_is_not_a_cold_spot():
    # esda's own pseudo p counts ties the wrong way: a zero among zeros came out p = 0.001.
    values = dict.fromkeys(lattice(), 0.0) | {"r3c3": 5.0, "r6c6": 5.0}
    result = hotspots.gi_star(values, lattice())
    assert not any(hotspots.classify(*zp).startswith("cold") for zp in result.values())


@pytest.mark.parametrize(
    ("z", "p", "expected"),
    [(2.0, 0.005, "hot_99"), (2.0, 0.03, "hot_95"), (1.0, 0.08, "hot_90"), (-2.0, 0.01, "cold_99"),
     (-1.0, 0.05, "cold_95"), (3.0, 0.2, "none")],
)  # fmt: skip
def test_classes(z, p, expected):
    assert hotspots.classify(z, p) == expected


def test_fdr_adjusts_as_benjamini_hochberg():
    p = [0.01, 0.04, 0.03, 0.5]
    # By hand: sorted 0.01, 0.03, 0.04, 0.5 → ×4/1, ×4/2, ×4/3, ×4/4 = 0.04, 0.06, 0.0533, 0.5,
    # then the running minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
    assert np.allclose(hotspots.fdr(p), [0.04, 0.05333333, 0.05333333, 0.5])


def test_contiguity_is_the_polygons_queen_neighbours(db):
    codes = sorted(Region.objects.within_prefix("64").counties().values_list("code", flat=True))
    found = hotspots.contiguity(codes)
    shapes = {
        r.code: shapely.from_wkb(bytes(r.boundary.wkb))
        for r in Region.objects.filter(code__in=codes)
    }
    for a in codes:
        expected = sorted(b for b in codes if b != a and shapes[a].intersects(shapes[b]))
        assert sorted(found[a]) == expected, a
    assert JINFENG in found[XINGQING] and JINFENG in found[XIXIA]


def test_counties_without_devices_are_left_out_and_said_so(registry, users):
    today = timezone.localdate()
    answer = hotspots.hotspots(users["province"], desk.area_of("64"), hotspots.MEASURES["accidents"],
                               today.year, 10, today)  # fmt: skip
    rows = {r["code"]: r for r in answer["counties"]}
    assert rows[JINFENG]["rate"] is None and rows[JINFENG]["excluded"] == "no_devices"
    assert {e["code"] for e in answer["excluded"]} >= {JINFENG}
    # 兴庆区: 1 accident in the period; A, B and D in use today (C cancelled, E suspended).
    xingqing = rows[XINGQING]
    assert (xingqing["numerator"], xingqing["denominator"]) == (1, 3 * 10)
    assert xingqing["rate"] == round(1 * 10_000 / 30, 4)
    # Three counties with devices: too few to test, and each says why.
    assert answer["tested"] == 0
    assert {rows[c]["excluded"] for c in (XINGQING, XIXIA, SHIZUISHAN_DAWUKOU)} == {"too_few"}


def test_the_map_and_the_api_agree_and_stay_in_scope(registry, users):
    client = Client()
    client.force_login(users["city"])
    answer = client.get("/api/analysis/accidents/hotspots", {"measure": "overdue"}).json()
    assert answer["area"]["code"] == YINCHUAN
    geo = client.get("/api/analysis/accidents/hotspots/map", {"measure": "overdue"}).json()
    codes = {f["properties"]["code"] for f in geo["features"]}
    assert codes == {r["code"] for r in answer["counties"]}
    assert all(code.startswith("6401") for code in codes)
    response = client.get("/api/analysis/accidents/hotspots", {"region": NINGXIA})
    assert response.status_code == 400
    assert response.json()["errors"]["region"][0]["rule"] == "region.outside"
    day = dt.date.today()
    assert answer["as_of"] in (day.isoformat(), timezone.localdate().isoformat())
