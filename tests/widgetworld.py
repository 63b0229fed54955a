"""A chat server and a shop on another origin carrying the widget's snippet, for browser tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from chatkit import AsyncChatKit, ChatKitSettings
from chatkit.models import Agent, Website
from chatkit.ratelimit import RateLimit
from chatkit.web import WebSettings

from .webserver import serve

SHOP_CSP = "default-src 'self'; script-src 'self' {chat}; frame-src {chat}; img-src 'self'"
"""The shop's own strict policy: no inline script or style anywhere."""


def shop_page(chat: str, key: str, *, title: str = "Shop", extra: str = "") -> str:
    """A product page with the widget's snippet (and nothing inline: the shop's CSP is strict)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>"
        f"<p>Blue teapot, 1 litre. 24 EUR.</p></main>{extra}"
        f'<script src="/queue.js"></script>'
        f'<script src="{chat}/widget/loader.js" data-website-key="{key}" async></script>'
        f"</body></html>"
    )


QUEUE_JS = (
    "window.chatkit=window.chatkit||function(){(chatkit.q=chatkit.q||[]).push(arguments)};"
    "window.seen={ready:0,messages:[],unread:0};"
    "chatkit('on','ready',function(){seen.ready+=1});"
    "chatkit('on','message',function(m){seen.messages.push(m.text)});"
    "chatkit('on','unread',function(u){seen.unread=u.count});"
)


def shop_app(state: dict[str, str]) -> Starlette:
    """The shop: ``/`` carries the snippet, ``/queue.js`` the command queue stub."""

    async def home(request: Request) -> HTMLResponse:
        page = shop_page(state["chat"], state["key"])
        csp = SHOP_CSP.format(chat=state["chat"])
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    async def queue(request: Request) -> HTMLResponse:
        return HTMLResponse(QUEUE_JS, media_type="text/javascript")

    return Starlette(routes=[Route("/", home), Route("/queue.js", queue)])


@dataclass
class World:
    kit: AsyncChatKit
    chat: str
    shop: str
    site: Website
    agent: Agent
    agent_token: str
    web: WebSettings
    state: dict[str, str] = field(default_factory=dict)

    def agent_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.chat, headers={"authorization": f"Bearer {self.agent_token}"}, timeout=20
        )

    async def only_conversation(self) -> Any:
        page = await self.kit.conversations.list(limit=10)
        assert len(page.items) == 1, page.items
        return page.items[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serve_on(app: Any, port: int) -> AsyncIterator[str]:
    """Like `serve`, on a given port (to stop a server and start it again at the same address)."""
    import asyncio

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            await task
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def web_settings(**more: Any) -> WebSettings:
    generous = RateLimit(1000, 60)
    return WebSettings(
        rate_limits={"new_session": generous, "new_conversation": generous, "message": generous},
        rate_limit_url="memory://",
        realtime_ping_seconds=2,
        **more,
    )


@asynccontextmanager
async def world(
    db: Path,
    *,
    settings: ChatKitSettings | None = None,
    web: WebSettings | None = None,
    **site: Any,
) -> AsyncIterator[World]:
    """The kit on a SQLite file, its app on one port and the shop on another (two origins)."""
    settings = settings or ChatKitSettings(event_poll_interval=0.05)
    async with AsyncChatKit(f"sqlite:///{db}", settings=settings) as kit:
        state: dict[str, str] = {}
        web = web or web_settings()
        async with serve(shop_app(state)) as shop, serve(kit.asgi(web)) as chat:
            created = await kit.websites.create("Teapot Shop", origins=[shop], **site)
            state.update(chat=chat, key=created.public_key)
            agent = await kit.agents.create(name="Sam Park", role="admin", max_concurrent_chats=20)
            _, token = await kit.agents.create_token(agent.id, name="tests")
            yield World(kit, chat, shop, created, agent, token, web, state)
