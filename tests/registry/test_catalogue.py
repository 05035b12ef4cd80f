"""The 2014 special-equipment catalogue table and its lookups (no database)."""

import csv
import dataclasses
import re
from collections import Counter

import pytest

from registry import catalogue

KINDS = {
    "1000": "锅炉",
    "2000": "压力容器",
    "3000": "电梯",
    "4000": "起重机械",
    "5000": "场（厂）内专用机动车辆",
    "6000": "大型游乐设施",
    "7000": "压力管道元件",
    "8000": "压力管道",
    "9000": "客运索道",
    "F000": "安全附件",
}


def raw_rows() -> list[dict[str, str]]:
    with catalogue.CSV_PATH.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def current() -> list[catalogue.Entry]:
    return [e for e in catalogue.entries().values() if not e.retired]


def test_header_is_the_agreed_one():
    with catalogue.CSV_PATH.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "code",
        "parent",
        "level",
        "name_zh",
        "name_en",
        "registrable",
        "geometry",
        "retired",
        "replaced_by",
        "note",
    ]


def test_no_duplicate_codes_in_the_file():
    counts = Counter(row["code"] for row in raw_rows())
    assert [code for code, n in counts.items() if n > 1] == []


def test_codes_are_four_characters_of_digits_and_capitals():
    bad = [r["code"] for r in raw_rows() if not re.fullmatch(r"[0-9A-Z]{4}", r["code"])]
    assert bad == []


def test_every_kind_is_present_with_its_name():
    kinds = {e.code: e.name_zh for e in catalogue.kinds()}
    assert kinds == KINDS


@pytest.mark.parametrize("entry", current(), ids=lambda e: e.code)
def test_parent_chain_reaches_a_kind(entry):
    node, steps = entry, 0
    while node.parent:
        node = catalogue.get(node.parent)
        assert node is not None and not node.retired
        steps += 1
    assert node.level == "kind"
    assert steps == {"kind": 0, "class": 1, "variety": 2}[entry.level] or (
        # The 2014 catalogue lists 安全附件 varieties directly under F000, with no class.
        entry.level == "variety" and node.code == "F000" and steps == 1
    )


@pytest.mark.parametrize("entry", current(), ids=lambda e: e.code)
def test_code_shape_matches_level(entry):
    # X000 kinds, XX00 classes, XXX0 varieties (7310 is the one code filed outside its prefix).
    expected = {"kind": r".000", "class": r".[1-9A-Z]00", "variety": r"..[1-9A-Z]0"}
    assert re.fullmatch(expected[entry.level], entry.code)
    if entry.parent and entry.code != "7310":
        keep = {"kind": 1, "class": 2}[catalogue.get(entry.parent).level]
        assert entry.code[:keep] == entry.parent[:keep]


def test_pipelines_are_lines_and_everything_else_points():
    lines = {e.code for e in catalogue.entries().values() if e.geometry == "line"}
    pipelines = {e.code for e in catalogue.entries().values() if e.code.startswith("8")}
    assert lines == pipelines
    assert {"8000", "8100", "8110", "8210", "8310"} <= lines


def test_product_categories_are_not_registrable():
    not_registrable = {e.code for e in catalogue.entries().values() if not e.registrable}
    in_product_kinds = {
        e.code
        for e in catalogue.entries().values()
        if catalogue.kind_of(e.code) in {"7000", "F000"}
    }
    assert not_registrable == in_product_kinds
    assert "7310" in not_registrable  # 安全阀, filed under F000


def test_english_names_are_present_and_ascii():
    assert [e.code for e in catalogue.entries().values() if not e.name_en.isascii()] == []
    assert [e.code for e in catalogue.entries().values() if not e.name_en or not e.name_zh] == []


@pytest.mark.parametrize(
    ("code", "name_zh"),
    [
        ("1310", "有机热载体气相炉"),
        ("2130", "第三类压力容器"),
        ("23T0", "特种气瓶（内装填料气瓶、纤维缠绕气瓶、低温绝热气瓶）"),
        ("2420", "高气压舱"),
        ("3430", "杂物电梯"),
        ("4210", "通用门式起重机"),
        ("4220", "防爆门式起重机"),
        ("4230", "轨道式集装箱门式起重机"),
        ("4240", "轮胎式集装箱门式起重机"),
        ("4250", "岸边集装箱起重机"),
        ("4260", "造船门式起重机"),
        ("4270", "电动葫芦门式起重机"),
        ("4280", "装卸桥"),
        ("4290", "架桥机"),
        ("4A00", "桅杆式起重机"),
        ("4D00", "机械式停车设备"),
        ("5110", "叉车"),
        ("6B00", "滑道类"),
        ("6D40", "碰碰船系列"),
        ("6E60", "系留式观光气球系列"),
        ("71F0", "非金属材料管"),
        ("7TZ0", "元件组合装置"),
        ("8330", "制冷管道"),
        ("9320", "高位客运拖牵索道"),
        ("F260", "气瓶阀门"),
    ],
)
def test_catalogue_facts(code, name_zh):
    assert catalogue.get(code).name_zh == name_zh


@pytest.mark.parametrize(
    ("parent", "children"),
    [
        ("4200", ["4210", "4220", "4230", "4240", "4250", "4260", "4270", "4280", "4290"]),
        ("4400", ["4410", "4420", "4440", "4450"]),
        ("6D00", ["6D10", "6D20", "6D40"]),
        ("6E00", ["6E10", "6E40", "6E50", "6E60"]),
        ("F000", ["7310", "F220", "F230", "F260"]),
        ("6100", []),
        ("5200", []),
    ],
)
def test_children(parent, children):
    assert [e.code for e in catalogue.children(parent)] == children


def test_amusement_classes_run_6100_to_6e00_without_6c00():
    classes = [e.code for e in catalogue.children("6000")]
    assert classes == [
        "6100",
        "6200",
        "6300",
        "6400",
        "6500",
        "6600",
        "6700",
        "6800",
        "6900",
        "6A00",
        "6B00",
        "6D00",
        "6E00",
    ]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("3110", "3000"),
        ("23T0", "2000"),
        ("F220", "F000"),
        ("7310", "F000"),
        ("7T10", "7000"),
        ("4A00", "4000"),
        ("6E10", "6000"),
        ("8000", "8000"),
        ("4B00", "4000"),
        (" 6e10 ", "6000"),
        ("3999", "3000"),  # not in the catalogue: first character decides
    ],
)
def test_kind_of(code, kind):
    assert catalogue.kind_of(code) == kind


@pytest.mark.parametrize("code", ["", "Z123", "0000"])
def test_kind_of_rejects_codes_of_no_kind(code):
    with pytest.raises(catalogue.CatalogueError):
        catalogue.kind_of(code)


def test_retired_rows_point_at_current_codes_or_explain_why_not():
    retired = [e for e in catalogue.entries().values() if e.retired]
    assert {"4B00", "4C00", "5220", "5230"} <= {e.code for e in retired}
    for entry in retired:
        if entry.replaced_by:
            successor = catalogue.get(entry.replaced_by)
            assert successor is not None and not successor.retired
            assert catalogue.kind_of(successor.code) == catalogue.kind_of(entry.code)
        else:
            assert "removed" in entry.note


def test_resolve_current_code_has_no_finding():
    entry, finding = catalogue.resolve("3110")
    assert (entry.code, finding) == ("3110", None)


@pytest.mark.parametrize(("code", "successor"), [("5220", "5200"), ("5230", "5200")])
def test_resolve_maps_retired_code_to_successor_with_warning(code, successor):
    entry, finding = catalogue.resolve(code)
    assert entry.code == successor
    assert (finding.severity, finding.rule, finding.suggestion) == (
        "warning",
        "catalogue.retired",
        successor,
    )
    assert code in finding.message and successor in finding.message


@pytest.mark.parametrize("code", ["4B00", "4C00"])
def test_resolve_retired_code_without_successor_warns(code):
    entry, finding = catalogue.resolve(code)
    assert entry.code == code and entry.retired
    assert (finding.severity, finding.rule) == ("warning", "catalogue.retired_no_successor")


@pytest.mark.parametrize(("code", "leaf_class"), [("4D10", "4D00"), ("6110", "6100")])
def test_resolve_unlisted_variety_of_a_class_without_varieties_warns(code, leaf_class):
    entry, finding = catalogue.resolve(code)
    assert entry.code == leaf_class
    assert (finding.severity, finding.rule) == ("warning", "catalogue.variety_not_listed")


@pytest.mark.parametrize("code", ["ZZZZ", "3990", "4890", "", "31"])
def test_resolve_unknown_code_raises_with_an_error_finding(code):
    with pytest.raises(catalogue.UnknownCode) as caught:
        catalogue.resolve(code)
    assert caught.value.finding.severity == "error"
    assert caught.value.finding.rule == "catalogue.unknown"


@pytest.mark.parametrize(
    ("variety", "char"),
    [
        ("1100", "锅"),
        ("1310", "锅"),
        ("2130", "容"),
        ("2220", "容"),
        ("2410", "容"),
        ("2310", "瓶"),
        ("23T0", "瓶"),
        ("3110", "梯"),
        ("4170", "起"),
        ("4D00", "起"),
        ("5110", "车"),
        ("5220", "车"),  # retired, resolved to 5200
        ("6E10", "游"),
        ("8310", "管"),
        ("9110", "索"),
    ],
)
def test_certificate_kind_char(variety, char):
    assert catalogue.certificate_kind_char(variety) == char


@pytest.mark.parametrize("variety", ["7110", "7310", "F220", "ZZZZ"])
def test_product_categories_and_unknown_codes_have_no_certificate_char(variety):
    with pytest.raises(catalogue.CatalogueError):
        catalogue.certificate_kind_char(variety)


def test_entries_are_frozen_and_loaded_once():
    entry = catalogue.get("3110")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name_zh = "x"
    assert catalogue.entries() is catalogue.entries()


def test_get_normalises_and_misses_quietly():
    assert catalogue.get(" 23t0 ").code == "23T0"
    assert catalogue.get("9999") is None


def test_every_parameter_the_generator_writes_is_defined_with_its_label():
    """The demo's and benchmark's devices show no raw keys on their pages."""
    from registry.synthetic import profiles
    from registry.synthetic.draw import Draw

    rng = Draw(1)
    defined = catalogue.parameters()
    for kind in ("1000", "2000", "3000", "4000", "5000", "6000", "8000", "9000"):
        for variety in {"3000": ("3110", "3310"), "4000": ("4110", "4150")}.get(kind, (kind,)):
            for key, value in profiles.params_for(kind, variety, rng, urban=True).items():
                parameter = defined[(kind, key)]
                assert parameter.label_zh and parameter.label_en
                assert parameter.show(value) not in ("", key)


def test_a_parameters_unit_is_shown_in_the_readers_language():
    from django.utils import translation

    floors = catalogue.parameters()[("3000", "floors")]
    pressure = catalogue.parameters()[("1000", "pressure_mpa")]
    assert (floors.show(9), pressure.show(1.25)) == ("9 层", "1.25 MPa")
    with translation.override("en"):
        assert (floors.show(9), pressure.show(1.25)) == ("9 floors", "1.25 MPa")
