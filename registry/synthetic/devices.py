"""One device at a time: its codes, dates, parameters, inspection history, life cycle and rare accident."""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from django.utils import timezone
from psycopg.types.json import Jsonb

from .. import catalogue
from ..intervals import RuleBook, add_months
from . import codes, names, profiles
from .draw import Draw
from .places import County


def ewkb(x: float, y: float) -> str:
    """Hex EWKB of a WGS84 point (little-endian, SRID flag), which COPY hands to PostGIS as is."""
    return "0101000020E6100000" + struct.pack("<dd", x, y).hex()


@dataclass
class SharedUnits:
    """Units that serve a whole city or province: makers, maintenance companies, inspection bodies."""

    manufacturers: list[tuple[int, str]]  # (unit id, maker code)
    maintenance_by_city: dict[str, list[int]]
    bodies_by_city: dict[str, int]
    inspectors_by_body: dict[int, list[int]]


class DeviceFactory:
    """Makes the rows of one device; sequences (device codes, certificates, 96333 IDs) run across calls."""

    def __init__(
        self,
        *,
        draw: Draw,
        rules: RuleBook,
        today: dt.date,
        province_abbr: str,
        history_years: int = 10,
    ):
        self.draw, self.rules, self.today, self.province_abbr = draw, rules, today, province_abbr
        self.history_years = history_years
        self.now = timezone.now()
        self.counters: dict[tuple, int] = defaultdict(int)
        # County code → how much likelier than the national rate its devices run overdue.
        self.overdue_factor: dict[str, float] = {}

    def _next(self, *key) -> int:
        self.counters[key] += 1
        return self.counters[key]

    def device(
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
            # Numbered by what the number shows (kind, city letter): counties under the province
            # itself (济源, 仙桃…) get the letter A like the first city, and must not repeat its numbers.
            self._next("cert", city_letter, kind_char),
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
        history, next_due = self.inspections(
            device_id,
            kind,
            variety,
            params,
            commissioned,
            stopped or today,
            body,
            inspectors,
            status == "in_use",
            self.overdue_factor.get(county.code, 1.0),
        )
        location = route = None
        if kind == "8000":
            route = self.route(county, x, y)
        else:
            location = ewkb(x, y)
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
        if status == "in_use" and rng.random() < profiles.SUSPENSION_SPELL_RATE:
            # A past suspension spell, resumed before today.
            span = (today - commissioned).days
            if span > 60:
                suspended = commissioned + dt.timedelta(days=int(rng.integers(1, span - 30)))
                resumed = suspended + dt.timedelta(
                    days=int(rng.integers(14, max(15, min(365, (today - suspended).days))))
                )
                if resumed < today:
                    lifecycle += [
                        (device_id, "suspension", suspended, use_unit, Jsonb({"status": "suspended"}), self.now),
                        (device_id, "resumption", resumed, use_unit, Jsonb({"status": "in_use"}), self.now),
                    ]  # fmt: skip
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
            accident = self.accident(
                device_id, kind, county, use_unit, x, y, commissioned, stopped or today
            )
        return row, history, lifecycle, accident

    def inspections(
        self,
        device_id,
        kind,
        variety,
        params,
        commissioned,
        until,
        body,
        inspectors,
        in_use,
        overdue_factor=1.0,
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
        overdue = in_use and history and rng.random() < profiles.OVERDUE_RATE[kind] * overdue_factor
        if overdue:
            if rng.random() < 0.2:
                history[-1][1] = "fail"  # failed and never re-inspected: no next date
            else:
                history.pop()  # the last inspection never happened
        rows = []
        # Keep the last ten years (older paper records were never digitised), or fewer for a
        # national set that must fit its disk.
        horizon = self.today - dt.timedelta(days=self.history_years * 365)
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

    def route(self, county: County, x: float, y: float) -> str:
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

    def accident(self, device_id, kind, county, use_unit, x, y, start, end):
        rng = self.draw
        when = start + dt.timedelta(days=int(rng.integers(0, max(1, (end - start).days))))
        return accident_row(
            rng, kind, when, ewkb(x, y), names.address(rng, county.name), county.code, device_id,
            use_unit, self.today,
        )  # fmt: skip


def severity_of(deaths: int) -> str:
    """The grade by deaths alone (特种设备事故报告和调查处理规定: 3 / 10 / 30 deaths)."""
    if deaths >= 30:
        return "extraordinary"
    if deaths >= 10:
        return "major"
    return "large" if deaths >= 3 else "ordinary"


def accident_row(rng: Draw, kind, when, location, address, region, device_id, use_unit, today):
    """An accident of a device of `kind` on day `when`: its kind, cause, deaths, place, as a row of
    ACCIDENT_COLUMNS (the device's own, or none in the national history)."""
    deaths = int(rng.choice([0, 1, 1, 1, 2, 3], p=[0.25, 0.25, 0.2, 0.15, 0.1, 0.05]))
    if rng.random() < 0.01:  # a rare crane collapse or boiler explosion of several deaths
        deaths = int(rng.integers(3, 8))
    # DESIGN.md §3: about 82 % from use and management, 18 % from defects or safety devices.
    cause = str(rng.choice(["use_management", "defect", "safety_device"], p=[0.82, 0.1, 0.08]))
    places = profiles.PLACE_TYPES[kind]
    moment = timezone.make_aware(
        dt.datetime.combine(when, dt.time(int(rng.integers(6, 22)), int(rng.integers(0, 60))))
    )
    return (
        moment, location, address, region, device_id, use_unit,
        str(rng.choice(profiles.ACCIDENT_KINDS[kind])), severity_of(deaths), deaths, int(rng.integers(0, 4)),
        round(float(rng.lognormal(3, 1)), 2), cause, "closed" if when < today - dt.timedelta(days=180) else "open", "",
        str(rng.choice(list(places), p=list(places.values()))),
    )  # fmt: skip
