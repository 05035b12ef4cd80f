"""Synthetic cylinders for the demo and the benchmark: filling stations (units of the loaded
counties given the filling role, with licences, a few expired), their cylinders (LPG mostly, a
few overdue, scrapped or lost) and the last weeks' fillings, stored through the same path as a
station's batch (services.store_fillings), so the rules mark the violations."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from registry.models import Unit, UnitRole

from . import reads, services
from .models import Cylinder, CylinderKind, CylinderStatus

KINDS = [(CylinderKind.LPG, 0.8), (CylinderKind.INDUSTRIAL, 0.1), (CylinderKind.MEDICAL, 0.04),
         (CylinderKind.CNG, 0.04), (CylinderKind.ACETYLENE, 0.02)]  # fmt: skip
DESIGN_LIFE = {CylinderKind.LPG: 8, CylinderKind.CNG: 15}  # years; the others 30 (seamless steel)
MEDIUM = {CylinderKind.LPG: "液化石油气", CylinderKind.INDUSTRIAL: "氧气", CylinderKind.MEDICAL: "医用氧",
          CylinderKind.CNG: "压缩天然气", CylinderKind.ACETYLENE: "溶解乙炔"}  # fmt: skip
MAKERS = [("宁夏华瑞气瓶有限公司", "TS2264"), ("山东百特燃气瓶有限公司", "TS2237"),
          ("浙江金盾压力容器有限公司", "TS2233"), ("北京天海工业有限公司", "TS2211")]  # fmt: skip
CYLINDERS_PER_STATION = 150


@dataclass
class Report:
    stations: int = 0
    cylinders: int = 0
    fillings: int = 0
    violations: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def _kind(rng: random.Random) -> str:
    return rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]


@transaction.atomic
def generate(
    *, prefix: str, cylinders: int, days: int = 30, seed: int = 2026, today: dt.date | None = None
) -> Report:
    """`cylinders` cylinders under `prefix` and `days` days of fillings (about one a week each)."""
    rng = random.Random(seed)
    today = today or timezone.localdate()
    units = list(Unit.objects.within_prefix(prefix).exclude(location=None).order_by("pk"))
    if not units:
        raise ValueError(f"no units under {prefix}: generate the registry first")
    wanted = max(1, min(len(units), cylinders // CYLINDERS_PER_STATION))
    stations = rng.sample(units, wanted)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_unit SET roles = array_append(roles, %s) "
            "WHERE id = ANY(%s) AND NOT roles @> ARRAY[%s]::varchar[]",
            [UnitRole.FILLING.value, [s.pk for s in stations], UnitRole.FILLING.value],
        )
    for s in stations:
        if UnitRole.FILLING not in s.roles:
            s.roles.append(UnitRole.FILLING)
    # One in ten stations filling on a lapsed licence: the violations the map shows (the others end
    # within 1,400 days, so taken as issued four years before, in force today). In the licence
    # register (a second run keeps what the first issued); numbers apart from licensing.synthetic's.
    held = set(reads.filling_licences().filter(unit__in=stations).values_list("unit_id", flat=True))
    for i, s in enumerate(stations):
        if s.pk in held:
            continue
        until = (today - dt.timedelta(days=rng.randint(5, 200)) if rng.random() < 0.1
                 else today + dt.timedelta(days=rng.randint(60, 1400)))  # fmt: skip
        services.grant_filling_licence(
            s, acting_user=None, number=f"TS4{prefix[:2]}{5000 + i % 5000:04d}-{until.year}",
            valid_until=until, authority="宁夏回族自治区市场监督管理厅",
        )  # fmt: skip
    start = Cylinder.objects.count()
    made = []
    for i in range(cylinders):
        owner = stations[i % len(stations)]
        kind = _kind(rng)
        life = DESIGN_LIFE.get(kind, 30)
        made_on = today - dt.timedelta(days=rng.randint(60, 365 * min(life, 12)))
        interval = services.interval_years(kind)
        last = None
        due = services.years_later(made_on, interval)
        while due <= today and rng.random() > 0.03:  # ~3 % miss their inspection: overdue
            last, due = due, services.years_later(due, interval)
        status = CylinderStatus.IN_SERVICE
        roll = rng.random()
        if roll < 0.01:
            status = CylinderStatus.LOST
        elif roll < 0.02:
            status = CylinderStatus.SCRAPPED
        maker, code = rng.choice(MAKERS)
        made.append(Cylinder(
            tag=f"{prefix}{start + i + 1:010d}", maker_name=maker, maker_code=code,
            serial_number=f"{made_on:%y}{rng.randint(0, 999_999):06d}", made_on=made_on, kind=kind,
            volume_l=Decimal("35.5") if kind == CylinderKind.LPG else Decimal("40.0"),
            working_pressure_mpa=Decimal("2.10") if kind == CylinderKind.LPG else Decimal("15.00"),
            design_life_years=life, scrap_on=services.years_later(made_on, life),
            last_inspected_on=last, next_inspection_due=due, owner=owner,
            region_id=owner.region_id,
            status=CylinderStatus.OVERDUE if status == CylinderStatus.IN_SERVICE and due < today
            else status,
        ))  # fmt: skip
    Cylinder.objects.bulk_create(made, batch_size=5000)
    by_station: dict[int, list[services.FillingRow]] = defaultdict(list)
    station_of = {s.pk: s for s in stations}
    operators = [f"TSR{rng.randint(100000, 999999)}" for _ in stations]
    for cylinder in made:
        # About one filling a week; now and then at a station that does not own it.
        for _ in range(max(1, round(days / 7 * rng.uniform(0.5, 1.5)))):
            station = cylinder.owner if rng.random() > 0.03 else rng.choice(stations)
            moment = timezone.make_aware(dt.datetime.combine(
                # From yesterday back: today's hours may not have come yet (no filling ahead of now).
                today - dt.timedelta(days=rng.randrange(1, days + 1)),
                dt.time(rng.randint(7, 19), rng.randrange(60), rng.randrange(60)),
            ))  # fmt: skip
            by_station[station.pk].append(services.FillingRow(
                cylinder.tag, moment, MEDIUM[cylinder.kind],
                Decimal("14.5") if cylinder.kind == CylinderKind.LPG else Decimal("6.00"),
                rng.random() > 0.005, operators[stations.index(station)],
            ))  # fmt: skip
    report = Report(stations=len(stations), cylinders=len(made))
    for pk, rows in by_station.items():
        recorded = services.store_fillings(station_of[pk], rows)
        report.fillings += len(recorded)
        report.violations += sum(len(v) for v in recorded.values())
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE cylinders_cylinder; ANALYZE cylinders_filling; ANALYZE cylinders_violation"
        )
    return report
