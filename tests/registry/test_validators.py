"""Identifier checks: device, registration, certificate, credit, rescue and division codes."""

import random
from datetime import date

import pytest

from registry import validators as v

TODAY = date(2025, 6, 1)

# GB 32100 written out again here, so the tests do not lean on the module's own tables.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [3**i % 31 for i in range(17)]  # 1, 3, 9, 27, 19, 26, ... as the standard lists

# Credit codes published for well-known organisations (company registries, annual reports).
PUBLISHED_CREDIT_CODES = [
    "914403001922038216",  # 华为技术有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100716105852F",  # 阿里巴巴（中国）网络技术有限公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
    "91110000710926094P",  # 中国石油化工股份有限公司
    "91110000710925462X",  # 中国石油天然气股份有限公司
    "91310000132260250X",  # 上海汽车集团股份有限公司
    "12100000425006133D",  # 华东师范大学 (public institution, national registration 100000)
]


def rules(findings):
    return sorted(f.rule for f in findings)


def brute_force_check_char(first17: str) -> str:
    """The one character that makes the weighted sum of all 18 characters ≡ 0 (mod 31)."""
    partial = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    fits = [c for c in ALPHABET if (partial + ALPHABET.index(c)) % 31 == 0]
    assert len(fits) == 1
    return fits[0]


def test_weights_are_the_published_ones():
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


# --- credit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
def test_published_credit_codes_are_valid(code):
    assert brute_force_check_char(code[:17]) == code[17]
    assert v.check_credit_code(code) == []


def test_check_char_agrees_with_brute_force_on_random_codes():
    rng = random.Random(32100)
    for _ in range(500):
        first17 = "".join(rng.choice(ALPHABET) for _ in range(17))
        assert v.credit_code_check_char(first17) == brute_force_check_char(first17)


def test_check_char_31_maps_to_zero():
    # Find a body whose weighted sum is already ≡ 0 (mod 31): its check character is '0'.
    body = next(
        f"91110000{n:09d}"
        for n in range(10**6)
        if brute_force_check_char(f"91110000{n:09d}") == "0"
    )
    assert v.credit_code_check_char(body) == "0"


def test_wrong_check_char_is_an_error_naming_the_right_one():
    (finding,) = v.check_credit_code("914403001922038217")
    assert (finding.rule, finding.severity) == ("credit_code.check_char", "error")
    assert "6" in finding.message
    assert finding.suggestion == "914403001922038216"


def test_briefed_sample_fails_its_check_char():
    # 91110000100003000W was offered as an example; its check character does not verify.
    expected = brute_force_check_char("91110000100003000")
    assert expected != "W"
    (finding,) = v.check_credit_code("91110000100003000W")
    assert finding.rule == "credit_code.check_char"
    assert finding.suggestion == "91110000100003000" + expected


def test_credit_code_is_normalised():
    assert v.check_credit_code("  91110108551385082q ") == []


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("", "credit_code.empty"),
        ("91440300192203821", "credit_code.length"),
        ("9144030019220382166", "credit_code.length"),
        ("91440300192203821I", "credit_code.charset"),
        ("9144030O1922038216", "credit_code.charset"),
        ("91440300-922038216", "credit_code.charset"),
    ],
)
def test_malformed_credit_codes(code, rule):
    assert rules(v.check_credit_code(code)) == [rule]


def test_credit_code_with_impossible_division_warns_but_checksum_rules():
    body = "91990000MA0000001"  # province 99 does not exist
    code = body + brute_force_check_char(body)
    findings = v.check_credit_code(code)
    assert rules(findings) == ["credit_code.division"]
    assert v.errors(findings) == []


def test_credit_code_check_char_rejects_bad_input():
    with pytest.raises(ValueError):
        v.credit_code_check_char("9144030019220382")
    with pytest.raises(ValueError):
        v.credit_code_check_char("9144030019220382I")


# --- device codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "3110T123420190001" + "2",  # 18: 3110 + maker T1234 + 2019 + 00012
        "311031011201900001",  # 18: numeric maker code
        "23T0A1B2C202400001",  # 18: special gas cylinder
        "4D00XY12320180099" + "1",  # class without varieties
        "8310BJ00120100000" + "7",  # pipeline
        "3110210102201500123",  # 19: division code 210102 in place of the maker code
        " 4d00xy123201800991 ",  # normalised
        "3110T1234202600001",  # year = TODAY.year + 1
    ],
)
def test_valid_device_codes(code):
    assert v.check_device_code(code, today=TODAY) == []


def test_17_character_device_code_is_only_a_warning():
    findings = v.check_device_code("31103101120190001", today=TODAY)
    assert rules(findings) == ["device_code.length_17"]
    assert v.errors(findings) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("", ["device_code.empty"]),
        ("3110T12342019001", ["device_code.length"]),  # 16
        ("3110T1234201900012345", ["device_code.length"]),  # 21
        ("3110-T1234-2019-01", ["device_code.charset"]),
        ("3110 T1234201900012", ["device_code.charset"]),
        ("3110Ｔ1234201900012", ["device_code.charset"]),  # full-width letter
        ("3990T1234201900012", ["device_code.variety_unknown"]),
        ("3110T1234194800012", ["device_code.year"]),
        ("3110T1234202700012", ["device_code.year"]),
        ("3110T12342019000A2", ["device_code.sequence"]),
        ("3110990102201500123", ["device_code.division"]),
        ("3110T1234ABCD00012", ["device_code.year"]),
    ],
)
def test_invalid_device_codes(code, expected):
    findings = v.check_device_code(code, today=TODAY)
    assert rules(findings) == expected
    assert all(f.severity == "error" for f in findings)


def test_device_code_message_says_what_was_found():
    (finding,) = v.check_device_code("3110T12342019001", today=TODAY)
    assert finding.message == (
        "设备代码应为18或19位 / device code must be 18 or 19 characters, got 16"
    )


def test_retired_variety_with_successor_warns_and_suggests_it():
    (finding,) = v.check_device_code("5220T1234201200012", today=TODAY)
    assert (finding.rule, finding.severity, finding.suggestion) == (
        "device_code.variety_retired",
        "warning",
        "5200",
    )


def test_retired_variety_without_successor_warns():
    findings = v.check_device_code("4C00T1234201200012", today=TODAY)
    assert rules(findings) == ["device_code.variety_retired"]
    assert v.errors(findings) == []


def test_unlisted_variety_under_class_without_varieties_warns():
    findings = v.check_device_code("4D10T1234201200012", today=TODAY)
    assert rules(findings) == ["device_code.variety_not_listed"]


def test_class_with_varieties_is_not_specific_enough():
    findings = v.check_device_code("3100T1234201200012", today=TODAY)
    assert rules(findings) == ["device_code.variety_not_specific"]
    assert v.errors(findings) == []


def test_product_category_code_warns():
    assert rules(v.check_device_code("7110T1234201200012", today=TODAY)) == [
        "device_code.not_registrable"
    ]


def test_device_code_year_defaults_to_today():
    assert v.check_device_code(f"3110T1234{date.today().year}00012") == []


# --- registration codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["31103101052013050001", "21306101132008120123", "41703701022010010001"],
)
def test_valid_registration_codes(code):
    assert v.check_registration_code(code, today=TODAY) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("31103101052013130001", ["registration_code.month"]),
        ("31103101052013000001", ["registration_code.month"]),
        ("39903101052013050001", ["registration_code.category"]),
        ("31109901052013050001", ["registration_code.division"]),
        ("31103101051890050001", ["registration_code.year"]),
    ],
)
def test_legacy_registration_code_content_only_warns(code, expected):
    findings = v.check_registration_code(code, today=TODAY)
    assert rules(findings) == expected
    assert v.errors(findings) == []


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("", "registration_code.empty"),
        ("3110310105201305001", "registration_code.format"),
        ("311031010520130500012", "registration_code.format"),
        ("4D003101052013050001", "registration_code.format"),
        ("3110-310105-201305-01", "registration_code.format"),
    ],
)
def test_registration_code_that_is_not_20_digits_is_an_error(code, rule):
    findings = v.check_registration_code(code, today=TODAY)
    assert rules(findings) == [rule]
    assert findings[0].severity == "error"


# --- use registration certificate numbers -------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "起17辽JG0033(24)",
        "梯11宁A00012（19）",
        "梯11宁A00012（１９）",
        "容13京B0157(18)",
        "瓶31沪A12345(21)",
        "管31苏E0001(22)",
        "索11川Q0002(16)",
        "游D1粤B0007(23)",
        "车11浙A1234X(20)",
        "锅10黑A0123(15)",  # 1100 承压蒸汽锅炉
        " 梯 11 宁 A 00012 (19) ",
        "梯11宁ａ00012(19)",
    ],
)
def test_valid_certificate_numbers(number):
    assert v.check_certificate_number(number) == []


@pytest.mark.parametrize("number", ["梯99京A0001(20)", "梯10京A0001(20)", "瓶11京A0001(20)"])
def test_certificate_digits_matching_no_variety_warn(number):
    # 3100 has varieties, so 梯10 names no specific one; cylinders are 瓶31/瓶32/瓶3T.
    findings = v.check_certificate_number(number)
    assert rules(findings) == ["certificate_number.variety_unknown"]
    assert v.errors(findings) == []


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("梯11宁A00012（19）", "梯11宁A00012(19)"),
        ("起１７辽ＪＧ００３３（２４）", "起17辽JG0033(24)"),
        (" 梯 11　宁A00012 (19) ", "梯11宁A00012(19)"),
        ("梯11宁a00012(19)", "梯11宁A00012(19)"),
    ],
)
def test_normalise_certificate_number(raw, normalised):
    assert v.normalise_certificate_number(raw) == normalised


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("", "certificate_number.empty"),
        ("电11京A0001(20)", "certificate_number.kind"),
        ("梯1京A0001(20)", "certificate_number.variety_digits"),
        ("梯1-京A0001(20)", "certificate_number.variety_digits"),
        ("梯11X京A0001(20)", "certificate_number.province"),
        ("梯11北A0001(20)", "certificate_number.province"),
        ("梯11京0001(20)", "certificate_number.city"),
        ("梯11京A(20)", "certificate_number.serial"),
        ("梯11京A0001", "certificate_number.year"),
        ("梯11京A0001(2020)", "certificate_number.year"),
        ("梯11京A0001[20]", "certificate_number.year"),
        ("梯11京A0001(20)X", "certificate_number.format"),
    ],
)
def test_invalid_certificate_numbers(number, rule):
    findings = v.check_certificate_number(number)
    assert rules(findings) == [rule]
    assert findings[0].severity == "error"


@pytest.mark.parametrize(
    ("number", "variety", "expected"),
    [
        ("梯11宁A00012(19)", "3110", []),
        ("起17辽JG0033(24)", "4170", []),
        ("瓶31沪A12345(21)", "2310", []),
        ("瓶3T沪A12345(21)", "23T0", []),
        ("管31苏E0001(22)", "8310", []),
        ("梯12宁A00012(19)", "3110", ["certificate_number.variety_mismatch"]),
        ("容31沪A12345(21)", "2310", ["certificate_number.kind_mismatch"]),
        ("起11宁A00012(19)", "3110", ["certificate_number.kind_mismatch"]),
        ("车20浙A1234(20)", "5220", ["catalogue.retired"]),
    ],
)
def test_certificate_matches_variety(number, variety, expected):
    findings = v.check_certificate_matches_variety(number, variety)
    assert rules(findings) == expected
    assert v.errors(findings) == []


def test_certificate_against_unknown_variety_is_an_error():
    findings = v.check_certificate_matches_variety("梯11宁A00012(19)", "3990")
    assert rules(findings) == ["catalogue.unknown"]


def test_certificate_against_malformed_number_reports_the_format():
    assert rules(v.check_certificate_matches_variety("梯11宁A00012", "3110")) == [
        "certificate_number.year"
    ]


# --- 96333 rescue IDs ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["123456", "000001", "12345", " 654321 "])
def test_valid_rescue_ids(value):
    assert v.check_rescue_id(value) == []


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "rescue_id.empty"),
        ("1234", "rescue_id.format"),
        ("1234567", "rescue_id.format"),
        ("12a456", "rescue_id.format"),
        ("１２３４５６", "rescue_id.format"),
    ],
)
def test_invalid_rescue_ids(value, rule):
    assert rules(v.check_rescue_id(value)) == [rule]


# --- division codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["110000", "110101", "440305", "650102", "710000", "810000", "820000"]
)
def test_valid_division_codes(code):
    assert v.check_division_code(code) == []


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("", "division_code.empty"),
        ("11010", "division_code.format"),
        ("1101011", "division_code.format"),
        ("11010A", "division_code.format"),
        ("100000", "division_code.province"),
        ("660101", "division_code.province"),
        ("000000", "division_code.province"),
    ],
)
def test_invalid_division_codes(code, rule):
    assert rules(v.check_division_code(code)) == [rule]


# --- helpers -----------------------------------------------------------------------------------


def test_errors_and_warnings_split_findings():
    findings = v.check_device_code("5220T12341948000AB", today=TODAY)
    assert rules(v.warnings(findings)) == ["device_code.variety_retired"]
    assert rules(v.errors(findings)) == ["device_code.sequence", "device_code.year"]
