"""Helpers for driving the Dagster UI in a real browser (Playwright + Debian's Chromium).

Playwright comes from PyPI; its own browser download cannot work here (no network), so it drives
the system ``chromium`` package (``make servers`` installs it) through ``executable_path``.
Waits are on UI content that GraphQL loads (a text, a role), never on sleeps.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from etl_assets_tests.conftest import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("ETL_ASSETS_CHROMIUM", "/usr/bin/chromium"))
#: Size of every page and screenshot: readable in the README, a few hundred KB per PNG.
VIEWPORT = {"width": 1280, "height": 800}
#: Generous: the webserver, the code server and the browser share two busy cores.
TIMEOUT_MS = 90_000
#: Set to 1 to copy the screenshots a test run takes into docs/img/ (the README shows them).
UPDATE_ENV = "ETL_ASSETS_UPDATE_SCREENSHOTS"
DOCS_IMG = PROJECT_ROOT / "docs" / "img"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the Debian package, with a message naming the fix when it is missing."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: run `make servers` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root here, and Chromium refuses to start its sandbox as
        # root (it needs an unprivileged user namespace); the pages it opens are our own UI only.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Screenshots:
    """Screenshots go to a temp folder; with ETL_ASSETS_UPDATE_SCREENSHOTS=1 also to docs/img/."""

    folder: Path

    @property
    def update_docs(self) -> bool:
        return os.environ.get(UPDATE_ENV) == "1"

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"ui-{name}.png"
        # finite CSS animations (a dialog fading in) fast-forward to their end state
        page.screenshot(path=str(path), animations="disabled")
        if self.update_docs:
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMG / path.name)
        return path


def lineage_url(base: str, selection: str) -> str:
    """The global lineage graph filtered by an asset selection (e.g. ``key:"flights/raw/*"``)."""
    return f"{base}/asset-groups~{urllib.parse.quote(selection, safe='')}"


def asset_url(base: str, key: str, **params: str) -> str:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return f"{base}/assets/{key}{query}"
