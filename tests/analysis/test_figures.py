"""Each measure and indicator against the fixture's figures worked out by hand (conftest.py): the
computation from the registry tables and the precomputed table alike."""

from __future__ import annotations

import pytest

from analysis import desk, precomputed
from analysis.figures import Measures, measures_from_registry, total
from analysis.indicators import BY_KEY, INDICATORS
from geo.scoping import Scope
from registry.models import Equipment
from tests.analysis.conftest import JINFENG, TODAY
from tests.conftest import XINGQING, XIXIA

YEARS = [2023, 2024, 2025]


@pytest.fixture(params=["registry", "table"])
def measures(request):
    """The computation from the registry tables, and the table it fills (read after the refresh
    the fixture's writes call for)."""
    return {"registry": measures_from_registry, "table": precomputed.measures}[request.param]


def test_the_fixture_is_what_the_table_says(registry):
    # The due dates the hand computation rests on: the elevator rule's 12 months.
    def due(name):
        inspections = registry[name].inspections.order_by("inspected_on")
        return inspections.values_list("next_due", flat=True)

    assert [str(d) for d in due("A")] == ["2025-02-20", "2026-03-10"]
    assert [str(d) for d in due("B")] == ["2025-04-15", "2026-04-01"]
    assert [str(d) for d in due("G")] == ["2024-11-20", "2025-11-01"]
    assert registry["D"].next_inspection_due is None
    assert registry["D"].events.get(kind="registration").occurred_on.isoformat() == "2025-02-01"


def test_measures_per_county_by_hand(registry, measures):
    figures = measures(Scope("6401"), 6, YEARS, TODAY)
    xingqing, xixia = figures[XINGQING], figures[XIXIA]
    # 兴庆区: A, B, E registered in 2023, E suspended on 1 December; C registered and cancelled
    # in 2024; D registered in 2025 (no commissioning date).
    # Every elevator needs a supervisory inspection at installation; none had one.
    assert xingqing[2023] == Measures(
        registered=3,
        in_use=2,
        registrations=3,
        supervision_required=3,
        overdue=1,
        in_use_now=3,
        use_registration_required=3,
    )
    assert xingqing[2024] == Measures(
        registered=3, in_use=2, registrations=1, cancellations=1, accidents=1, injuries=1,
        supervision_required=1, overdue=1, in_use_now=3, use_registration_required=3,
    )  # fmt: skip
    # Due in 2025 (to 30 June): A's 20 February (met 10 March: late) and B's 15 April (met 1 April).
    # C's 10 January is left out (cancelled), E's 2024 date too (suspended), D has none.
    assert xingqing[2025] == Measures(
        registered=4, in_use=3, registrations=1, due=2, inspected_on_time=1,
        supervision_required=1, overdue=1, in_use_now=3, use_registration_required=3,
    )  # fmt: skip
    # 西夏区: G (2022), F (2024); G's 2024 date met early, F's 1 June not met by 30 June.
    assert xixia[2023] == Measures(
        registered=1, in_use=1, overdue=1, in_use_now=2, use_registration_required=2
    )
    assert xixia[2024] == Measures(
        registered=2, in_use=2, registrations=1, due=1, inspected_on_time=1,
        supervision_required=1, overdue=1, in_use_now=2, use_registration_required=2,
    )  # fmt: skip
    assert xixia[2025] == Measures(
        registered=2, in_use=2, due=1, accidents=1, deaths=1, injuries=2, overdue=1,
        in_use_now=2, use_registration_required=2,
    )  # fmt: skip
    # A county with no devices has no row of its own: the table adds it with zeros.
    assert JINFENG not in figures


def test_the_supervision_rate_by_hand(registry, make_unit, measures):
    """监督检验率: A and B (兴庆区, registered 2023) get a passed installation inspection, E a
    failed one: 2023's three registrations needing one, two supervised; 2024's C, none."""
    from inspections import services as supervision

    body = make_unit(XINGQING, roles=("inspection",), name="宁夏特检院")
    for name, conclusion in (("A", "pass"), ("B", "conditional"), ("E", "fail")):
        supervision.record_supervisory_inspection(
            registry[name], acting_user=None, stage="installation", body=body,
            inspected_on=registry[name].commissioned_on, conclusion=conclusion,
            report_number=f"JJ-{name}", certificate_number=f"C-{name}" if conclusion != "fail" else "",
        )  # fmt: skip
    figures = measures(Scope("6401"), 6, YEARS, TODAY)
    assert (figures[XINGQING][2023].supervision_required, figures[XINGQING][2023].supervised) == (
        3,
        2,
    )
    assert (figures[XINGQING][2024].supervision_required, figures[XINGQING][2024].supervised) == (
        1,
        0,
    )
    rate = BY_KEY["supervision_rate"]
    assert rate.value(2, 3) == round(2 * 100 / 3, 4)
    # 银川市 in 2023: 兴庆区's three and 西夏区's none.
    city = total(figures, YEARS)[2023]
    assert rate.value(city.supervised, city.supervision_required) == round(2 * 100 / 3, 4)


def test_the_use_registration_rate_by_hand(registry, measures):
    """使用登记率: in use today in 兴庆区 are A, B and D (C cancelled, E suspended), in 西夏区 F and G;
    A and G are given certificate numbers. Elevators need a use registration (the data table)."""
    for name, number in (("A", "梯11宁A00001(23)"), ("G", "梯11宁A00002(22)")):
        Equipment.objects.filter(pk=registry[name].pk).update(certificate_number=number)
    figures = measures(Scope("6401"), 6, YEARS, TODAY)
    for year in YEARS:  # today's state, the same in every year
        xingqing, xixia = figures[XINGQING][year], figures[XIXIA][year]
        assert (xingqing.use_registration_required, xingqing.use_registered) == (3, 1)
        assert (xixia.use_registration_required, xixia.use_registered) == (2, 1)
    city = total(figures, YEARS)[2025]
    rate = BY_KEY["use_registration_rate"]
    assert rate.current_only
    assert rate.value(city.use_registered, city.use_registration_required) == 40.0


def test_which_kinds_need_a_use_registration():
    from analysis.figures import needs_use_registration

    assert needs_use_registration("3110") and needs_use_registration("23T0")
    assert needs_use_registration("8310") and needs_use_registration("4A00")
    # Products, not devices in use; and a code no row covers.
    assert not needs_use_registration("7310") and not needs_use_registration("F220")
    assert not needs_use_registration("Z000")


def test_the_unlicensed_action_rate_by_hand(registry, make_unit, users, measures):
    """无证生产查处率: A (兴庆区, made 2023-02-01) and F (西夏区, made 2024-05-01) were made by a
    maker with no licence: two findings, one per year; the 兴庆区 supervisor acts on A's."""
    from licensing import services as licensing

    maker = make_unit(XINGQING, roles=("manufacture",), name="无证制造厂")
    for name, day in (("A", "2023-02-01"), ("F", "2024-05-01")):
        Equipment.objects.filter(pk=registry[name].pk).update(
            manufacturer=maker, manufactured_on=day
        )
    assert licensing.record_finding_action(
        equipment_id=registry["A"].pk, unit_id=maker.pk, kind="manufacture",
        action="责令停止制造，立案查处", acting_user=users["xingqing"],
    ).region_id == XINGQING  # fmt: skip
    figures = measures(Scope("6401"), 6, YEARS, TODAY)
    assert (figures[XINGQING][2023].unlicensed, figures[XINGQING][2023].unlicensed_acted) == (1, 1)
    assert (figures[XIXIA][2024].unlicensed, figures[XIXIA][2024].unlicensed_acted) == (1, 0)
    assert figures[XIXIA][2023].unlicensed == figures[XINGQING][2024].unlicensed == 0
    city = total(figures, YEARS)
    rate = BY_KEY["unlicensed_action_rate"]
    assert rate.value(city[2023].unlicensed_acted, city[2023].unlicensed) == 100.0
    assert rate.value(city[2024].unlicensed_acted, city[2024].unlicensed) == 0.0
    assert rate.value(city[2025].unlicensed_acted, city[2025].unlicensed) is None


def test_overdue_is_the_map_layers_definition(registry, measures):
    scope = Scope("6401")
    overdue = Equipment.objects.visible_to(scope).overdue(TODAY)
    assert sorted(overdue.values_list("pk", flat=True)) == sorted(
        [registry["D"].pk, registry["F"].pk]
    )
    assert total(measures(scope, 0, [2025], TODAY), [2025])[2025].overdue == 2


@pytest.mark.parametrize(
    ("key", "year", "expected"),
    [
        ("devices", 2025, 6),
        ("in_use", 2025, 5),
        ("in_use", 2023, 3),
        ("registrations", 2024, 2),
        ("cancellations", 2024, 1),
        ("inspection_rate", 2025, round(1 * 100 / 3, 4)),
        ("inspection_rate", 2024, 100.0),
        ("inspection_rate", 2023, None),  # nothing fell due: no rate, not 0 %
        ("overdue_rate", 2025, 40.0),  # D and F of A, B, D, F, G in use
        ("accidents", 2024, 1),
        ("deaths", 2025, 1),
        ("injuries", 2025, 2),
        ("accidents_per_10k", 2024, 2500.0),  # 1 ÷ (4 ÷ 10,000)
        ("deaths_per_10k", 2025, 2000.0),  # 1 ÷ (5 ÷ 10,000)
        ("deaths_per_10k", 2024, 0.0),
    ],
)
def test_indicator_of_the_city_by_hand(registry, key, year, expected, measures):
    city = total(measures(Scope("6401"), 0, YEARS, TODAY), YEARS)
    assert desk.value_of(BY_KEY[key], city[year])["value"] == expected


def test_a_county_without_devices_has_zero_counts_and_no_rates(registry):
    rows, _ = desk.child_rows(desk.area_of("6401"), 2025, TODAY)
    jinfeng = next(row for row in rows if row["code"] == JINFENG)
    for indicator in INDICATORS:
        value = jinfeng["values"][indicator.key]
        assert value == (0 if indicator.additive else None), indicator.key


@pytest.mark.parametrize("prefix", ["64", "6401", XINGQING])
@pytest.mark.parametrize("year", YEARS)
def test_child_rows_sum_to_the_parent_for_every_additive_indicator(
    registry, prefix, year, measures
):
    area = desk.area_of(prefix)
    rows, totals = desk.child_rows(area, year, TODAY)
    # The parent computed on its own, by one grouped statement over the whole area.
    parent = total(measures(Scope(prefix), 0, [year], TODAY), [year])[year]
    for indicator in INDICATORS:
        if not indicator.additive:
            continue
        summed = sum(row["values"][indicator.key] for row in rows)
        assert summed == totals["values"][indicator.key], indicator.key
        assert summed == getattr(parent, indicator.numerator), indicator.key


def test_the_province_counts_every_device_once(registry, measures):
    province = total(measures(Scope("64"), 0, [2025], TODAY), [2025])[2025]
    # A–H registered by 30 June 2025 less C (cancelled); in use less E (suspended).
    assert (province.registered, province.in_use) == (7, 6)


def test_a_scope_sees_only_its_own_devices(registry, measures):
    figures = measures(Scope(XINGQING), 6, [2025], TODAY)
    assert set(figures) == {XINGQING}
    assert measures(Scope(None), 6, [2025], TODAY) == {}
