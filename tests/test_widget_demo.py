"""``chatkit serve --demo``'s parts: the seeded store and the shop page, in a real browser."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit
from chatkit.web.demo import DEMO_SITE, seed, shop_app
from tests.browser import chromium, fail_on_dialog
from tests.test_widget_browser import LAUNCHER, frame_of, say, wait_text
from tests.webserver import serve
from tests.widgetworld import free_port, serve_on, web_settings

pytestmark = pytest.mark.anyio


async def test_demo_seed_and_shop(tmp_path: Path) -> None:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'demo.db'}") as kit:
        shop_port = free_port()
        shop_origin = f"http://127.0.0.1:{shop_port}"
        made = await seed(kit, shop_origin)
        assert made.website.name == DEMO_SITE
        assert made.website.origins == [f"{shop_origin}"]
        assert len(made.tokens) == 2
        assert len((await kit.conversations.list(limit=10)).items) == 3
        again = await seed(kit, shop_origin)  # a second run reuses what is there
        assert again.website.id == made.website.id
        assert len((await kit.conversations.list(limit=10)).items) == 3

        async with (
            serve(kit.asgi(web_settings())) as chat,
            serve_on(shop_app(chat, made.website.public_key), shop_port) as shop,
            chromium() as browser,
        ):
            name, token = made.tokens[0]
            async with httpx.AsyncClient(base_url=chat) as http:
                me = await http.get("/v1/agent/me", headers={"authorization": f"Bearer {token}"})
                assert me.json()["name"] == name
            page = await browser.new_page()
            fail_on_dialog(page)
            await page.goto(shop)
            await page.click(LAUNCHER)
            frame = await frame_of(page)
            assert (
                await frame.text_content(".intro .greeting") == "Hi! Questions about our teapots?"
            )
            await say(frame, "Is the blue teapot dishwasher safe?")
            await wait_text(frame, "Is the blue teapot dishwasher safe?")
            # The frame shows the message as it sends it; the new conversation is
            # there once the POST has committed.
            for _ in range(100):
                if len((await kit.conversations.list(limit=10)).items) == 4:
                    break
                await asyncio.sleep(0.05)
            assert len((await kit.conversations.list(limit=10)).items) == 4
