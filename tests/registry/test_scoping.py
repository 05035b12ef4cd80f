"""Jurisdiction scoping: for every scoped model, each user sees exactly the rows of their own jurisdiction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import LineString

from accounts.models import User
from geo.scoping import ScopedQuerySet
from registry import services
from registry.models import (
    Accident,
    Certificate,
    EmergencyResource,
    Equipment,
    Inspection,
    LifecycleEvent,
    Person,
    Unit,
)
from tests.conftest import inside

pytestmark = pytest.mark.django_db

XINGQING, XIXIA, DAWUKOU = "640104", "640105", "640202"
COUNTIES = (XINGQING, XIXIA, DAWUKOU)

# What each user may see, written out from the org chart rather than from code prefixes.
SEES = {
    "xingqing": {XINGQING},
    "xixia": {XIXIA},
    "dawukou": {DAWUKOU},
    "xingqing_analyst": {XINGQING},
    "city": {XINGQING, XIXIA},  # 银川市: 兴庆区 and 西夏区, not 石嘴山市大武口区
    "province": set(COUNTIES),
    "national": set(COUNTIES),
    "superuser_without_agency": set(COUNTIES),
    "anonymous": set(),
    "no_agency": set(),
}


def _pipeline_route(county: str) -> LineString:
    start = inside(county)
    return LineString((start.x, start.y), (start.x + 0.001, start.y + 0.0005), srid=4326)


def _certificate(make_equipment, county):
    services.register_person(
        acting_user=None,
        name="持证人",
        role="operator",
        region_code=county,
        certificates=[
            {
                "kind": "作业人员证",
                "number": f"N{county}",
                "issued_on": dt.date(2024, 1, 1),
                "expires_on": dt.date(2028, 1, 1),
            }
        ],
    )


def _inspection(make_equipment, county):
    services.record_inspection(
        make_equipment(county),
        acting_user=None,
        conclusion="pass",
        inspected_on=dt.date(2026, 1, 1),
    )


def _accident(make_equipment, county):
    services.record_accident(
        acting_user=None,
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        kind="坠落",
        equipment=make_equipment(county),
    )


def _resource(make_equipment, county):
    services.register_resource(
        acting_user=None,
        name=f"救援队{county}",
        resource_type="rescue_team",
        location=inside(county),
    )


def _person(make_equipment, county):
    services.register_person(acting_user=None, name="张伟", role="operator", region_code=county)


# Each maker writes some rows in one county; a pipeline is included so routes are scoped too.
MAKERS = {
    Unit: lambda make_equipment, county: make_equipment(county),  # a device brings its use unit
    Equipment: lambda make_equipment, county: (
        make_equipment(county),
        make_equipment(county, variety_code="8210", route=_pipeline_route(county)),
    ),
    Inspection: _inspection,
    LifecycleEvent: lambda make_equipment, county: make_equipment(county),  # its registration event
    Person: _person,
    Certificate: _certificate,
    Accident: _accident,
    EmergencyResource: _resource,
}


def test_every_scoped_registry_model_is_covered():
    from django.apps import apps

    scoped = {
        m
        for m in apps.get_app_config("registry").get_models()
        if isinstance(m.objects.all(), ScopedQuerySet)
    }
    assert scoped == set(MAKERS)


@pytest.fixture
def viewers(users) -> dict[str, object]:
    return {
        **users,
        "anonymous": AnonymousUser(),
        "no_agency": User.objects.create_user("no_agency", password="x"),
        "superuser_without_agency": User.objects.create_superuser("root", password="x"),
    }


@pytest.fixture
def rows_by_county(request, make_equipment) -> dict[str, set[int]]:
    """Primary keys of the model's rows that appeared while writing in each county."""
    model = request.param
    by_county: dict[str, set[int]] = {}
    for county in COUNTIES:
        before = set(model.objects.values_list("pk", flat=True))
        MAKERS[model](make_equipment, county)
        by_county[county] = set(model.objects.values_list("pk", flat=True)) - before
        assert by_county[county], f"no {model.__name__} written in {county}"
    return model, by_county


@pytest.mark.parametrize("rows_by_county", list(MAKERS), indirect=True, ids=lambda m: m.__name__)
def test_each_user_sees_exactly_their_jurisdiction(rows_by_county, viewers):
    # One table per model, every viewer in it: a failure shows who saw what.
    model, by_county = rows_by_county
    seen = {
        name: set(model.objects.visible_to(viewers[name]).values_list("pk", flat=True))
        for name in SEES
    }
    expected = {
        name: set().union(*(by_county[c] for c in counties)) for name, counties in SEES.items()
    }
    assert seen == expected


@pytest.mark.parametrize("model", list(MAKERS), ids=lambda m: m.__name__)
def test_visible_to_none_sees_nothing(make_equipment, model):
    MAKERS[model](make_equipment, XINGQING)
    assert model.objects.exists()
    assert not model.objects.visible_to(None).exists()


def test_scope_comes_first_and_later_filters_stay_inside(make_equipment, users):
    ours, theirs = make_equipment(XINGQING), make_equipment(XIXIA)
    visible = Equipment.objects.visible_to(users["xingqing"])
    assert list(visible.filter(pk__in=[ours.pk, theirs.pk])) == [ours]
    assert not visible.by_code(theirs.device_code).exists()
