"""The widget's files: size budgets, how they are served, the frame's CSP, the settings model."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit, InvalidInputError
from chatkit.models import WidgetSettings
from chatkit.web.widget import STATIC_DIR

from .webserver import serve

pytestmark = pytest.mark.anyio

SHOP = "https://shop.example"


def _gzip_kb(*names: str) -> float:
    return sum(len(gzip.compress((STATIC_DIR / n).read_bytes(), 9)) for n in names) / 1024


def test_size_budgets() -> None:
    loader = _gzip_kb("loader.js")
    whole = _gzip_kb("loader.js", "frame.html", "frame.js", "frame.css")
    assert loader <= 10, f"loader.js is {loader:.1f} KB gzipped (budget 10 KB)"
    assert whole <= 60, f"the widget is {whole:.1f} KB gzipped (budget 60 KB)"


def test_nothing_user_written_goes_through_inner_html() -> None:
    for name in ("loader.js", "frame.js"):
        source = (STATIC_DIR / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (name, sink)


@pytest.fixture
async def chat() -> AsyncIterator[tuple[AsyncChatKit, httpx.AsyncClient, str]]:
    async with AsyncChatKit("memory://") as kit:
        site = await kit.websites.create(
            "Shop", origins=[SHOP, "http://localhost:3000"], widget={"color": "#0B5D1E"}
        )
        async with serve(kit.asgi()) as url, httpx.AsyncClient(base_url=url) as http:
            yield kit, http, site.public_key


async def test_files_are_served_with_types_and_caching(
    chat: tuple[AsyncChatKit, httpx.AsyncClient, str],
) -> None:
    _, http, _ = chat
    loader = await http.get("/widget/loader.js")
    assert loader.status_code == 200
    assert loader.headers["content-type"] == "text/javascript; charset=utf-8"
    assert loader.headers["cache-control"] == "public, max-age=300"
    assert loader.headers["x-content-type-options"] == "nosniff"
    again = await http.get("/widget/loader.js", headers={"if-none-match": loader.headers["etag"]})
    assert again.status_code == 304
    assert (await http.get("/widget/frame.css")).headers["content-type"].startswith("text/css")
    assert (await http.get("/widget/i18n/ko.json")).json()["send"] == "보내기"
    assert (await http.get("/widget/i18n/xx.json")).status_code == 404
    assert (await http.get("/widget/../app.py")).status_code == 404


async def test_the_frame_may_be_embedded_only_by_the_websites_origins(
    chat: tuple[AsyncChatKit, httpx.AsyncClient, str],
) -> None:
    _, http, key = chat
    page = await http.get("/widget/frame.html", params={"key": key})
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors https://shop.example:443 http://localhost:3000" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "x-frame-options" not in page.headers
    assert page.headers["cache-control"] == "no-cache"
    # The page names its script and styles by their hash: those are cached for good.
    js = page.text.split('src="')[1].split('"')[0]
    assert js.startswith("frame.js?v=")
    versioned = await http.get(f"/widget/{js}")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    unknown = await http.get("/widget/frame.html", params={"key": "nope"})
    assert "frame-ancestors 'none'" in unknown.headers["content-security-policy"]

    config = (await http.get("/widget/config", params={"key": key})).json()
    assert config["origins"] == ["https://shop.example", "http://localhost:3000"]
    assert config["widget"]["color"] == "#0b5d1e"
    assert config["open_now"] is True
    assert config["transcripts"] is False
    assert (await http.get("/widget/config", params={"key": "nope"})).status_code == 404


async def test_widget_settings_are_checked(
    chat: tuple[AsyncChatKit, httpx.AsyncClient, str],
) -> None:
    kit, _, key = chat
    site = await kit.websites.by_key(key)
    with pytest.raises(InvalidInputError, match="colour"):
        await kit.websites.update(site.id, widget={"color": "red"})
    with pytest.raises(InvalidInputError, match="position"):
        await kit.websites.update(site.id, widget={"position": "top"})
    assert (await kit.websites.get(site.id)).widget.color == "#0b5d1e"
    updated = await kit.websites.update(site.id, widget=WidgetSettings(position="left"))
    assert updated.widget.position == "left"
    assert updated.widget.color == "#1f5fbf"


def test_websites_cli_sets_the_widget(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatkit.cli import app

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    made = runner.invoke(
        app,
        ["websites", "create", "Shop", "--color", "#0B5D1E", "--position", "left", "--url", url],
    )
    assert made.exit_code == 0, made.output
    assert "widget:           #0b5d1e, left" in made.output
    site_id = made.output.split("id:")[1].split()[0]
    changed = runner.invoke(
        app, ["websites", "update", site_id, "--greeting", "Merhaba!", "--url", url]
    )
    assert changed.exit_code == 0, changed.output
    bad = runner.invoke(app, ["websites", "update", site_id, "--color", "red", "--url", url])
    assert bad.exit_code != 0
    assert "colour" in bad.output

    async def check() -> None:
        async with AsyncChatKit(url) as kit:
            widget = (await kit.websites.get(site_id)).widget
            assert (widget.color, widget.position, widget.greeting) == (
                "#0b5d1e",
                "left",
                "Merhaba!",
            )

    import asyncio

    asyncio.run(check())


async def test_who_answers_and_transcripts_refuse_cleanly(
    chat: tuple[AsyncChatKit, httpx.AsyncClient, str],
) -> None:
    kit, http, key = chat
    started = await http.post("/v1/sessions", json={"website_key": key}, headers={"origin": SHOP})
    me = {"authorization": f"Bearer {started.json()['token']}", "origin": SHOP}
    sent = await http.post("/v1/messages", json={"text": "hello"}, headers=me)
    conv = sent.json()["conversation_id"]
    assert (await http.get(f"/v1/conversations/{conv}/agent", headers=me)).json() is None
    agent = await kit.agents.create(name="Ayşe Nur Yılmaz")
    await kit.conversations.assign(conv, agent.id)
    badge = (await http.get(f"/v1/conversations/{conv}/agent", headers=me)).json()
    assert badge == {"name": "Ayşe Nur Yılmaz", "initials": "AN"}

    # No SMTP server configured: 409, and nothing sent or counted.
    refused = await http.post(
        f"/v1/conversations/{conv}/transcript", json={"email": "me@example.com"}, headers=me
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    bad = await http.post(
        f"/v1/conversations/{conv}/transcript", json={"email": "not an address"}, headers=me
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "email"
    # The app's own origin (the widget's frame) passes the origin check; a stranger's does not.
    own = str(http.base_url).rstrip("/")
    ok = await http.get("/v1/conversations", headers={**me, "origin": own})
    assert ok.status_code == 200
    evil = await http.get("/v1/conversations", headers={**me, "origin": "https://evil.example"})
    assert evil.status_code == 403
