"""The bulk importer and `register_equipment` write the same thing for the same ledger.

One small ledger (elevators, boilers, cranes, vessels, a forklift and a retired variety; with and
without a known due date, a commissioning date, a certificate, coordinates; points in WGS84,
GCJ-02, BD-09 and Web Mercator; a 17-character device code and registration codes alone) goes
in twice from the same database state, each time in a transaction rolled back afterwards: once
through the importer's commit (set-based SQL), once row by row through `register_unit` and
`register_equipment`. Devices, units, life-cycle events, audit rows and change-log entries must
agree field by field, ids and timestamps aside; the importer's audit verbs say "imported".
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Max

from accounts.models import AuditEntry
from geo import crs
from geo.models import Region
from registry import services
from registry.models import Equipment, LifecycleEvent, Unit
from registry.models.exchange import ChangeEntry
from registry.synthetic.codes import credit_code, device_code, registration_code
from tests.conftest import XINGQING
from tests.registry.importers.record_files import csv_bytes, run

ELEMENTS = ["device_code", "registration_code", "certificate_number", "rescue_id", "variety",
            "status", "lon", "lat", "division_code", "address", "use_unit_name",
            "use_unit_credit_code", "maintenance_unit_name", "maintenance_unit_credit_code",
            "manufactured_on", "commissioned_on", "next_inspection_due"]  # fmt: skip
ROLES = {"use_unit": "use", "maintenance_unit": "maintenance"}
UNIT_REFERENCES = {"use_unit", "maintenance_unit", "manufacturer", "installer", "unit"}
PROPERTY = "兴庆测试物业公司"
BOILER_ROOM = "兴庆区第二供热站"  # a use unit known by its name only
LIFT_SERVICE = "宁夏测试电梯维保公司"  # a maintenance unit known by its name only
ON_RECORD = "银川市已登记物业公司"  # a use unit registered before the file arrives


@dataclass
class Ledger:
    """One file: the CRS its coordinates are in and its rows (element → cell text)."""

    source_crs: crs.CRS
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, point: Point | None, **cells: str) -> None:
        row = dict.fromkeys(ELEMENTS, "") | cells
        if point is not None:
            lon, lat = crs.from_wgs84(point.x, point.y, self.source_crs)
            row["lon"], row["lat"] = repr(float(lon)), repr(float(lat))
        self.rows.append(row)


def points_in(code: str, count: int) -> list[Point]:
    """Points on a grid over the county, inside it, far enough apart not to look like duplicates."""
    boundary = Region.objects.get(code=code).boundary
    xmin, ymin, xmax, ymax = boundary.extent
    found = []
    for i in range(1, 40):
        for j in range(1, 40):
            point = Point(xmin + (xmax - xmin) * i / 40, ymin + (ymax - ymin) * j / 40, srid=4326)
            if boundary.contains(point):
                found.append(point)
    assert len(found) >= count
    return found[:: len(found) // count][:count]


def ledgers() -> list[Ledger]:
    points = iter(points_in(XINGQING, 24))
    use = {"use_unit_name": PROPERTY, "use_unit_credit_code": credit_code(XINGQING, 4_100_001)}
    lift_service = {"maintenance_unit_name": LIFT_SERVICE}
    wgs = Ledger(crs.CRS.WGS84)
    lift = {"variety": "3110", "division_code": XINGQING, **use, **lift_service}
    wgs.add(
        next(points),
        device_code=device_code("3110", "T1234", 2021, 1),
        address="测试路1号",
        certificate_number="梯11宁A00012（21）",
        rescue_id="123456",
        commissioned_on="2021-05-06",
        status="在用",
        **lift,
    )
    wgs.add(
        next(points),
        device_code=device_code("3110", "T1234", 2021, 2),
        address="测试路2号",
        commissioned_on="2021-05-06",
        next_inspection_due="2027-01-31",
        **lift,
    )
    wgs.add(
        next(points),
        device_code=device_code("3310", "T1234", 2019, 3),
        address="商场一层",
        variety="3310",
        commissioned_on="2019-02-28",
        manufactured_on="2018-11-30",
        **use,
        maintenance_unit_name="宁夏另一维保公司",
        maintenance_unit_credit_code=credit_code(XINGQING, 4_100_002),
    )
    # A legacy 17-character device code (accepted with a warning).
    wgs.add(
        next(points),
        device_code="3110T123420210004",
        address="测试路4号",
        commissioned_on="2021-08-31",
        **lift,
    )
    boiler = {"use_unit_name": BOILER_ROOM, "address": "供热站锅炉房"}
    # The certificate's digits name no variety of the catalogue: warnings, both ways.
    wgs.add(
        next(points),
        device_code=device_code("1100", "G5678", 2015, 5),
        variety="1100",
        commissioned_on="2016-01-31",
        certificate_number="锅11宁A00005(16)",
        **boiler,
    )
    wgs.add(
        next(points),
        device_code=device_code("1200", "G5678", 2015, 6),
        variety="1200",
        commissioned_on="2016-10-15",
        next_inspection_due="2026-10-14",
        **boiler,
    )
    crane = {"use_unit_name": ON_RECORD, "use_unit_credit_code": credit_code(XINGQING, 4_100_003)}
    wgs.add(
        next(points),
        device_code=device_code("4110", "Q1111", 2020, 7),
        variety="4110",
        commissioned_on="2020-03-31",
        address="一号厂房",
        **crane,
    )
    wgs.add(
        next(points),
        device_code=device_code("4310", "Q1111", 2022, 8),
        variety="4310",
        commissioned_on="2022-02-28",
        address="工地塔吊",
        **crane,
    )
    wgs.add(
        next(points),
        device_code=device_code("4150", "Q1111", 2018, 9),
        variety="4150",
        commissioned_on="2018-12-31",
        address="炼钢车间",
        **crane,
    )
    # Fixed pressure vessel: the first inspection within three years of commissioning.
    wgs.add(
        next(points),
        device_code=device_code("2150", "R2222", 2020, 10),
        variety="2150",
        commissioned_on="2020-06-30",
        address="储气罐",
        **use,
    )
    # No commissioning date: no due date, the registration dated today.
    wgs.add(
        next(points),
        device_code=device_code("5110", "C3333", 2023, 11),
        variety="5110",
        address="仓库叉车",
        **use,
    )
    # A retired variety, mapped to its successor with warnings.
    wgs.add(
        next(points),
        device_code="5220T1234202100012",
        variety="5220",
        commissioned_on="2021-04-01",
        address="景区观光车",
        **use,
    )
    # Registration codes alone: a clean one, and one whose category no catalogue knows (a warning).
    wgs.add(
        next(points),
        registration_code=registration_code("3110", XINGQING, dt.date(2015, 3, 1), 13),
        commissioned_on="2015-03-01",
        address="老小区1号楼",
        **lift,
    )
    wgs.add(
        next(points),
        registration_code=f"3190{XINGQING}2012070014",
        variety="3120",
        commissioned_on="2012-07-01",
        address="老小区货梯",
        **use,
    )
    # No coordinates: placed by the division code alone.
    wgs.add(
        None,
        device_code=device_code("3110", "T1234", 2021, 15),
        address="无坐标小区",
        commissioned_on="2021-05-06",
        **lift,
    )
    # A declared division the point is not in: stored with the mismatch flagged.
    wgs.add(
        next(points),
        device_code=device_code("3110", "T1234", 2021, 16),
        address="测试路16号",
        commissioned_on="2021-05-06",
        **dict(lift, division_code="640106"),
    )

    gcj = Ledger(crs.CRS.GCJ02)
    gcj.add(
        next(points),
        device_code=device_code("3110", "T1234", 2022, 17),
        address="高德点选1",
        commissioned_on="2022-01-31",
        **lift,
    )
    gcj.add(
        next(points),
        device_code=device_code("4310", "Q1111", 2023, 18),
        variety="4310",
        commissioned_on="2023-05-31",
        address="高德点选2",
        **crane,
    )
    bd = Ledger(crs.CRS.BD09)
    bd.add(
        next(points),
        device_code=device_code("3110", "T1234", 2022, 19),
        address="百度点选",
        commissioned_on="2022-02-28",
        next_inspection_due="2026-02-27",
        **lift,
    )
    mercator = Ledger(crs.CRS.WEB_MERCATOR)
    mercator.add(
        next(points),
        device_code=device_code("1100", "G5678", 2017, 20),
        variety="1100",
        commissioned_on="2017-09-30",
        **boiler,
    )
    return [wgs, gcj, bd, mercator]


def bulk(ledger_files: list[Ledger], user) -> dict[int, set[str]]:
    """Every file through the importer's commit; the warnings' rules, numbered across the files."""
    warnings: dict[int, set[str]] = defaultdict(set)
    first = 0
    for ledger in ledger_files:
        data = csv_bytes(ELEMENTS, [[row[e] for e in ELEMENTS] for row in ledger.rows])
        outcome = run(
            data,
            "设备台账.csv",
            "equipment",
            user,
            source_crs=ledger.source_crs,
            mapping={e: e for e in ELEMENTS},
        )
        assert outcome.committed, [f for f in outcome.findings if f.severity == "error"]
        for finding in outcome.findings:
            warnings[first + finding.row - 1].add(finding.rule)
        first += len(ledger.rows)
    return warnings


def day(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def unit_for(role: str, row: dict[str, str], user) -> Unit | None:
    """The unit a row names, as the importer finds it (credit code anywhere, else the name in the
    county), registered through the service when not on record."""
    credit, name = row[f"{role}_credit_code"], row[f"{role}_name"]
    if not credit and not name:
        return None
    if credit:
        found = Unit.objects.filter(credit_code=credit).first()
    else:
        found = Unit.objects.filter(name=name, region_id=XINGQING).order_by("id").first()
    return found or services.register_unit(
        acting_user=user, name=name, roles=[ROLES[role]], credit_code=credit, region_code=XINGQING
    )


def one_by_one(ledger_files: list[Ledger], user) -> dict[int, set[str]]:
    """Every row through the services; the warnings' rules, numbered across the files."""
    warnings: dict[int, set[str]] = defaultdict(set)
    index = 0
    for ledger in ledger_files:
        for row in ledger.rows:
            index += 1
            _, found = services.register_equipment(
                acting_user=user,
                variety_code=row["variety"],
                use_unit=unit_for("use_unit", row, user),
                maintenance_unit=unit_for("maintenance_unit", row, user),
                location=(float(row["lon"]), float(row["lat"])) if row["lon"] else None,
                source_crs=ledger.source_crs,
                declared_region_code=row["division_code"],
                address=row["address"],
                device_code=row["device_code"],
                registration_code=row["registration_code"],
                certificate_number=row["certificate_number"],
                rescue_id=row["rescue_id"],
                manufactured_on=day(row["manufactured_on"]),
                commissioned_on=day(row["commissioned_on"]),
                next_inspection_due=day(row["next_inspection_due"]),
            )
            if found:
                warnings[index] = {f.rule for f in found}
    return warnings


@dataclass
class Marks:
    """The highest ids before a writer ran: what it wrote is everything above them."""

    equipment: int
    unit: int
    event: int
    audit: int
    seq: int

    @classmethod
    def now(cls) -> Marks:
        def top(model, name="id") -> int:
            return model.objects.aggregate(top=Max(name))["top"] or 0

        return cls(
            top(Equipment), top(Unit), top(LifecycleEvent), top(AuditEntry), top(ChangeEntry, "seq")
        )


class Keys:
    """Ids to what names a record in both worlds: a device's code, a unit's credit code or name."""

    def __init__(self):
        self.equipment = {
            pk: code or registration
            for pk, code, registration in Equipment.objects.values_list(
                "pk", "device_code", "registration_code"
            )
        }
        self.unit = {
            pk: code or name
            for pk, code, name in Unit.objects.values_list("pk", "credit_code", "name")
        }
        self.event = {
            pk: (self.equipment[equipment], kind)
            for pk, equipment, kind in LifecycleEvent.objects.values_list("pk", "equipment", "kind")
        }
        self.by_model = {
            "equipment": self.equipment,
            "unit": self.unit,
            "lifecycleevent": self.event,
            "registry.Equipment": self.equipment,
            "registry.Unit": self.unit,
        }

    def values(self, record: dict[str, Any], owner: dict[int, Any]) -> dict[str, Any]:
        """A record's fields with every reference, and its own id, replaced by the key."""
        named = {}
        for name, value in record.items():
            base = name.removesuffix("_id")
            if name == "id":
                named[name] = owner[value]
            elif value is not None and base in UNIT_REFERENCES:
                named[name] = self.unit[value]
            elif value is not None and base == "equipment":
                named[name] = self.equipment[value]
            else:
                named[name] = value
        return named


IGNORED = {"id", "created_at", "updated_at", "recorded_at"}


def written(since: Marks) -> dict[str, Any]:
    """What one writer left, with ids as keys and the timestamps left out."""
    keys = Keys()

    def fields(record: dict[str, Any], owner: dict[int, Any]) -> dict[str, Any]:
        return {k: v for k, v in keys.values(record, owner).items() if k not in IGNORED}

    devices = {
        keys.equipment[row["id"]]: fields(row, keys.equipment)
        | {"location": row["location"] and row["location"].ewkt}  # the stored digits
        for row in Equipment.objects.filter(pk__gt=since.equipment).values()
    }
    units = {
        keys.unit[row["id"]]: fields(row, keys.unit)
        for row in Unit.objects.filter(pk__gt=since.unit).values()
    }
    events = defaultdict(list)
    for event in LifecycleEvent.objects.filter(pk__gt=since.event).order_by("id").values():
        events[keys.equipment[event["equipment_id"]]].append(fields(event, keys.event))
    audit = defaultdict(list)
    for entry in AuditEntry.objects.filter(pk__gt=since.audit).order_by("id"):
        owner = keys.by_model[entry.model]
        audit[(entry.model, owner[int(entry.object_pk)])].append(
            {
                "action": entry.action,
                "actor": entry.actor_id,
                "jurisdiction": entry.jurisdiction,
                "region_code": entry.region_code,
                "before": entry.before and keys.values(entry.before, owner),
                "after": entry.after and keys.values(entry.after, owner),
            }
        )
    changes = defaultdict(list)
    for entry in ChangeEntry.objects.filter(seq__gt=since.seq).order_by("seq"):
        owner = keys.by_model[entry.model]
        changes[(entry.model, owner[int(entry.object_pk)])].append(
            (entry.operation, entry.division_code, keys.values(json.loads(entry.payload), owner))
        )
    return {
        "devices": devices,
        "units": units,
        "events": dict(events),
        "audit": dict(audit),
        "changes": dict(changes),
    }


def rolled_back(write: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """What `write` returns and what it wrote, with the database left as it was."""
    since = Marks.now()
    with transaction.atomic():
        result = write()
        world = written(since)
        transaction.set_rollback(True)
    return result, world


IMPORTED_AS = {"equipment.imported": "equipment.registered", "unit.imported": "unit.registered"}


@pytest.fixture
def both_ways(users):
    """The ledger written by the importer and by the services, from the same database state."""
    user = users["xingqing"]
    services.register_unit(
        acting_user=None,
        name=ON_RECORD,
        roles=["use"],
        credit_code=credit_code(XINGQING, 4_100_003),
        region_code=XINGQING,
    )
    files = ledgers()
    return rolled_back(lambda: bulk(files, user)), rolled_back(lambda: one_by_one(files, user))


@pytest.mark.django_db
def test_the_same_devices_both_ways(both_ways):
    (_, imported), (_, registered) = both_ways
    assert len(imported["devices"]) == 20
    assert imported["devices"] == registered["devices"]


@pytest.mark.django_db
def test_the_same_units_both_ways(both_ways):
    (_, imported), (_, registered) = both_ways
    assert set(imported["units"]) == {
        credit_code(XINGQING, 4_100_001),
        credit_code(XINGQING, 4_100_002),
        BOILER_ROOM,
        LIFT_SERVICE,
    }
    assert imported["units"] == registered["units"]


@pytest.mark.django_db
def test_the_same_lifecycle_events_both_ways(both_ways):
    (_, imported), (_, registered) = both_ways
    assert {len(events) for events in imported["events"].values()} == {1}
    assert imported["events"] == registered["events"]


@pytest.mark.django_db
def test_the_same_audit_rows_both_ways_the_verb_saying_imported(both_ways):
    (_, imported), (_, registered) = both_ways
    verbs = {entry["action"] for entries in imported["audit"].values() for entry in entries}
    assert verbs == set(IMPORTED_AS)
    renamed = {
        key: [entry | {"action": IMPORTED_AS[entry["action"]]} for entry in entries]
        for key, entries in imported["audit"].items()
    }
    assert renamed == registered["audit"]


@pytest.mark.django_db
def test_the_same_change_log_both_ways(both_ways):
    (_, imported), (_, registered) = both_ways
    assert {model for model, _ in imported["changes"]} == {"unit", "equipment", "lifecycleevent"}
    assert imported["changes"] == registered["changes"]


@pytest.mark.django_db
def test_the_same_warnings_both_ways(both_ways):
    (imported, _), (registered, _) = both_ways
    assert dict(imported) == dict(registered)


def edited(ledger_files: list[Ledger]) -> tuple[Ledger, list[dict[str, str]]]:
    """Three rows of the ledger as a later file gives them, and what changed in each."""
    wgs = ledger_files[0]
    moved = points_in(XINGQING, 30)[-1]
    changes = [
        {"address": "测试路1号后楼"},
        {"certificate_number": "锅10宁A00099(17)", "rescue_id": "654321"},
        {"lon": repr(moved.x), "lat": repr(moved.y)},
    ]
    later = Ledger(crs.CRS.WGS84)
    for row, change in zip([wgs.rows[0], wgs.rows[4], wgs.rows[6]], changes, strict=True):
        later.rows.append(row | change)
    return later, changes


def update_one_by_one(later: Ledger, changes: list[dict[str, str]], user) -> None:
    """Each change through `update_equipment`, as a user editing the device would make it."""
    for row, change in zip(later.rows, changes, strict=True):
        device = Equipment.objects.get(device_code=row["device_code"])
        fields: dict[str, Any] = {k: v for k, v in change.items() if k not in ("lon", "lat")}
        if "lon" in change:
            fields |= {
                "location": (float(row["lon"]), float(row["lat"])),
                "source_crs": later.source_crs,
                "declared_region_code": row["division_code"],
            }
        services.update_equipment(device, acting_user=user, **fields)


@pytest.mark.django_db
def test_a_later_file_changes_devices_as_update_equipment_does(users):
    user = users["xingqing"]
    services.register_unit(
        acting_user=None,
        name=ON_RECORD,
        roles=["use"],
        credit_code=credit_code(XINGQING, 4_100_003),
        region_code=XINGQING,
    )
    files = ledgers()
    one_by_one(files, user)
    later, changes = edited(files)
    _, imported = rolled_back(lambda: bulk([later], user))
    _, updated = rolled_back(lambda: update_one_by_one(later, changes, user))
    assert len(imported["audit"]) == 3
    assert imported["audit"] == updated["audit"]
    assert imported["changes"] == updated["changes"]
