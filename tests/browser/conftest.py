"""Browser tests' shared pieces: Debian's Chromium (never a downloaded browser), a live demo site, logging in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD, demo_accounts, ensure_demo_users
from tests.conftest import load_test_regions

# Playwright's sync API runs an event loop in this thread; the ORM calls made here happen before it starts
# or in the live server's own thread, so Django's async-safety guard would only raise false alarms.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Every browser test module marks itself with this.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (./segis test installs it)",
    ),
]


@pytest.fixture
def demo_site(transactional_db, live_server):
    """A small generated registry in Yinchuan, with the demo users; the live server serves it."""
    load_test_regions()
    call_command("generate_demo", prefix="6401", devices=1500, seed=7, verbosity=0)
    ensure_demo_users(demo_accounts("640000", "640100", "640104"))
    restore_default_scheme()
    return live_server


def restore_default_scheme() -> None:
    """The default evaluation scheme is a data migration's row; a transactional test before this
    one flushed it (as every table): put it back as the migration makes it."""
    import importlib

    from django.apps import apps

    from analysis.models import EvaluationScheme

    if not EvaluationScheme.objects.exists():
        importlib.import_module("analysis.migrations.0002_evaluation_default_scheme").load(
            apps, None
        )


@pytest.fixture
def page():
    """A Chromium page that records JavaScript errors, requests to other hosts and tile requests."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        # No GPU here: SwiftShader gives MapLibre its WebGL; background networking off, or Chromium
        # would knock on Google's doors from a closed network.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"],
        )  # fmt: skip
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.errors, page.foreign_requests, page.tile_requests = [], [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and page.errors.append(f"{message.text} ({message.location.get('url')})")
            ),
        )

        def on_request(request):
            url = urlparse(request.url)
            if url.hostname not in ("localhost", "127.0.0.1", None):
                page.foreign_requests.append(request.url)
            elif url.path.startswith("/tiles/"):
                page.tile_requests.append(request.url)

        page.on("request", on_request)
        yield page
        browser.close()


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
