"""The scope object: made from users and prefixes, containment, narrowing by a region filter, and
the rows it lets through, against what the org chart and the region names say."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role, User
from geo import divisions
from geo.divisions import Level
from geo.models import Region
from geo.scoping import NATIONAL, NOTHING, Scope, prefix_of
from tests.conftest import NINGXIA, SHIZUISHAN_DAWUKOU, XINGQING, XIXIA, YINCHUAN

# --------------------------------------------------------------------------- without a database


@pytest.mark.parametrize(
    "prefix, code, inside",
    [
        ("", "640104", True),
        ("64", "640104", True),
        ("64", "64", True),  # a prefix: the whole province
        ("6401", "640104", True),
        ("6401", "640202", False),
        ("6401", "64", False),  # the province is wider than the city
        ("640104", "640104", True),
        ("640104", "640105", False),
        (None, "640104", False),
    ],
)
def test_contains_a_code_or_a_prefix_inside(prefix, code, inside):
    assert Scope(prefix).contains(code) is inside


@pytest.mark.parametrize(
    "prefix, region, narrowed",
    [
        ("64", None, "64"),  # no filter: the jurisdiction
        ("64", "6401", "6401"),  # a city of the province
        ("6401", "64", "6401"),  # the province around the city: still the city
        ("6401", "6401", "6401"),
        ("", "640104", "640104"),
        ("6401", "6402", None),  # another city: nothing in both
        ("640104", "640105", None),
        (None, None, None),
        (None, "64", None),
    ],
)
def test_narrowed_is_the_narrower_or_none(prefix, region, narrowed):
    result = Scope(prefix).narrowed(region)
    assert (None if result is None else result.prefix) == narrowed


def test_a_scope_stands_in_for_a_user():
    scope = Scope("6401")
    assert scope.is_authenticated and scope.jurisdiction_prefix == "6401"
    assert Scope.of(scope) is scope


def test_anonymous_and_no_user_see_nothing():
    assert Scope.of(None) == NOTHING == Scope.of(AnonymousUser())
    assert prefix_of(AnonymousUser()) is None


@pytest.mark.parametrize(
    "prefix, width, level",
    [
        ("", 2, Level.PROVINCE),
        ("64", 4, Level.CITY),
        ("641", 4, Level.CITY),  # a region filter's prefix need not be a whole level
        ("6401", 6, Level.COUNTY),
        ("64010", 6, Level.COUNTY),
        ("640104", 6, Level.COUNTY),  # a county stands for itself
    ],
)
def test_child_width_and_level(prefix, width, level):
    assert divisions.child_width(prefix) == width
    assert divisions.child_level(prefix) == level


@pytest.mark.parametrize(
    "code, level, prefix",
    [
        ("640000", Level.PROVINCE, "64"),
        ("640100", Level.CITY, "6401"),
        ("640104", Level.COUNTY, "640104"),
        ("", Level.NATIONAL, ""),
    ],
)
def test_code_prefix(code, level, prefix):
    assert divisions.code_prefix(code, level) == prefix


# --------------------------------------------------------------------------- with users and rows


@pytest.fixture
def people(users):
    return {
        **users,
        "no_agency": User.objects.create_user("no_agency", password="x"),
        "root": User.objects.create_superuser("root", password="x"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, prefix",
    [
        ("national", ""),
        ("province", "64"),
        ("city", "6401"),
        ("xingqing", XINGQING),
        ("no_agency", None),
        ("root", ""),  # the installation's operator: national
    ],
)
def test_scope_of_a_user_is_the_agency_jurisdiction(people, who, prefix):
    assert Scope.of(people[who]).prefix == prefix


def region_and_below(code: str | None) -> set[str]:
    """A region and every region under it, by walking parent links (None: every region)."""
    links = list(Region.objects.values_list("code", "parent_id"))
    if code is None:
        return {c for c, _ in links}
    found, grown = {code}, True
    while grown:
        below = {c for c, parent in links if parent in found} - found
        found, grown = found | below, bool(below)
    return found


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, region",
    [("national", None), ("province", NINGXIA), ("city", YINCHUAN), ("xingqing", XINGQING)],
)
def test_filter_lets_through_the_regions_inside(people, who, region):
    expected = region_and_below(region)
    scope = Scope.of(people[who])
    assert set(scope.filter(Region.objects.all(), "code").values_list("code", flat=True)) == (
        expected
    )
    assert set(Region.objects.visible_to(people[who]).values_list("code", flat=True)) == expected


@pytest.mark.django_db
def test_no_jurisdiction_filters_everything_out(people):
    assert not Scope.of(people["no_agency"]).filter(Region.objects.all(), "code").exists()
    assert not Region.objects.visible_to(AnonymousUser()).exists()


@pytest.mark.django_db
def test_national_scope_filters_nothing_out():
    assert Scope("").filter(Region.objects.all(), "code").count() == Region.objects.count()
    assert NATIONAL.contains(SHIZUISHAN_DAWUKOU)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("", {NINGXIA, "110000"}),
        ("64", {YINCHUAN, "640200", "640300", "640400", "640500"}),
        ("6401", None),  # Yinchuan's counties, by their parent
        (XINGQING, {XINGQING}),
    ],
)
def test_regions_below_a_prefix(prefix, expected):
    if expected is None:
        expected = set(Region.objects.filter(parent_id=YINCHUAN).values_list("code", flat=True))
    found = set(Region.objects.below(prefix).values_list("code", flat=True))
    loaded = set(Region.objects.values_list("code", flat=True))
    assert found == expected & loaded


@pytest.mark.django_db
def test_users_visible_to_a_planner_are_those_of_the_jurisdiction(people):
    inspectors = {
        code: User.objects.create_user(f"inspector_{code}", agency=people[who].agency,
                                       role=Role.INSPECTOR)
        for code, who in ((XINGQING, "xingqing"), (XIXIA, "xixia"),
                          (SHIZUISHAN_DAWUKOU, "dawukou"))
    }  # fmt: skip

    def seen(who):
        found = User.objects.visible_to(people[who]).filter(role=Role.INSPECTOR)
        return set(found.values_list("username", flat=True))

    assert seen("city") == {inspectors[XINGQING].username, inspectors[XIXIA].username}
    assert seen("xingqing") == {inspectors[XINGQING].username}
    assert seen("no_agency") == set()
