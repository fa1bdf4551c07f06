"""One headless Chromium per test module, driven by playwright over the system browser.

Starting the driver and the browser costs seconds; each test still gets a fresh browser
context (its own cookies, storage and cache) from the ``page`` fixture of ``test_browser``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("STORYREEL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A Chromium browser shared by the tests of one module, closed after the last."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the 'playwright' package is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
        try:
            yield browser
        finally:
            browser.close()


_HOLD = """([method, path, ms, every]) => {
    const real = window.fetch;
    let armed = true;
    window.held = window.held || 0;
    window.fetch = (url, init) => {
        if (!armed || (init && init.method || "GET") !== method || !String(url).endsWith(path))
            return real(url, init);
        armed = every;
        window.held += 1;
        return real(url, init).then((answer) => new Promise((resolve) => setTimeout(() => {
            window.held -= 1;
            resolve(answer);
        }, ms)));
    };
}"""


def hold_answer(page: Any, method: str, path: str, ms: int, *, every: bool = False) -> None:
    """Hand the page the first answer to its next ``method`` request of a URL ending in
    ``path`` (``every``: the answer to each such request from now on) ``ms`` late (the
    request itself goes at once). ``window.held`` counts the answers still held, for the
    test to wait on."""
    page.evaluate(_HOLD, [method, path, ms, every])
