"""The demo generator: realistic against DESIGN.md §3, inside real boundaries, valid codes, reproducible."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import statistics
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import Agency
from geo.models import Region
from registry import validators
from registry.models import (
    Accident,
    EmergencyResource,
    Equipment,
    Inspection,
    LifecycleEvent,
    Person,
    Unit,
    Variety,
)
from registry.synthetic import generate
from tests.conftest import csv_rulebook, load_test_regions, months_later

PREFIX = "6401"  # 银川市: three districts (区) and three rural counties / county-level cities
DEVICES = 2_000
SEED = 2026
TODAY = dt.date(2026, 11, 27)

# DESIGN.md §3, written out here rather than read from registry.synthetic.profiles.
KIND_SHARE = {"3000": 0.49, "2000": 0.25, "4000": 0.14, "5000": 0.09, "1000": 0.017}


def digest() -> str:
    """A fingerprint of everything drawn from the seed (not database ids or timestamps)."""
    parts = [
        sorted(
            (
                e.device_code,
                e.registration_code,
                e.certificate_number,
                e.rescue_id,
                e.variety_id,
                e.status,
                e.region_id,
                e.declared_region_code,
                str(e.commissioned_on),
                str(e.next_inspection_due),
                (e.location or e.route).wkt,
                json.dumps(e.params, sort_keys=True),
                e.use_unit.credit_code,
            )
            for e in Equipment.objects.select_related("use_unit")
        ),  # fmt: skip
        sorted(
            (u.credit_code, u.name, u.region_id, u.location.wkt, u.contact_phone)
            for u in Unit.objects.all()
        ),
        sorted(
            (i.equipment.device_code, str(i.inspected_on), i.conclusion, i.defects, str(i.next_due))
            for i in Inspection.objects.select_related("equipment")
        ),
        sorted(
            (p.name, p.role, p.region_id, p.national_id_hash, p.phone) for p in Person.objects.all()
        ),
        sorted(
            (a.equipment.device_code, str(a.occurred_at), a.deaths)
            for a in Accident.objects.select_related("equipment")
        ),
        sorted((r.name, r.location.wkt) for r in EmergencyResource.objects.all()),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def run_and_digest(seed: int) -> str:
    """Generate a small demo in a savepoint, fingerprint it, and roll it back."""
    with transaction.atomic():
        generate(prefix=PREFIX, devices=300, seed=seed, today=TODAY, progress=False)
        fingerprint = digest()
        transaction.set_rollback(True)
    return fingerprint


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One demo for the module, inside a transaction rolled back at the end; also the reproducibility runs."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_test_regions()
        digests = {
            "first": run_and_digest(SEED),
            "again": run_and_digest(SEED),
            "other": run_and_digest(SEED + 1),
        }
        report = generate(prefix=PREFIX, devices=DEVICES, seed=SEED, today=TODAY, progress=False)
        # Check the deferred foreign keys of the COPYed rows now, once: otherwise every test's
        # teardown (Django checks constraints there) re-checks them all inside its savepoint.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        yield {"report": report, "digests": digests}
        transaction.set_rollback(True)


@pytest.fixture
def devices(demo, db):
    return Equipment.objects.all()


# --- reproducibility ---------------------------------------------------------------------------


def test_same_seed_gives_identical_data(demo):
    assert demo["digests"]["first"] == demo["digests"]["again"]


def test_different_seed_gives_different_data(demo):
    assert demo["digests"]["first"] != demo["digests"]["other"]


# --- size and mix ------------------------------------------------------------------------------


def test_report_counts_match_the_tables(demo, db):
    rows = demo["report"].rows
    assert rows["registry_equipment"] == Equipment.objects.count() == DEVICES
    assert rows["registry_unit"] == Unit.objects.count()
    assert rows["registry_inspection"] == Inspection.objects.count()
    assert rows["registry_lifecycleevent"] == LifecycleEvent.objects.count()
    assert rows["registry_emergencyresource"] == EmergencyResource.objects.count()
    assert demo["report"].rows_per_second > 0


@pytest.mark.parametrize(("kind", "share"), list(KIND_SHARE.items()))
def test_kind_mix_follows_the_national_mix(devices, kind, share):
    observed = devices.filter(kind=kind).count() / DEVICES
    # Four standard errors of a binomial share, plus half a point for rounding in the profile.
    tolerance = 4 * (share * (1 - share) / DEVICES) ** 0.5 + 0.005
    assert abs(observed - share) < tolerance, (kind, observed)


def test_only_registrable_current_leaf_varieties(devices):
    used = Variety.objects.filter(code__in=devices.values("variety_id"))
    assert not used.filter(Q(registrable=False) | Q(retired=True)).exists()
    assert not used.filter(children__retired=False).exists()
    assert all(
        kind == variety[0] + "000" for kind, variety in devices.values_list("kind", "variety_id")
    )


def test_elevators_are_urban(devices):
    elevators = devices.filter(kind="3000")
    urban = elevators.filter(region__name__endswith="区").count()
    assert urban / elevators.count() > 0.75


def test_overdue_share_among_in_use_devices(devices):
    in_use = devices.filter(status="in_use").count()
    overdue = Equipment.objects.overdue(on=TODAY).count()
    assert 0.005 <= overdue / in_use <= 0.04, (overdue, in_use)


def test_overdue_is_concentrated_outside_elevators(devices):
    def rate(kinds):
        in_use = devices.filter(status="in_use", kind__in=kinds).count()
        return Equipment.objects.overdue(on=TODAY).filter(kind__in=kinds).count() / in_use

    assert rate(["1000", "4000", "5000"]) > rate(["3000"])


def test_statuses_are_mostly_in_use(devices):
    shares = {s: n / DEVICES for s, n in Counter(devices.values_list("status", flat=True)).items()}
    assert 0.9 < shares["in_use"] < 0.97
    assert set(shares) <= {"in_use", "suspended", "cancelled", "scrapped"}


# --- geometry ---------------------------------------------------------------------------------


def test_every_point_device_is_inside_its_region(devices):
    points = devices.exclude(kind="8000")
    assert points.filter(location__isnull=True).count() == 0
    assert points.exclude(location__within=F("region__boundary")).count() == 0


def test_pipelines_are_routes_inside_their_region(devices):
    pipelines = devices.filter(kind="8000")
    assert pipelines.exists()
    assert not pipelines.filter(Q(route__isnull=True) | Q(location__isnull=False)).exists()
    for pipeline in pipelines:
        assert pipeline.route.geom_type == "MultiLineString" and pipeline.route.valid
        assert all(len(line) >= 2 for line in pipeline.route)
    assert pipelines.exclude(route__within=F("region__boundary")).count() == 0
    assert not devices.exclude(kind="8000").filter(route__isnull=False).exists()


@pytest.mark.parametrize("model", [Unit, EmergencyResource, Accident], ids=lambda m: m.__name__)
def test_other_located_rows_are_inside_their_region(demo, db, model):
    located = model.objects.filter(location__isnull=False)
    assert located.exclude(location__within=F("region__boundary")).count() == 0


def test_every_region_is_a_loaded_county_under_the_prefix(devices):
    counties = set(
        Region.objects.counties().filter(code__startswith=PREFIX).values_list("code", flat=True)
    )
    assert set(devices.values_list("region_id", flat=True)) <= counties
    assert set(Unit.objects.values_list("region_id", flat=True)) <= counties


def test_region_mismatch_flag_matches_the_declared_code(devices):
    assert not devices.filter(region_mismatch=True, declared_region_code=F("region_id")).exists()
    assert (
        not devices.filter(region_mismatch=False)
        .exclude(declared_region_code=F("region_id"))
        .exists()
    )
    assert devices.filter(region_mismatch=True).count() < 0.02 * DEVICES


# --- identifiers ------------------------------------------------------------------------------


def errors_of(check, values, **kwargs) -> dict[str, list[str]]:
    found = {}
    for value in values:
        bad = [f.rule for f in validators.errors(check(value, **kwargs))]
        if bad:
            found[value] = bad
    return found


def test_device_codes_are_valid_and_unique(devices):
    codes = list(devices.values_list("device_code", flat=True))
    assert None not in codes and len(set(codes)) == len(codes)
    assert errors_of(validators.check_device_code, codes, today=TODAY) == {}
    assert all(len(code) in (18, 19) for code in codes)


def test_device_code_starts_with_its_variety(devices):
    assert not devices.exclude(device_code__startswith=F("variety_id")).exists()


def test_registration_codes_are_valid(devices):
    codes = [c for c in devices.values_list("registration_code", flat=True) if c]
    assert codes  # devices commissioned before 2017 carry one
    assert errors_of(validators.check_registration_code, codes, today=TODAY) == {}


def test_only_devices_from_before_2017_have_a_registration_code(devices):
    assert (
        not devices.filter(commissioned_on__year__gte=2017).exclude(registration_code="").exists()
    )
    assert not devices.filter(commissioned_on__year__lt=2017, registration_code="").exists()


def test_certificate_numbers_are_valid_and_match_the_variety(devices):
    rows = list(devices.values_list("certificate_number", "variety_id"))
    assert errors_of(validators.check_certificate_number, [number for number, _ in rows]) == {}
    mismatched = {
        number: [f.rule for f in validators.check_certificate_matches_variety(number, variety)]
        for number, variety in rows
        if validators.check_certificate_matches_variety(number, variety)
    }
    assert mismatched == {}


def test_credit_codes_are_valid_and_unique(demo, db):
    codes = list(Unit.objects.values_list("credit_code", flat=True))
    assert None not in codes and len(set(codes)) == len(codes)
    assert errors_of(validators.check_credit_code, codes) == {}


def test_rescue_ids_only_on_elevators(devices):
    assert not devices.exclude(kind="3000").exclude(rescue_id="").exists()
    assert not devices.filter(kind="3000", rescue_id="").exists()
    ids = devices.filter(kind="3000").values_list("rescue_id", flat=True)
    assert errors_of(validators.check_rescue_id, ids) == {}


def test_rescue_ids_are_unique_within_a_city(devices):
    per_city = Counter(
        (region[:4], rescue_id)
        for region, rescue_id in devices.exclude(rescue_id="").values_list("region_id", "rescue_id")
    )
    assert [key for key, n in per_city.items() if n > 1] == []


# --- units --------------------------------------------------------------------------------------


def test_use_units_hold_a_heavy_tailed_number_of_devices(devices):
    counts = sorted(devices.values("use_unit").annotate(n=Count("id")).values_list("n", flat=True))
    assert 3 <= statistics.mean(counts) <= 6  # DESIGN.md: 3–6 devices a use unit
    assert statistics.median(counts) <= 3
    assert max(counts) >= 10 * statistics.median(counts)


def test_use_units_are_in_the_county_of_their_devices(devices):
    assert not devices.exclude(use_unit__region_id=F("region_id")).exists()


def test_agencies_exist_for_every_level_of_the_demo(demo, db):
    counties = set(
        Region.objects.counties().filter(code__startswith=PREFIX).values_list("code", flat=True)
    )
    covered = set(Agency.objects.values_list("region_id", flat=True))
    assert {"640000", "640100"} | counties <= covered


# --- inspections ----------------------------------------------------------------------------------


def test_inspection_next_due_follows_the_rule_book(devices):
    book = csv_rulebook()
    wrong = []
    for inspection in Inspection.objects.select_related("equipment"):
        device = inspection.equipment
        if inspection.conclusion == "fail":
            expected = None
        else:
            expected = months_later(
                inspection.inspected_on, book.interval_months(device.variety_id, device.params)
            )
        if inspection.next_due != expected:
            wrong.append(
                (device.device_code, inspection.inspected_on, inspection.next_due, expected)
            )
    assert wrong == []


def test_device_due_date_is_its_latest_inspections(devices):
    latest: dict[int, Inspection] = {}
    for inspection in Inspection.objects.order_by("inspected_on", "id"):
        latest[inspection.equipment_id] = inspection
    assert latest
    wrong = [
        (e.pk, e.next_inspection_due, latest[e.pk].next_due)
        for e in devices
        if e.pk in latest and e.next_inspection_due != latest[e.pk].next_due
    ]
    assert wrong == []


def test_never_inspected_devices_are_due_by_the_first_inspection_rule(devices):
    book = csv_rulebook()
    inspected = set(Inspection.objects.values_list("equipment_id", flat=True))
    fresh = [e for e in devices if e.pk not in inspected and e.status == "in_use"]
    assert fresh
    first_due = {
        e.pk: months_later(
            e.commissioned_on, book.interval_months(e.variety_id, e.params, first=True)
        )
        for e in fresh
    }
    never_due_yet = [e for e in fresh if first_due[e.pk] > TODAY]
    assert never_due_yet
    assert [
        (e.pk, e.next_inspection_due, first_due[e.pk])
        for e in never_due_yet
        if e.next_inspection_due != first_due[e.pk]
    ] == []


def test_inspections_happen_before_today_and_after_commissioning(devices):
    assert not Inspection.objects.filter(inspected_on__gt=TODAY).exists()
    assert not Inspection.objects.filter(inspected_on__lt=F("equipment__commissioned_on")).exists()


def test_defects_per_inspection_is_about_a_fifth(devices):
    inspections = list(Inspection.objects.values_list("defects", "conclusion"))
    passed = [d for d, conclusion in inspections if conclusion != "fail"]
    assert 0.1 < statistics.mean(passed) < 0.35  # DESIGN.md: ≈ 0.2 defects per inspection


def test_every_device_has_its_registration_event(devices):
    registered = Counter(
        LifecycleEvent.objects.filter(kind="registration").values_list("equipment_id", flat=True)
    )
    assert set(registered) == set(devices.values_list("pk", flat=True))
    assert set(registered.values()) == {1}


def test_stopped_devices_carry_their_status_event(devices):
    events = defaultdict(set)
    for equipment_id, kind in LifecycleEvent.objects.values_list("equipment_id", "kind"):
        events[equipment_id].add(kind)
    expected = {"suspended": "suspension", "cancelled": "cancellation", "scrapped": "cancellation"}
    stopped = devices.exclude(status="in_use")
    assert stopped.exists()
    assert [e.pk for e in stopped if expected[e.status] not in events[e.pk]] == []


# --- the command -----------------------------------------------------------------------------------


def test_generate_demo_prints_row_counts_and_speed(demo, db):
    tables = {
        "registry_equipment": Equipment,
        "registry_unit": Unit,
        "registry_inspection": Inspection,
    }
    before = {table: model.objects.count() for table, model in tables.items()}
    out = io.StringIO()
    # 石嘴山市 (6402): the module's demo fills 银川市 (6401).
    # No cylinders nor supervision: their summary lines (tests/cylinders, tests/inspections) would
    # follow the registry's total, and the body's feed batch adds inspections of its own.
    call_command(
        "generate_demo", prefix="6402", devices=150, seed=7, cylinders=0, supervision=False,
        verbosity=0, stdout=out,
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    printed = {
        name: int(count.replace(",", ""))
        for name, count in (line.split()[:2] for line in lines)
        if name in tables
    }
    assert printed == {
        table: model.objects.count() - before[table] for table, model in tables.items()
    }
    assert printed["registry_equipment"] == 150
    total = lines[-1]
    assert total.startswith("total") and total.endswith("rows/s)")
    assert int(total.split()[1].replace(",", "")) == sum(
        int(line.split()[1].replace(",", "")) for line in lines[:-1]
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"devices": 0}, "--devices must be positive"),
        ({"prefix": "6499", "devices": 10}, "no counties loaded"),
        ({"prefix": PREFIX, "devices": 10}, "already registered"),  # the module's demo is there
    ],
)
def test_generate_demo_refuses_bad_options(demo, db, options, message):
    before = Equipment.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("generate_demo", verbosity=0, stdout=io.StringIO(), **options)
    assert Equipment.objects.count() == before


# --- seats and offices (issue 19: patrol teams leave from the office, not the area's centre) ----


def test_the_demo_gives_each_agency_an_office_at_its_regions_seat_inside_it(demo, db):
    from accounts.models import Agency
    from geo.models import Region

    counties = Region.objects.counties().within_prefix(PREFIX)
    assert counties.exists() and not counties.filter(seat__isnull=True).exists()
    for region in [*counties, Region.objects.get(code=PREFIX + "00")]:
        # A county's seat lies inside it, a city's inside one of its counties.
        assert region.boundary.contains(region.seat), region.code
        agency = Agency.objects.get(region=region)
        assert agency.office is not None and agency.office.equals_exact(region.seat, 1e-9)


# --- ten years of history ------------------------------------------------------------------------


def test_inspections_reach_back_ten_years(devices):
    oldest = Inspection.objects.order_by("inspected_on").values_list("inspected_on", flat=True)[0]
    assert TODAY - dt.timedelta(days=10 * 365) <= oldest < TODAY - dt.timedelta(days=9 * 365)


def test_some_devices_in_use_had_a_suspension_spell_resumed(devices):
    spells = defaultdict(list)
    for equipment_id, kind, day in LifecycleEvent.objects.filter(
        kind__in=["suspension", "resumption"]
    ).values_list("equipment_id", "kind", "occurred_on"):
        spells[equipment_id].append((day, kind))
    resumed = [e for e, events in spells.items() if "resumption" in {k for _, k in events}]
    in_use = set(devices.filter(status="in_use").values_list("pk", flat=True))
    assert resumed and set(resumed) <= in_use
    for equipment_id in resumed:
        (first, kind_a), (second, kind_b) = sorted(spells[equipment_id])
        assert (kind_a, kind_b) == ("suspension", "resumption") and first < second < TODAY


def test_registrations_grow_about_eight_percent_a_year(devices):
    by_year = Counter(
        LifecycleEvent.objects.filter(kind="registration").values_list(
            "occurred_on__year", flat=True
        )
    )
    # Five full years before TODAY's: a fleet growing 8 % a year adds ~8 % more each year.
    years = range(TODAY.year - 6, TODAY.year - 1)
    growth = (by_year[years[-1]] / by_year[years[0]]) ** (1 / (len(years) - 1))
    assert 1.0 < growth < 1.2, {y: by_year[y] for y in years}


def test_overdue_shares_differ_between_counties(devices):
    shares = []
    for code in devices.values_list("region_id", flat=True).distinct():
        in_use = devices.filter(region_id=code, status="in_use").count()
        if in_use >= 100:
            shares.append(
                Equipment.objects.overdue(on=TODAY).filter(region_id=code).count() / in_use
            )
    assert max(shares) > 1.5 * min(shares), shares


# --- the national accident history ------------------------------------------------------------


def test_national_accidents_lie_in_other_provinces_counties(demo, db):
    from registry.synthetic.national import generate_national_accidents

    with transaction.atomic():
        written = generate_national_accidents(exclude="64", seed=SEED, today=TODAY)
        rows = list(Accident.objects.filter(equipment__isnull=True).select_related("region"))
        # ≈ 70-135 a year for ten years (this one to TODAY).
        assert len(rows) == written and 9 * 70 <= written <= 10 * 135
        assert {a.region.level for a in rows} == {"county"}
        assert not any(a.region_id.startswith("64") for a in rows)
        assert all(a.region.boundary.contains(a.location) for a in rows)
        years = Counter(timezone.localtime(a.occurred_at).year for a in rows)
        assert set(years) == set(range(TODAY.year - 9, TODAY.year + 1))
        deaths = sum(a.deaths for a in rows)
        assert 0.7 < deaths / written < 1.3  # about one death an accident, as DESIGN.md's figures
        causes = Counter(a.cause_class for a in rows)
        assert 0.74 < causes["use_management"] / written < 0.9
        assert {a.place_type for a in rows} <= {"residential", "public", "factory", "construction",
                                                "logistics", "leisure", "other"}  # fmt: skip
        assert all((a.severity == "ordinary") == (a.deaths < 3) for a in rows)
        transaction.set_rollback(True)
