"""The language switch (docs/i18n.md): Chinese is the source language, English comes from the
catalogues in locale/en, and the header's switch changes the pages, the admin's labels and the
page scripts' strings."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from lxml import html

from registry.models import Equipment

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_string_has_its_english():
    # Extracts every msgid of the code afresh and compares with the committed catalogues: a string
    # added without its English, or left fuzzy, fails here (the command names it).
    call_command("messages", check=True)


def switch(client: Client, language: str, then: str = "/") -> None:
    response = client.post("/i18n/setlang/", {"language": language, "next": then})
    assert response.status_code == 302 and response["Location"] == then


def nav_text(response) -> str:
    page = html.fromstring(response.content)
    nav = page.get_element_by_id("site-nav")
    # The user's own menu shows their name and agency (data), the switch the languages' own names.
    for node in nav.xpath(
        ".//*[contains(@class, 'who')] | .//select | .//*[@class='menu-head'][last()]"
    ):
        node.getparent().remove(node)
    return " ".join(nav.itertext())


@pytest.fixture
def province(users) -> Client:
    client = Client()
    client.force_login(users["province"])
    return client


def test_chinese_by_default_and_english_after_the_switch(province):
    chinese = province.get("/map/")
    assert chinese.status_code == 200
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert "地图" in nav_text(chinese) and "Map" not in nav_text(chinese)

    switch(province, "en", "/map/")
    english = province.get("/map/")
    assert '<html lang="en">' in english.content.decode()
    words = nav_text(english)
    assert "Map" in words and "Analysis" in words
    assert not CJK.search(words), words

    switch(province, "zh-hans", "/map/")
    assert "地图" in nav_text(province.get("/map/"))


def test_the_page_scripts_read_the_same_language(province):
    key = json.dumps("点击放大")  # as the catalogue writes its keys: ASCII, escaped
    assert key not in province.get("/jsi18n/").content.decode()  # Chinese: the msgid reads
    switch(province, "en")
    found = re.search(re.escape(key) + r': "([^"]*)"', province.get("/jsi18n/").content.decode())
    assert found and found.group(1).lower() == "click to zoom in"


def test_model_labels_follow_the_language(province, make_equipment):
    device = make_equipment()
    assert str(Equipment._meta.get_field("device_code").verbose_name) == "设备代码"
    switch(province, "en")
    page = province.get(f"/equipment/{device.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Device code" in text or "device code" in text
    assert "设备代码" not in text


def test_the_catalogue_names_follow_the_language(province, make_equipment):
    device = make_equipment(variety_code="3110")
    chinese = province.get(f"/equipment/{device.pk}/").content.decode()
    assert device.variety.name_zh in chinese and device.variety.name_en not in chinese
    switch(province, "en")
    english = province.get(f"/equipment/{device.pk}/").content.decode()
    assert device.variety.name_en in english and device.variety.name_zh not in english


def crumb_kind(response) -> str:
    """The last crumb of a detail page: the kind of the one record it shows."""
    crumbs = html.fromstring(response.content).xpath("//p[@class='crumbs']")[0]
    return crumbs.text_content().split("·")[-1].strip()


def dashboard_labels(response) -> tuple[str, str]:
    """The by-kind table's device-count heading and the units card's label."""
    page = html.fromstring(response.content)
    heading = page.xpath("//table[@id='by-kind']/thead//th")[1].text_content().strip()
    card = page.xpath("//a[contains(@class, 'card') and contains(@href, '/units/')]/span")[0]
    return heading, card.text_content().strip()


def test_one_chinese_word_reads_by_its_role(province, make_equipment, make_unit):
    # 设备 and 单位 head a column of figures on the dashboard ("count") and name the one record a
    # detail page shows (no context): one Chinese word, two English words.
    device, unit = make_equipment(), make_unit()
    chinese = (dashboard_labels(province.get("/")), crumb_kind(province.get(f"/equipment/{device.pk}/")),
               crumb_kind(province.get(f"/units/{unit.pk}/")))  # fmt: skip
    assert chinese == (("设备", "单位"), "设备", "单位")

    switch(province, "en")
    assert dashboard_labels(province.get("/")) == ("Devices", "Units")
    assert crumb_kind(province.get(f"/equipment/{device.pk}/")) == "Equipment"
    assert crumb_kind(province.get(f"/units/{unit.pk}/")) == "Unit"


def test_a_button_is_a_verb_where_a_heading_is_a_noun(province):
    # 筛选 heads the map's filter panel ("Filters") and submits the inspections list ("Filter").
    switch(province, "en")
    panel = html.fromstring(province.get("/map/").content)
    assert "Filters" in [(h.text or "").strip() for h in panel.xpath("//h2")]
    listing = html.fromstring(province.get("/inspections/").content)
    assert [
        b.text_content() for b in listing.xpath("//form[@class='search']//button[@type='submit']")
    ] == ["Filter"]


@pytest.mark.parametrize(
    ("model", "one", "many"),
    [("registry.Unit", "Unit", "Units"), ("registry.Accident", "Accident", "Accidents"),
     ("cylinders.Cylinder", "Cylinder", "Cylinders"), ("accounts.User", "User", "Users")],
)  # fmt: skip
def test_model_names_have_a_singular_and_a_plural(model, one, many):
    from django.apps import apps
    from django.utils import translation

    meta = apps.get_model(model)._meta
    assert str(meta.verbose_name) == str(meta.verbose_name_plural)  # Chinese has no plural
    with translation.override("en"):
        assert (str(meta.verbose_name), str(meta.verbose_name_plural)) == (one, many)


def test_every_project_models_english_names_are_a_singular_and_a_plural():
    """The admin names a list by the plural and one record by the singular: a shared msgid gave
    one English to both ("The station's key" above a list of keys)."""
    from django.apps import apps
    from django.utils import translation

    uncountable = {"registry.Equipment"}
    same = []
    with translation.override("en"):
        for app in apps.get_app_configs():
            if not app.path.startswith(str(settings.BASE_DIR)) or "/.venv/" in app.path:
                continue  # Django's and the libraries' own
            for meta in (m._meta for m in app.get_models()):
                if str(meta.verbose_name) == str(meta.verbose_name_plural):
                    same.append(meta.label)
    assert sorted(same) == sorted(uncountable)
