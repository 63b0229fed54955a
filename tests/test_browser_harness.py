"""The browser harness itself: Chromium starts from the system, pages load, axe-core runs."""

from __future__ import annotations

import pytest

from tests.browser import axe_violations, chromium, fail_on_dialog, serious

pytestmark = pytest.mark.anyio


async def test_chromium_renders_and_axe_reports_a_missing_lang() -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        fail_on_dialog(page)
        await page.set_content("<title>t</title><main><p id=x>hello</p></main>")
        assert await page.text_content("#x") == "hello"
        rules = {rule for rule, _, _ in serious(await axe_violations(page))}
        assert "html-has-lang" in rules


async def test_a_page_with_lang_and_title_has_no_serious_violations() -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.set_content(
            '<html lang="en"><head><title>ok</title></head>'
            "<body><main><h1>Hi</h1></main></body></html>"
        )
        assert serious(await axe_violations(page)) == []
