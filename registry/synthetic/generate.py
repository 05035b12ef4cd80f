"""Generate a province's registry: units, devices, inspections, history, people, accidents, resources.

Everything is drawn from one seeded generator, county by county, and written with COPY, so the same
code makes a demo of tens of thousands of devices in seconds and national scale for benchmarks.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb
from shapely import wkb
from tqdm import tqdm

from accounts.models import Agency
from geo.divisions import PROVINCE_ABBREVIATIONS
from geo.models import Region

from .. import catalogue, personal
from ..intervals import RuleBook, add_months
from ..models import Equipment
from . import codes, names, profiles
from .copy import copy_rows, next_ids
from .draw import Draw
from .places import County, jitter_inside, sample_points

UNIT_COLUMNS = (
    "id",
    "credit_code",
    "name",
    "roles",
    "address",
    "location",
    "region_id",
    "contact_name",
    "contact_phone",
    "created_at",
    "updated_at",
)
EQUIPMENT_COLUMNS = (
    "id",
    "device_code",
    "registration_code",
    "certificate_number",
    "rescue_id",
    "variety_id",
    "kind",
    "status",
    "location",
    "route",
    "source_crs",
    "address",
    "region_id",
    "declared_region_code",
    "region_mismatch",
    "use_unit_id",
    "maintenance_unit_id",
    "manufacturer_id",
    "installer_id",
    "manufactured_on",
    "commissioned_on",
    "params",
    "next_inspection_due",
    "created_at",
    "updated_at",
)
INSPECTION_COLUMNS = (
    "equipment_id",
    "body_id",
    "inspector_id",
    "kind",
    "inspected_on",
    "conclusion",
    "defects",
    "defect_notes",
    "report_number",
    "next_due",
)
EVENT_COLUMNS = ("equipment_id", "kind", "occurred_on", "unit_id", "details", "recorded_at")
PERSON_COLUMNS = (
    "id",
    "name",
    "role",
    "employer_id",
    "region_id",
    "national_id_encrypted",
    "national_id_hash",
    "national_id_masked",
    "phone",
)
CERTIFICATE_COLUMNS = (
    "person_id",
    "kind",
    "item_code",
    "number",
    "issued_on",
    "expires_on",
    "issuer",
)
ACCIDENT_COLUMNS = (
    "occurred_at",
    "location",
    "address",
    "region_id",
    "equipment_id",
    "unit_id",
    "kind",
    "severity",
    "deaths",
    "injuries",
    "direct_loss",
    "cause_class",
    "investigation_status",
    "description",
)
RESOURCE_COLUMNS = (
    "name",
    "resource_type",
    "capability",
    "contact_name",
    "contact_phone",
    "duty_hours",
    "location",
    "address",
    "region_id",
    "unit_id",
)

FLUSH_ORDER = (
    "registry_unit", "registry_person", "registry_certificate", "registry_equipment", "registry_inspection",
    "registry_lifecycleevent", "registry_accident", "registry_emergencyresource",
)  # fmt: skip

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


@dataclass
class _SharedUnits:
    manufacturers: list[tuple[int, str]]  # (unit id, maker code)
    maintenance_by_city: dict[str, list[int]]
    bodies_by_city: dict[str, int]
    inspectors_by_body: dict[int, list[int]]
    installers: list[int]


def _ewkb(x: float, y: float) -> str:
    """Hex EWKB of a WGS84 point (little-endian, SRID flag), which COPY hands to PostGIS as is."""
    return "0101000020E6100000" + struct.pack("<dd", x, y).hex()


def _with_srid(xs: np.ndarray, ys: np.ndarray) -> list[str]:
    points = shapely.set_srid(shapely.points(xs, ys), 4326)
    return list(shapely.to_wkb(points, hex=True, include_srid=True))


class _Generator:
    def __init__(self, *, prefix: str, devices: int, seed: int, today: dt.date, progress: bool):
        self.prefix, self.total_devices, self.today, self.progress = (
            prefix,
            devices,
            today,
            progress,
        )
        self.rng = np.random.default_rng(seed)
        self.draw = Draw(seed)
        self.rules = RuleBook.from_database()
        self.report = DemoReport()
        self.now = timezone.now()
        self.counters: dict[tuple, int] = defaultdict(int)
        self.buffers: dict[str, list] = defaultdict(lambda: [None, []])
        self.id_blocks: dict[str, range] = {}
        self.credit_serial = int(self.rng.integers(10**6, 10**7))
        self.province_abbr = PROVINCE_ABBREVIATIONS.get(prefix[:2], "宁")

    # --- helpers -----------------------------------------------------------------------
    def _next(self, *key) -> int:
        self.counters[key] += 1
        return self.counters[key]

    def _credit_code(self, division: str) -> str:
        self.credit_serial += self.draw.integers(1, 5000)
        return codes.credit_code(division, self.credit_serial)

    def _copy(self, table: str, columns, rows) -> None:
        self.buffers[table][1].extend(rows)
        self.buffers[table][0] = columns

    def _flush(self) -> None:
        # Referenced tables first: foreign keys are checked row by row during COPY.
        for table in FLUSH_ORDER:
            columns, rows = self.buffers.pop(table, (None, []))
            if rows:
                self.report.rows[table] += copy_rows(table, columns, rows)

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
                r.name.endswith("区"),
            )
            for r in regions
        ]
        if not counties:
            raise ValueError(
                f"no counties loaded under {self.prefix!r}: load boundaries first (load_boundaries --cnmaps {self.prefix})"
            )
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
            self._flush()
            for county in tqdm(counties, desc="counties", unit="county", disable=not self.progress):
                self._county(county, plan[county.code], shared)
            self._agencies(counties)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _shared(self, counties: list[County], plan: dict[str, Counter]) -> _SharedUnits:
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
                 _ewkb(x, y), names.address(self.draw, hub.name), hub.code, uid)
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
        return _SharedUnits(makers, maintenance, bodies, inspectors, [uid for uid, _ in makers])

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

    def _county(self, county: County, kinds: Counter, shared: _SharedUnits) -> None:
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
                row, history, lifecycle, accident = self._device(
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
        self._flush()

    def _device(
        self,
        device_id,
        kind,
        county,
        city_letter,
        use_unit,
        x,
        y,
        maintenance,
        body,
        inspectors,
        shared,
    ):
        rng, today = self.draw, self.today
        varieties = profiles.VARIETY_SHARE[kind]
        variety = str(rng.choice(list(varieties), p=list(varieties.values())))
        params = profiles.params_for(kind, variety, rng, county.urban)
        # The fleet grows about 8 % a year, so ages are roughly exponential.
        age_days = int(min(rng.exponential(1 / math.log(1.08)) * 365, 30 * 365)) + 30
        manufactured = today - dt.timedelta(days=age_days + int(rng.integers(30, 365)))
        commissioned = manufactured + dt.timedelta(days=int(rng.integers(30, 365)))
        commissioned = min(commissioned, today - dt.timedelta(days=30))
        maker_id, maker_code = shared.manufacturers[int(rng.integers(0, len(shared.manufacturers)))]
        if (
            rng.random() < 0.1
        ):  # assigned by the registration authority: its division code instead of the maker's
            device_code = codes.device_code(
                variety,
                county.code,
                manufactured.year,
                self._next("dc19", variety, county.code, manufactured.year),
            )
        else:
            device_code = codes.device_code(
                variety,
                maker_code,
                manufactured.year,
                self._next("dc", variety, maker_code, manufactured.year),
            )
        registration_code = ""
        if commissioned.year < 2017:
            registration_code = codes.registration_code(
                variety,
                county.code,
                commissioned,
                self._next("rc", variety[:2], county.code, commissioned.strftime("%Y%m")),
            )
        kind_char = catalogue.certificate_kind_char(variety)
        certificate = codes.certificate_number(
            kind_char,
            variety,
            self.province_abbr,
            city_letter,
            self._next("cert", county.city_code, kind_char),
            commissioned.year,
        )
        rescue_id = ""
        if kind == "3000":
            # Six digits, unique within the city (up to 900,000 elevators), not sequential across cities.
            city_offset = int(county.city_code) * 7919 % 900_000
            rescue_id = (
                f"{100_000 + (city_offset + self._next('96333', county.city_code)) % 900_000:06d}"
            )
        status = str(
            rng.choice(["in_use", "suspended", "cancelled", "scrapped"], p=[0.94, 0.03, 0.02, 0.01])
        )
        stopped = None
        if status != "in_use":
            stopped = commissioned + dt.timedelta(
                days=int(rng.integers(1, max(2, (today - commissioned).days)))
            )
        maintainer = (
            int(maintenance[int(rng.integers(0, len(maintenance)))]) if kind == "3000" else None
        )
        history, next_due = self._inspections(
            device_id,
            kind,
            variety,
            params,
            commissioned,
            stopped or today,
            body,
            inspectors,
            status == "in_use",
        )
        location = route = None
        if kind == "8000":
            route = self._route(county, x, y)
        else:
            location = _ewkb(x, y)
        declared = county.code
        if rng.random() < 0.004:  # legacy records sometimes declare another county of the city
            declared = county.city_code[:4] + f"{int(rng.integers(1, 30)):02d}"
        mismatch = declared != county.code
        row = (
            device_id, device_code, registration_code, certificate, rescue_id, variety, kind, status, location, route, "wgs84",
            names.address(rng, county.name), county.code, declared, mismatch, use_unit, maintainer, maker_id,
            maker_id if kind != "3000" else (maintainer or maker_id), manufactured, commissioned, Jsonb(params), next_due, self.now, self.now,
        )  # fmt: skip
        lifecycle = [
            (device_id, "manufacture", manufactured, maker_id, Jsonb({}), self.now),
            (
                device_id,
                "installation",
                commissioned - dt.timedelta(days=int(rng.integers(5, 30))),
                maker_id,
                Jsonb({}),
                self.now,
            ),
            (
                device_id,
                "registration",
                commissioned,
                use_unit,
                Jsonb({"certificate_number": certificate}),
                self.now,
            ),
        ]
        if rng.random() < 0.05:
            repaired = commissioned + dt.timedelta(
                days=int(rng.integers(1, max(2, (today - commissioned).days)))
            )
            lifecycle.append(
                (
                    device_id,
                    str(rng.choice(["modification", "major_repair"])),
                    repaired,
                    maintainer or maker_id,
                    Jsonb({}),
                    self.now,
                )
            )
        if stopped:
            event = {
                "suspended": "suspension",
                "cancelled": "cancellation",
                "scrapped": "cancellation",
            }[status]
            lifecycle.append(
                (device_id, event, stopped, use_unit, Jsonb({"status": status}), self.now)
            )
        accident = None
        years = ((stopped or today) - commissioned).days / 365.25
        if rng.random() < profiles.ACCIDENT_RATE * years:
            accident = self._accident(
                device_id, kind, county, use_unit, x, y, commissioned, stopped or today
            )
        return row, history, lifecycle, accident

    def _inspections(
        self, device_id, kind, variety, params, commissioned, until, body, inspectors, in_use
    ):
        rng = self.draw
        history = []
        regular = self.rules.interval_months(variety, params)
        months = self.rules.interval_months(variety, params, first=True)
        last, next_due = commissioned, None
        while months:
            due = add_months(last, months)
            if due > until:
                next_due = due
                break
            inspected = due - dt.timedelta(days=int(rng.integers(0, 45)))
            conclusion = str(
                rng.choice(list(profiles.CONCLUSION_P), p=list(profiles.CONCLUSION_P.values()))
            )
            history.append([inspected, conclusion])
            if conclusion == "fail":  # repaired and re-inspected within weeks
                inspected = inspected + dt.timedelta(days=int(rng.integers(15, 60)))
                if inspected <= until:
                    history.append([inspected, "pass"])
            last, months = inspected, regular
            if last > until:
                break
        overdue = in_use and history and rng.random() < profiles.OVERDUE_RATE[kind]
        if overdue:
            if rng.random() < 0.2:
                history[-1][1] = "fail"  # failed and never re-inspected: no next date
            else:
                history.pop()  # the last inspection never happened
        rows = []
        # Keep the last eight years: older paper records were never digitised.
        horizon = self.today - dt.timedelta(days=8 * 365)
        for inspected, conclusion in history:
            due = None if conclusion == "fail" else add_months(inspected, regular)
            if inspected < horizon:
                next_due = due
                continue
            defects = int(rng.poisson(0.2)) + (2 if conclusion == "fail" else 0)
            rows.append((
                device_id, body, int(inspectors[int(rng.integers(0, len(inspectors)))]), "periodic", inspected, conclusion,
                defects, "安全保护装置失效" if conclusion == "fail" else "", f"DJ{inspected:%Y}{device_id:09d}{len(rows)}", due,
            ))  # fmt: skip
        if history:
            next_due = rows[-1][-1] if rows else next_due
        return rows, next_due

    def _route(self, county: County, x: float, y: float) -> str:
        rng = self.draw
        points = [(x, y)]
        for _ in range(int(rng.integers(2, 6))):
            step = rng.uniform(300, 900) / 111_000
            angle = rng.uniform(0, 2 * math.pi)
            points.append(
                (
                    points[-1][0] + step * math.cos(angle) / math.cos(math.radians(y)),
                    points[-1][1] + step * math.sin(angle),
                )
            )
        xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        # The longest start of the walk that stays in the county (a vertex or a segment may leave it).
        for keep in range(len(xs), 1, -1):
            route = shapely.linestrings(xs[:keep], ys[:keep])
            if county.boundary.contains(route):
                break
        else:  # even the first step leaves: shorten it towards the start, which is inside
            dx, dy = xs[1] - x, ys[1] - y
            for _ in range(40):
                dx, dy = dx / 2, dy / 2
                route = shapely.linestrings([x, x + dx], [y, y + dy])
                if county.boundary.contains(route):
                    break
        line = shapely.set_srid(shapely.multilinestrings([route]), 4326)
        return shapely.to_wkb(line, hex=True, include_srid=True)

    def _accident(self, device_id, kind, county, use_unit, x, y, start, end):
        rng = self.draw
        when = start + dt.timedelta(days=int(rng.integers(0, max(1, (end - start).days))))
        deaths = int(rng.choice([0, 1, 1, 1, 2, 3], p=[0.25, 0.25, 0.2, 0.15, 0.1, 0.05]))
        severity = "ordinary" if deaths < 3 else "large"
        cause = str(rng.choice(["use_management", "defect", "safety_device"], p=[0.82, 0.1, 0.08]))
        moment = timezone.make_aware(
            dt.datetime.combine(when, dt.time(int(rng.integers(6, 22)), int(rng.integers(0, 60))))
        )
        return (
            moment, _ewkb(x, y), names.address(rng, county.name), county.code, device_id, use_unit,
            str(rng.choice(profiles.ACCIDENT_KINDS[kind])), severity, deaths, int(rng.integers(0, 4)),
            round(float(rng.lognormal(3, 1)), 2), cause, "closed" if when < self.today - dt.timedelta(days=180) else "open", "",
        )  # fmt: skip

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
                        _ewkb(float(xs[i]), float(ys[i])),
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
        existing = set(
            Agency.objects.filter(region__in=regions).values_list("region_id", flat=True)
        )
        Agency.objects.bulk_create(
            Agency(name=f"{r.name}市场监督管理局", level=r.level, region=r)
            for code, r in sorted(regions.items())
            if code not in existing
        )
        self.report.rows["accounts_agency"] += len(regions) - len(existing)


def generate(
    *,
    prefix: str,
    devices: int,
    seed: int = 2026,
    today: dt.date | None = None,
    progress: bool = True,
) -> DemoReport:
    """Generate `devices` devices (and everything around them) in the loaded counties under `prefix`."""
    report = _Generator(
        prefix=prefix,
        devices=devices,
        seed=seed,
        today=today or timezone.localdate(),
        progress=progress,
    ).run()
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE registry_equipment; ANALYZE registry_unit; ANALYZE registry_inspection"
        )
    return report
