"""Real-browser tests: Debian's Chromium driven by Playwright for Python, and axe-core.

Playwright's own browser download is never used: the tests launch the Chromium
at ``CHATKIT_CHROMIUM`` (default ``/usr/bin/chromium``) through
``executable_path``. axe-core comes from npm (``frontend/package.json``,
``npm ci --prefix frontend``). Without either the browser tests are skipped
with the reason, unless ``CHATKIT_REQUIRE_SERVICES=1`` (set by ``.ci/run``,
which installs both), which makes them fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.services import _missing

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium")
AXE_JS = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / Path(  # a relative path is taken from the checkout's root
    os.environ.get("CHATKIT_SCREENSHOTS", Path(tempfile.gettempdir()) / "chatkit-screenshots")
)
"""Where the browser tests save their screenshots. The docs' pictures are made by
``CHATKIT_SCREENSHOTS=docs/images/ui pytest tests/...``; by default they go to a
temporary directory, so a test run leaves the checkout alone."""


def browser_or_skip() -> None:
    """Skip (or fail under CHATKIT_REQUIRE_SERVICES=1) without Playwright or Chromium."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium browser for one test; closed when the block ends."""
    browser_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            await browser.close()


def fail_on_dialog(page: Any) -> None:
    """Make any alert/confirm/prompt in ``page`` fail the test (the XSS tripwire)."""

    def opened(dialog: Any) -> None:
        pytest.fail(f"a dialog opened in the page: {dialog.message!r}")

    page.on("dialog", opened)


async def axe_violations(page: Any, *, context: str | None = None) -> list[tuple[str, str, int]]:
    """Run axe-core in ``page`` (or in the element matched by ``context``).

    Returns ``(rule id, impact, number of nodes)`` for every violation.
    """
    if not AXE_JS.exists():
        _missing(f"axe-core is not installed at {AXE_JS} (npm ci --prefix frontend)")
    await page.add_script_tag(path=str(AXE_JS))
    found = await page.evaluate(
        """async (ctx) => {
            const result = await axe.run(ctx ? document.querySelector(ctx) : document);
            return result.violations.map(v => [v.id, v.impact || "", v.nodes.length]);
        }""",
        context,
    )
    return [(str(rule), str(impact), int(count)) for rule, impact, count in found]


def serious(violations: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The violations whose impact is serious or critical."""
    return [v for v in violations if v[1] in {"serious", "critical"}]


async def screenshot(page: Any, name: str, **kwargs: Any) -> Path:
    """Save a PNG of ``page`` as ``NAME.png`` in ``SCREENSHOTS`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), **kwargs)
    return path
