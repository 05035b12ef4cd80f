"""A map layer as a table (/map/list/<layer>/, maps/lists.py): the layer's scoped rows under the
map's filters, sorted, paged and bounded; bad parameters are a 400 naming them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from maps import lists
from maps.summary import jurisdiction_summary
from registry.models import Equipment, EquipmentStatus
from tests.conftest import XINGQING, XIXIA

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    """The day the server counts in (Asia/Shanghai), read when asked: a run that passes local
    midnight (16:00 UTC) would otherwise set devices up against yesterday."""
    return timezone.localdate()


@pytest.fixture
def devices(make_equipment):
    """Xingqing: three overdue elevators (one failed: no due date), one boiler not due, one
    cancelled overdue; Xixia: one overdue elevator."""

    def device(due, code=XINGQING, variety="3110", status=EquipmentStatus.IN_USE):
        made = make_equipment(code, variety_code=variety)
        Equipment.objects.filter(pk=made.pk).update(next_inspection_due=due, status=status)
        return Equipment.objects.get(pk=made.pk)

    return {
        "failed": device(None),
        "year": device(today() - dt.timedelta(days=400)),
        "week": device(today() - dt.timedelta(days=7)),
        "boiler": device(today() + dt.timedelta(days=90), variety="1110"),
        "cancelled": device(today() - dt.timedelta(days=30), status=EquipmentStatus.CANCELLED),
        "xixia": device(today() - dt.timedelta(days=3), code=XIXIA),
    }


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["id"] for row in response.context["page"].rows]


def test_the_overdue_list_is_the_countys_most_urgent_first_and_matches_the_dashboard(
    client, users, devices
):
    client.force_login(users["xingqing"])
    response = client.get("/map/list/overdue/")
    # No due date (a failed inspection) first, then the longest overdue.
    assert listed(response) == [devices[k].pk for k in ("failed", "year", "week")]
    assert response.context["page"].count == jurisdiction_summary(users["xingqing"]).totals.overdue
    page = response.content.decode()
    assert f'href="/equipment/{devices["year"].pk}/"' in page
    # Days overdue counted as the export counts them; the failed one has none.
    days = response.context["page"].columns.index(lists.columns_of("overdue")[-1])
    assert [row["cells"][days] for row in response.context["page"].rows] == [None, 400, 7]
    # Each row flies to its device on the map with the layer on.
    lon, lat = devices["week"].location.coords
    assert f"/map/?layers=overdue&amp;focus={lon:.6f},{lat:.6f}" in page


def test_sorting_by_a_column_and_back(client, users, devices):
    client.force_login(users["xingqing"])
    ascending = listed(client.get("/map/list/equipment/", {"sort": "next inspection due"}))
    descending = listed(client.get("/map/list/equipment/", {"sort": "-next inspection due"}))
    # Ascending puts the missing date first (most urgent); descending puts it last.
    expected = [devices[k].pk for k in ("failed", "year", "cancelled", "week", "boiler")]
    assert ascending == expected
    assert descending == [pk for pk in reversed(expected)]


def test_the_maps_filters_and_view_apply(client, users, devices):
    client.force_login(users["city"])
    assert set(listed(client.get("/map/list/overdue/"))) == {
        devices[k].pk for k in ("failed", "year", "week", "xixia")
    }
    assert listed(client.get("/map/list/overdue/", {"region": XIXIA})) == [devices["xixia"].pk]
    assert listed(client.get("/map/list/equipment/", {"kind": "1000"})) == [devices["boiler"].pk]
    x, y = devices["xixia"].location.coords
    box = f"{x - 0.0001},{y - 0.0001},{x + 0.0001},{y + 0.0001}"
    assert listed(client.get("/map/list/equipment/", {"bbox": box})) == [devices["xixia"].pk]
    # A region outside the jurisdiction narrows to nothing; it never widens.
    client.force_login(users["xixia"])
    assert listed(client.get("/map/list/overdue/", {"region": XINGQING})) == []
    assert listed(client.get("/map/list/overdue/")) == [devices["xixia"].pk]


def test_pages_and_the_bounded_count(client, users, devices, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    client.force_login(users["xingqing"])
    first = client.get("/map/list/overdue/")
    second = client.get("/map/list/overdue/", {"page": 2})
    assert listed(first) + listed(second) == [devices[k].pk for k in ("failed", "year", "week")]
    assert first.context["next"] == "?page=2" and second.context["next"] == ""
    monkeypatch.setattr(lists, "COUNT_CAP", 2)
    capped = client.get("/map/list/overdue/")
    assert capped.context["page"].capped and capped.context["page"].count == 2
    assert "超过 2 条" in capped.content.decode()


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/map/list/overdue/", {"page": "9"}, "page"),
        ("/map/list/overdue/", {"page": "zero"}, "page"),
        ("/map/list/overdue/", {"sort": "national id"}, "sort"),
        ("/map/list/overdue/", {"status": "in_use"}, "status"),  # overdue means in use already
        ("/map/list/overdue/", {"bbox": "1,2,3"}, "bbox"),
        ("/map/list/nothing/", {}, "layer"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(client, users, devices, path, params, field):
    client.force_login(users["xingqing"])
    response = client.get(path, params)
    assert response.status_code == 400
    assert field in response.context["errors"]
    assert f"<code>{field}</code>" in response.content.decode()


@pytest.mark.parametrize(
    "layer",
    [
        "equipment",
        "overdue",
        "units",
        "accidents",
        "resources",
        "stations",
        "licences",
        "unlicensed",
        "unlicensed_filling",
    ],
)
def test_every_layer_lists_for_an_analyst(client, users, devices, layer):
    client.force_login(users["xingqing_analyst"])
    response = client.get(f"/map/list/{layer}/")
    assert response.status_code == 200
    assert len(response.context["headers"]) == len(lists.SHOWN[layer])


def test_the_dashboard_links_its_overdue_figures_to_the_lists(client, users, devices):
    client.force_login(users["city"])
    page = client.get("/").content.decode()
    assert 'id="overdue-list" href="/map/list/overdue/"' in page
    assert f'href="/map/list/overdue/?region={XINGQING}"' in page
    assert 'href="/map/list/overdue/?kind=3000"' in page


def test_values_follow_the_readers_language_and_exports_keep_the_datas_chinese(
    client, users, devices
):
    from django.utils import translation

    from layers.fields import COLUMNS, Lookups

    client.force_login(users["xingqing"])

    def cells(language: str) -> dict[str, object]:
        response = client.get("/map/list/equipment/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, response.content[:300]
        page = response.context["page"]
        names = [c.name_en for c in page.columns]
        row = next(r for r in page.rows if r["id"] == devices["year"].pk)
        return dict(zip(names, row["cells"], strict=True))

    chinese, english = cells("zh-hans"), cells("en")
    assert (chinese["status"], chinese["variety"]) == ("在用", "曳引驱动乘客电梯")
    assert (english["status"], english["variety"]) == ("In use", "Traction passenger elevators")
    # An export decodes with the default Lookups: the data's Chinese, whatever the reader's language.
    status = next(c for c in COLUMNS["equipment"] if c.name_en == "status")
    with translation.override("en"):
        assert status.values(["in_use"], Lookups(today(), {})) == ["在用"]


def test_a_licences_validity_reads_as_words_in_the_list_and_as_a_code_in_a_file(
    client, users, make_unit
):
    from licensing import services as licensing_services
    from registry.models import UnitRole

    station = make_unit(XINGQING, roles=(UnitRole.FILLING,), name="兴庆充装站")
    licensing_services.issue_licence(
        station, kind="filling", scope=[{"code": "2300", "grade": ""}], number="TS4640001-2030",
        authority="宁夏回族自治区市场监督管理厅", issued_on=today() - dt.timedelta(days=300),
        expires_on=dt.date(2030, 1, 1), acting_user=None,
    )  # fmt: skip
    client.force_login(users["xingqing"])

    def validity(language: str) -> object:
        page = client.get("/map/list/licences/", HTTP_ACCEPT_LANGUAGE=language).context["page"]
        column = [c.name_en for c in page.columns].index("validity")
        [row] = page.rows
        return row["cells"][column]

    assert (validity("zh-hans"), validity("en")) == ("有效", "Valid")
    from layers.fields import COLUMNS, Lookups

    [column] = [c for c in COLUMNS["licences"] if c.name_en == "validity"]
    assert column.values(["valid"], Lookups(today(), {})) == ["valid"]
