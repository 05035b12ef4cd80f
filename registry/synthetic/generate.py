"""Generate a province's registry: units, devices, inspections, history, people, accidents, resources.

Everything is drawn from one seeded generator, county by county, and written with COPY, so the same
code makes a demo of tens of thousands of devices in seconds and national scale for benchmarks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import queue
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from shapely import wkb
from tqdm import tqdm

from accounts.models import Agency
from geo.divisions import PROVINCE_ABBREVIATIONS
from geo.models import Region

from .. import personal
from ..intervals import RuleBook, add_months
from ..models import Equipment
from . import codes, names, profiles
from .columns import (
    ACCIDENT_COLUMNS,
    CERTIFICATE_COLUMNS,
    EQUIPMENT_COLUMNS,
    EVENT_COLUMNS,
    FLUSH_ORDER,
    INSPECTION_COLUMNS,
    PERSON_COLUMNS,
    RESOURCE_COLUMNS,
    UNIT_COLUMNS,
)
from .copy import copy_rows, next_ids
from .devices import DeviceFactory, SharedUnits, ewkb
from .draw import Draw
from .places import County, jitter_inside, place_city_cores, sample_points

# Operator certificates (特种设备作业人员) by equipment kind: (item code, name).
OPERATOR_ITEMS = {
    "1000": ("G1", "工业锅炉司炉"),
    "2000": ("R1", "快开门式压力容器操作"),
    "4000": ("Q2", "起重机司机"),
    "5000": ("N1", "叉车司机"),
}


@dataclass
class DemoReport:
    rows: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0


def _with_srid(xs: np.ndarray, ys: np.ndarray) -> list[str]:
    points = shapely.set_srid(shapely.points(xs, ys), 4326)
    return list(shapely.to_wkb(points, hex=True, include_srid=True))


class _Generator:
    def __init__(
        self,
        *,
        prefix: str,
        devices: int,
        seed: int,
        today: dt.date,
        progress: bool,
        history_years: int = 10,
    ):
        self.prefix, self.total_devices, self.today, self.progress = (
            prefix,
            devices,
            today,
            progress,
        )
        self.rng = np.random.default_rng(seed)
        self.draw = Draw(seed)
        self.devices = DeviceFactory(
            draw=self.draw,
            rules=RuleBook.from_database(),
            today=today,
            province_abbr=PROVINCE_ABBREVIATIONS.get(prefix[:2], "宁"),
            history_years=history_years,
        )
        self.report = DemoReport()
        self.now = timezone.now()
        self.buffers: dict[str, list] = defaultdict(lambda: [None, []])
        self.id_blocks: dict[str, range] = {}
        self.credit_serial = int(self.rng.integers(10**6, 10**7))
        self.national_ids: set[str] = set()

    # --- helpers -----------------------------------------------------------------------
    def _credit_code(self, division: str) -> str:
        self.credit_serial += self.draw.integers(1, 5000)
        return codes.credit_code(division, self.credit_serial)

    def _copy(self, table: str, columns, rows) -> None:
        self.buffers[table][1].extend(rows)
        self.buffers[table][0] = columns

    def _take(self) -> dict[str, list]:
        """The rows made since the last call, by table, ready for `_write`."""
        taken, self.buffers = self.buffers, defaultdict(lambda: [None, []])
        return taken

    def _write(self, buffers: dict[str, list]) -> None:
        # Referenced tables first, so the rows are in an order a reader of the COPY stream can follow.
        for table in FLUSH_ORDER:
            columns, rows = buffers.get(table, (None, []))
            if rows:
                self.report.rows[table] += copy_rows(table, columns, rows)

    def _produce(
        self,
        counties: list[County],
        plan: dict[str, Counter],
        shared: SharedUnits,
        out: queue.Queue,
        stop: threading.Event,
    ) -> None:
        """Make each county's rows in this thread while the caller's thread writes the previous county."""
        try:
            for county in counties:
                if stop.is_set():
                    return
                out.put(self._county(county, plan[county.code], shared))
            out.put(None)
        except BaseException as error:  # handed to the writing thread, which raises it
            out.put(error)

    def _ids(self, table: str, count: int) -> range:
        block = self.id_blocks[table]
        taken, self.id_blocks[table] = block[:count], block[count:]
        if len(taken) < count:
            raise RuntimeError(f"{table}: reserved id block exhausted")
        return taken

    def _units(
        self,
        county: County,
        count: int,
        roles: list[str],
        suffixes: list[str],
        spread: float,
        prefix_name: str = "",
    ):
        ids = self._ids("registry_unit", count)
        xs, ys = sample_points(self.rng, county, count, spread=spread)
        locations = _with_srid(xs, ys)
        rows = []
        for i, unit_id in enumerate(ids):
            name = f"{prefix_name or county.name.rstrip('区县市')}{names.firm_word(self.draw)}{self.draw.choice(suffixes)}"
            rows.append((
                unit_id, self._credit_code(county.code), name, roles,
                names.address(self.draw, county.name), locations[i], county.code, names.person_name(self.draw),
                names.mobile(self.draw), self.now, self.now,
            ))  # fmt: skip
        self._copy("registry_unit", UNIT_COLUMNS, rows)
        return list(ids), xs, ys

    # --- the run ---------------------------------------------------------------------
    def counties(self) -> list[County]:
        regions = Region.objects.counties().within_prefix(self.prefix).order_by("code")
        counties = [
            County(
                r.code,
                r.name,
                r.parent_id or r.code[:4] + "00",
                wkb.loads(bytes(r.boundary.wkb)),
                r.is_city_district,
            )
            for r in regions
        ]
        if not counties:
            raise ValueError(
                f"no counties loaded under {self.prefix!r}: load boundaries first (load_boundaries --cnmaps {self.prefix})"
            )
        place_city_cores(counties)
        return counties

    def run(self) -> DemoReport:
        started = time.perf_counter()
        counties = self.counties()
        # Codes are numbered from 1 per county: a second run over the same counties would collide.
        existing = Equipment.objects.filter(region__code__startswith=self.prefix).count()
        if existing:
            raise ValueError(
                f"{existing} devices are already registered under {self.prefix!r}: generate into counties with no devices"
            )
        self.devices.overdue_factor = self._overdue_factors(counties)
        kinds = list(profiles.KIND_SHARE)
        share = np.array([profiles.KIND_SHARE[k] for k in kinds])
        kind_counts = self.rng.multinomial(self.total_devices, share / share.sum())
        # Devices of each kind spread over counties by the owning profile's urban/rural weights.
        plan: dict[str, Counter] = defaultdict(Counter)
        for kind, count in zip(kinds, kind_counts, strict=True):
            urban_w, rural_w = profiles.COUNTY_WEIGHT[profiles.PROFILE_OF_KIND[kind]]
            weights = np.array([urban_w if c.urban else rural_w for c in counties])
            for county, n in zip(
                counties, self.rng.multinomial(count, weights / weights.sum()), strict=True
            ):
                plan[county.code][kind] = int(n)
        with transaction.atomic():
            # Ids are reserved once, with room to spare, so rows can reference each other before COPY.
            self.id_blocks = {
                "registry_unit": next_ids("registry_unit", self.total_devices + 1000),
                "registry_equipment": next_ids("registry_equipment", self.total_devices),
                "registry_person": next_ids("registry_person", 2 * self.total_devices + 10_000),
            }
            shared = self._shared(counties, plan)
            self._write(self._take())
            # Generating is Python and holds the interpreter; writing mostly waits for PostgreSQL, which
            # runs on another core. A producer thread overlaps the two. The connection (and so the one
            # transaction) stays in this thread.
            batches: queue.Queue = queue.Queue(maxsize=2)
            stop = threading.Event()
            producer = threading.Thread(
                target=self._produce, args=(counties, plan, shared, batches, stop), daemon=True
            )
            producer.start()
            try:
                with tqdm(
                    total=len(counties), desc="counties", unit="county", disable=not self.progress
                ) as bar:
                    while (batch := batches.get()) is not None:
                        if isinstance(batch, BaseException):
                            raise batch
                        self._write(batch)
                        bar.update()
            finally:
                stop.set()
                while producer.is_alive():  # unblock a producer waiting on a full queue
                    with contextlib.suppress(queue.Empty):
                        batches.get(timeout=0.1)
            self._agencies(counties)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _overdue_factors(self, counties: list[County]) -> dict[str, float]:
        """Overdue inspections cluster where an inspection body is short of staff: a factor per
        city (lognormal, mean about 1), higher in rural counties, so the overdue share varies in
        space as it does in reality and the hot-spot analysis has a pattern to find."""
        cities = sorted({c.city_code for c in counties})
        by_city = dict(zip(cities, self.rng.lognormal(-0.18, 0.6, len(cities)), strict=True))
        return {c.code: float(by_city[c.city_code]) * (0.8 if c.urban else 1.3) for c in counties}

    def _shared(self, counties: list[County], plan: dict[str, Counter]) -> SharedUnits:
        by_city: dict[str, list[County]] = defaultdict(list)
        for c in counties:
            by_city[c.city_code].append(c)
        capital = max(counties, key=lambda c: (c.urban, sum(plan[c.code].values())))
        manufacturer_ids, _, _ = self._units(
            capital,
            30,
            ["manufacture", "installation"],
            ["电梯有限公司", "起重机械有限公司", "锅炉有限公司", "压力容器制造有限公司"],
            0.2,
        )
        makers = [
            (uid, f"{chr(65 + i % 26)}{int(self.draw.integers(1000, 9999))}")
            for i, uid in enumerate(manufacturer_ids)
        ]
        maintenance: dict[str, list[int]] = {}
        bodies: dict[str, int] = {}
        inspectors: dict[int, list[int]] = {}
        for city_code, city_counties in by_city.items():
            elevators = sum(plan[c.code]["3000"] for c in city_counties)
            hub = max(city_counties, key=lambda c: (c.urban, plan[c.code]["3000"]))
            n_maint = max(2, math.ceil(elevators / 150))
            ids, xs, ys = self._units(
                hub,
                n_maint,
                ["maintenance", "installation"],
                ["电梯工程有限公司", "电梯维修有限公司", "机电设备有限公司"],
                0.15,
            )
            maintenance[city_code] = ids
            self._copy("registry_emergencyresource", RESOURCE_COLUMNS, [
                (f"维保站点 {i + 1}", "maintenance_station", "电梯困人救援", names.person_name(self.draw), names.mobile(self.draw), "24h",
                 ewkb(x, y), names.address(self.draw, hub.name), hub.code, uid)
                for i, (uid, x, y) in enumerate(zip(ids, xs, ys, strict=True))
            ])  # fmt: skip
            body_ids, _, _ = self._units(
                hub, 1, ["inspection"], ["特种设备检验所"], 0.1, prefix_name=hub.name
            )
            bodies[city_code] = body_ids[0]
            inspectors[body_ids[0]] = self._people(
                hub, body_ids[0], "inspector", int(self.draw.integers(8, 16)), ("检验员", "RQ-1")
            )
            for uid in ids:
                self._people(
                    hub, uid, "maintenance", int(self.draw.integers(6, 25)), ("电梯修理", "T")
                )
        return SharedUnits(makers, maintenance, bodies, inspectors)

    def _people(
        self,
        county: County,
        employer: int | None,
        role: str,
        count: int,
        certificate: tuple[str, str] | None,
    ) -> list[int]:
        ids = list(self._ids("registry_person", count))
        people, certs = [], []
        for pid in ids:
            born = dt.date(
                int(self.draw.integers(1965, 2001)),
                int(self.draw.integers(1, 13)),
                int(self.draw.integers(1, 29)),
            )
            national_id = codes.national_id(county.code, born, int(self.draw.integers(0, 1000)))
            while national_id in self.national_ids:  # one person per ID (a unique constraint)
                national_id = codes.national_id(county.code, born, int(self.draw.integers(0, 1000)))
            self.national_ids.add(national_id)
            people.append((
                pid, names.person_name(self.draw), role, employer, county.code, personal.encrypt(national_id),
                personal.lookup_hash(national_id), personal.mask_national_id(national_id), names.mobile(self.draw),
            ))  # fmt: skip
            if certificate:
                issued = self.today - dt.timedelta(days=int(self.draw.integers(30, 4 * 365)))
                certs.append(
                    (
                        pid,
                        certificate[0],
                        certificate[1],
                        f"{certificate[1]}{county.code}{pid:08d}",
                        issued,
                        add_months(issued, 48),
                        f"{county.name}市场监督管理局",
                    )
                )
        self._copy("registry_person", PERSON_COLUMNS, people)
        self._copy("registry_certificate", CERTIFICATE_COLUMNS, certs)
        return ids

    def _county(self, county: County, kinds: Counter, shared: SharedUnits) -> dict[str, list]:
        rng = self.rng
        by_profile: dict[str, list[str]] = defaultdict(list)
        for kind, n in kinds.items():
            by_profile[profiles.PROFILE_OF_KIND[kind]] += [kind] * n
        equipment, inspections, events, accidents = [], [], [], []
        city_letter = (
            chr(65 + int(county.city_code[2:4]) - 1)
            if county.city_code[2:4].isdigit() and county.city_code[2:4] != "00"
            else "A"
        )
        maintenance = shared.maintenance_by_city.get(county.city_code) or next(
            iter(shared.maintenance_by_city.values())
        )
        body = shared.bodies_by_city.get(county.city_code) or next(
            iter(shared.bodies_by_city.values())
        )
        inspectors = shared.inspectors_by_body[body]
        for profile, kind_list in by_profile.items():
            if not kind_list:
                continue
            rng.shuffle(kind_list)
            n_units = max(1, math.ceil(len(kind_list) / 4.5))
            spread = 0.08 if profile == "elevator" and county.urban else 0.2
            unit_ids, ux, uy = self._units(
                county, n_units, ["use"], names.USE_UNIT_SUFFIXES[profile], spread
            )
            # Heavy tails: a few property managers and plants hold many devices, most hold one or two.
            weights = rng.pareto(1.2, n_units) + 1
            owner = rng.choice(n_units, size=len(kind_list), p=weights / weights.sum())
            dx, dy = jitter_inside(
                rng, county, ux[owner], uy[owner], 150 if profile == "elevator" else 400
            )
            device_ids = self._ids("registry_equipment", len(kind_list))
            for i, (device_id, kind) in enumerate(zip(device_ids, kind_list, strict=True)):
                unit_index = int(owner[i])
                row, history, lifecycle, accident = self.devices.device(
                    device_id, kind, county, city_letter, unit_ids[unit_index], float(dx[i]), float(dy[i]),
                    maintenance, body, inspectors, shared,
                )  # fmt: skip
                equipment.append(row)
                inspections += history
                events += lifecycle
                if accident:
                    accidents.append(accident)
            operators = [k for k in kind_list if k in OPERATOR_ITEMS]
            for unit_index in range(min(n_units, max(0, len(operators) // 3))):
                item = OPERATOR_ITEMS[operators[unit_index % len(operators)]]
                self._people(
                    county,
                    unit_ids[unit_index],
                    "operator",
                    self.draw.integers(1, 4),
                    (f"特种设备作业人员证（{item[1]}）", item[0]),
                )
        self._copy("registry_equipment", EQUIPMENT_COLUMNS, equipment)
        self._copy("registry_inspection", INSPECTION_COLUMNS, inspections)
        self._copy("registry_lifecycleevent", EVENT_COLUMNS, events)
        self._copy("registry_accident", ACCIDENT_COLUMNS, accidents)
        self._resources(county)
        return self._take()

    def _resources(self, county: County) -> None:
        rng = self.draw
        specs = [
            ("fire_station", "消防救援站", "破拆、救援", 2 if county.urban else 1),
            ("hospital", "人民医院", "急救", 1),
            ("rescue_team", "特种设备应急救援队", "县级备勤", 1),
        ]
        if county.urban and county.code[4:6] in ("02", "04"):
            specs += [
                ("hazmat_team", "危险化学品处置队", "泄漏、堵漏", 1),
                ("lifting_depot", "大型起重设备库", "50t 汽车吊", 1),
            ]
        rows = []
        for resource_type, label, capability, count in specs:
            xs, ys = sample_points(self.rng, county, count, spread=0.1)
            for i in range(count):
                rows.append(
                    (
                        f"{county.name}{label}{'' if count == 1 else i + 1}",
                        resource_type,
                        capability,
                        names.person_name(rng),
                        names.mobile(rng),
                        "24h",
                        ewkb(float(xs[i]), float(ys[i])),
                        names.address(rng, county.name),
                        county.code,
                        None,
                    )
                )
        self._copy("registry_emergencyresource", RESOURCE_COLUMNS, rows)

    def _agencies(self, counties: list[County]) -> None:
        codes_needed = (
            {self.prefix[:2] + "0000"}
            | {c.city_code for c in counties}
            | {c.code for c in counties}
        )
        regions = {r.code: r for r in Region.objects.filter(code__in=codes_needed)}
        seats = demo_seats(counties, self.prefix[:2])
        # Regions without a loaded seat (load_seats) get a plausible one: where the demo's people
        # cluster (a county's core), a city's where its districts meet, a province's at its capital.
        for code, region in regions.items():
            if region.seat is not None:
                seats[code] = region.seat.coords
            elif code in seats:
                Region.objects.filter(code=code).update(seat=Point(*seats[code], srid=4326))
        existing = set(
            Agency.objects.filter(region__in=regions).values_list("region_id", flat=True)
        )
        Agency.objects.bulk_create(
            Agency(
                name=f"{r.name}市场监督管理局",
                level=r.level,
                region=r,
                # The bureau sits at its region's seat, as most do.
                office=Point(*seats[code], srid=4326) if code in seats else None,
            )
            for code, r in sorted(regions.items())
            if code not in existing
        )
        self.report.rows["accounts_agency"] += len(regions) - len(existing)


def demo_seats(counties: list[County], province: str) -> dict[str, tuple[float, float]]:
    """Plausible seats for the demo: each county's centre, each city's the mean of its counties'
    (its districts' core when it has them), the province's that of its capital city (xx01)."""
    seats = {c.code: c.centre for c in counties}
    by_city: dict[str, list[County]] = {}
    for county in counties:
        by_city.setdefault(county.city_code, []).append(county)
    for city, members in by_city.items():
        core = [c for c in members if c.core is not None] or members
        seats[city] = (
            sum(c.centre[0] for c in core) / len(core),
            sum(c.centre[1] for c in core) / len(core),
        )
    capital = f"{province}0100"
    if capital in seats:
        seats[f"{province}0000"] = seats[capital]
    return seats


def generate(
    *,
    prefix: str,
    devices: int,
    seed: int = 2026,
    today: dt.date | None = None,
    progress: bool = True,
    history_years: int = 10,
) -> DemoReport:
    """Generate `devices` devices (and everything around them) in the loaded counties under `prefix`,
    with the inspections of the last `history_years` years."""
    report = _Generator(
        prefix=prefix,
        devices=devices,
        seed=seed,
        today=today or timezone.localdate(),
        progress=progress,
        history_years=history_years,
    ).run()
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE registry_equipment; ANALYZE registry_unit; ANALYZE registry_inspection"
        )
    return report
