"""The deployment gate (issue 17): the production settings pass `check --deploy`, every page carries
the security headers and a CSP whose nonce its inline scripts hold, and a DEBUG site says it is a demo."""

from __future__ import annotations

import html
import os
import re
import secrets
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from geo.offline import map_fragment, map_text, offline_map
from maps.views import online_basemaps

ROOT = Path(__file__).resolve().parents[1]
DEMO_STRIP = "演示环境 (DEBUG)，不是生产部署"
# What prod.py reads; the rest of the environment is left out, so the test sees prod's defaults.
PROD_VARIABLES = re.compile(r"^(SECURE_|SESSION_|CSRF_|SEGIS_|DEBUG$|DJANGO_SETTINGS_MODULE$)")
# Set by the browser tests' conftest for this process (Playwright's loop); never in production.
TEST_ONLY = {"DJANGO_ALLOW_ASYNC_UNSAFE"}


@pytest.fixture(scope="module")
def prod_env(tmp_path_factory) -> dict[str, str]:
    """A production environment with nothing but the required secrets, its static files collected
    (config/urls.py reads the manifest that production's storage writes)."""
    env = {
        k: v for k, v in os.environ.items() if not PROD_VARIABLES.match(k) and k not in TEST_ONLY
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.prod",
        SECRET_KEY=secrets.token_urlsafe(50),
        PERSONAL_DATA_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="segis.example.gov.cn",
        STATIC_ROOT=str(tmp_path_factory.mktemp("static")),
    )
    manage(env, "collectstatic", "--no-input", "-v0", check=True)
    return env


def manage(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=check, timeout=300,
    )  # fmt: skip


def test_production_settings_pass_the_deploy_check(prod_env):
    done = manage(prod_env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("variable", "value", "finding"),
    [
        ("SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("SECURE_SSL_REDIRECT", "false", "security.W008"),
        ("SECRET_KEY", "short", "security.W009"),
    ],
)
def test_a_weakened_setting_fails_the_deploy_check(prod_env, variable, value, finding):
    done = manage({**prod_env, variable: value}, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert finding in done.stderr


def test_production_requires_its_secrets(prod_env):
    env = {k: v for k, v in prod_env.items() if k != "SECRET_KEY"}
    done = manage(env, "check")
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_production_asks_for_a_second_factor_by_default(prod_env):
    code = "from django.conf import settings; print(settings.SEGIS_REQUIRE_OTP, settings.DEBUG)"
    done = manage(prod_env, "shell", "-v0", "-c", code, check=True)
    assert done.stdout.split() == ["True", "False"]
    done = manage(
        {**prod_env, "SEGIS_REQUIRE_OTP": "false"}, "shell", "-v0", "-c", code, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_the_api_schema_has_no_warnings(prod_env):
    """drf-spectacular's own part of `check --deploy`, alone: a documentation gap names its view."""
    done = manage(prod_env, "spectacular", "--fail-on-warn", "--file", os.devnull)
    assert done.returncode == 0, done.stderr[-2000:]


# --- headers and the CSP on pages ------------------------------------------------------------


def csp_of(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


@pytest.fixture
def home_page(client, users):
    client.force_login(users["xingqing"])
    return client.get(reverse("home"))


def test_a_page_carries_the_security_headers(home_page):
    assert home_page.status_code == 200
    assert home_page.headers["X-Content-Type-Options"] == "nosniff"
    assert home_page.headers["Referrer-Policy"] == "same-origin"
    assert home_page.headers["X-Frame-Options"] == "DENY"
    assert "camera=()" in home_page.headers["Permissions-Policy"]
    policy = csp_of(home_page)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


def test_every_inline_script_holds_the_pages_nonce(home_page):
    (nonce,) = re.findall(r"'nonce-([^']+)'", csp_of(home_page)["script-src"][-1])
    html = home_page.content.decode()
    inline = re.findall(r"<script\b(?![^>]*\bsrc=)([^>]*)>", html)
    assert len(inline) >= 2  # the folium map's and the page's own
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
    assert "L.map(" in html


def test_a_folium_maps_code_is_one_script_for_the_nonce():
    """The header keeps only linked scripts and styles; its inline code opens the map's script,
    before the map is made (the icon paths must be set before any marker)."""
    fragment = map_fragment(offline_map(location=[38.47, 106.27]))
    assert re.findall(r"<script\b(?![^>]*\bsrc=)", fragment["header"]) == []
    js = fragment["script"].js
    assert js.index("L.Icon.Default.mergeOptions") < js.index("L.map(")
    assert fragment["script"] == f"<script>\n{js}\n</script>"


HOSTILE_NAME = "救援站`; ${alert(document.cookie)} \\u <img src=x onerror=alert(1)>"


def test_map_text_keeps_registry_text_out_of_the_maps_code():
    """What the nonce cannot stop: text that becomes code inside the map's own script."""
    import folium

    m = offline_map(location=[38.47, 106.27])
    folium.Marker([38.47, 106.27], tooltip=map_text(HOSTILE_NAME)).add_to(m)
    js = map_fragment(m)["script"].js
    (literal,) = re.findall(r"bindTooltip\(\s*`(.*?)`", js, re.DOTALL)
    assert "${" not in literal and "\\" not in literal and "<img" not in literal
    assert html.unescape(re.sub(r"</?div>", "", literal).strip()) == HOSTILE_NAME


def test_the_nonce_changes_with_each_request(client, users):
    client.force_login(users["xingqing"])
    nonces = {csp_of(client.get(reverse("home")))["script-src"][-1] for _ in range(2)}
    assert len(nonces) == 2


def test_the_login_page_has_the_headers_too(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert "Permissions-Policy" in response.headers


def test_templates_hold_no_inline_handler_or_unnonced_script():
    """Inline handlers never run under the CSP, nor does an inline script without the nonce."""
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "nonce=" not in tag and "application/json" not in tag:
                found.append(f"{path.relative_to(ROOT)}: {tag}")
        found += [f"{path.relative_to(ROOT)}: {h}" for h in re.findall(r"\son[a-z]+=\"", text)]
    assert found == []


def test_the_csp_admits_every_online_basemap():
    policy = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    with override_settings(TIANDITU_KEY="k"):
        basemaps = online_basemaps()
    urls = [u for b in basemaps for u in b["tiles"] + b.get("overlay_tiles", [])]
    assert {b["id"] for b in basemaps} == {"osm", "tianditu"}
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname}"
        for directive in ("img-src", "connect-src"):
            assert any(fnmatch(origin, allowed) for allowed in policy[directive]), (
                origin,
                directive,
            )


# --- the demo strip ------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_a_debug_site_says_it_is_a_demo(client, users, debug):
    admin = users["national"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    with override_settings(DEBUG=debug):
        pages = [client.get(reverse("home")), client.get(reverse("admin:index"))]
    for page in pages:
        assert page.status_code == 200
        assert (DEMO_STRIP in page.content.decode()) is debug


def test_gdals_access_warning_is_silenced_only_where_gdal_cannot_block_access():
    """gis.W001 (GDAL before 3.9 cannot refuse file and network access while parsing an SRS) is
    silenced on such a GDAL only (geo/apps.py): on Debian 13's 3.10 nothing is silenced."""
    from django.contrib.gis.gdal import GDAL_VERSION
    from django.core import checks

    from geo.apps import GDAL_BLOCKS_ACCESS

    needed = GDAL_VERSION < GDAL_BLOCKS_ACCESS
    assert ("gis.W001" in settings.SILENCED_SYSTEM_CHECKS) is needed
    raised = {m.id for m in checks.run_checks()}
    assert ("gis.W001" in raised) is needed  # what would be silenced is really raised, nothing more
