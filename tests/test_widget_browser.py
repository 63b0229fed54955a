"""The chat widget in a real Chromium: a shop on one origin, the chat server on another.

The shop page carries only the snippet (and a strict CSP of its own); the
agent answers through the agent HTTP API; what the visitor sees is read from
the widget's iframe.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from tests.browser import chromium, fail_on_dialog
from tests.widgetworld import World, world

pytestmark = pytest.mark.anyio

LAUNCHER = "#chatkit-launcher"


async def frame_of(page: Any) -> Any:
    """The widget's iframe (its Frame object), once it has drawn the chat."""
    handle = await page.wait_for_selector("#chatkit-frame", state="attached")
    frame = await handle.content_frame()
    assert frame is not None
    await frame.wait_for_selector("#text", state="attached")
    return frame


async def open_chat(page: Any, w: World) -> Any:
    await page.goto(w.shop)
    await page.wait_for_selector(LAUNCHER)
    await page.click(LAUNCHER)
    frame = await frame_of(page)
    await frame.wait_for_selector("#text", state="visible")
    return frame


async def say(frame: Any, text: str) -> None:
    await frame.fill("#text", text)
    await frame.press("#text", "Enter")


async def texts(frame: Any) -> list[str]:
    found = await frame.eval_on_selector_all(".msg .bubble", "els => els.map(e => e.textContent)")
    return [str(t) for t in found]


async def until(where: Any, expression: str, arg: Any = None, timeout: float = 10) -> Any:
    """Poll ``expression`` in a page or frame until it is truthy (wait_for_function would
    need 'unsafe-eval', which the pages' CSPs rightly refuse)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await where.evaluate(expression, arg)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        await asyncio.sleep(0.05)


async def wait_text(frame: Any, text: str, timeout: float = 10) -> None:
    await until(
        frame,
        "t => [...document.querySelectorAll('.msg .bubble')].some(e => e.textContent.includes(t))",
        text,
        timeout,
    )


async def agent_reply(w: World, conversation_id: str, text: str) -> None:
    async with w.agent_http() as http:
        sent = await http.post(
            f"/v1/agent/conversations/{conversation_id}/messages", json={"text": text}
        )
        assert sent.status_code == 201, sent.text


async def test_widget_loads_lazily_and_chats_with_an_agent(tmp_path: Path) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        page = await browser.new_page()
        fail_on_dialog(page)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )
        await page.goto(w.shop)
        await page.wait_for_selector(LAUNCHER, state="visible")
        await asyncio.sleep(0.3)
        # Only the loader came from the chat server: no frame, no session until a click.
        assert [u for u in requested if u.startswith(w.chat)] == [f"{w.chat}/widget/loader.js"]
        assert await page.query_selector("#chatkit-frame") is None

        await page.click(LAUNCHER)
        frame = await frame_of(page)
        assert await page.evaluate("seen.ready") == 1
        await say(frame, "Hello, is the blue teapot in stock?")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await agent_reply(w, conv.id, "Yes! We have 3 left.")
        await wait_text(frame, "Yes! We have 3 left.")
        assert await page.evaluate("seen.messages") == ["Yes! We have 3 left."]
        shown = await texts(frame)
        assert shown == ["Hello, is the blue teapot in stock?", "Yes! We have 3 left."]

        # Closed, a reply raises the unread badge on the launcher.
        await frame.press("#text", "Escape")
        await until(page, "() => document.querySelector('#chatkit-frame').style.display === 'none'")
        await agent_reply(w, conv.id, "Shall I reserve one?")
        await until(page, "() => seen.unread === 1")
        label = await page.get_attribute(LAUNCHER, "aria-label")
        assert label is not None
        assert "1 unread" in label

        # A reload keeps the session (token in the frame's storage) and shows the history.
        await page.reload()
        await page.wait_for_selector("#chatkit-frame", state="attached")  # a chat is going on
        await page.click(LAUNCHER)
        frame = await frame_of(page)
        await wait_text(frame, "Shall I reserve one?")
        assert (await texts(frame))[0] == "Hello, is the blue teapot in stock?"
        assert len(await w.kit.store.find(type(conv), {}, limit=10)) == 1
        # The shop's strict CSP and the frame's own refused nothing the widget does.
        assert refused == []
