"""``chatkit serve --demo``: a seeded store and a shop page (on another origin) carrying the widget.

`seed` fills a kit with a website, a team, two agents (with API tokens) and
a few chats; `shop_app` is a small product page whose only chat code is the
widget's snippet. Both are plain functions, so a test (or your own demo)
can use them without the CLI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import Author, Website

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._facade import AsyncChatKit

__all__ = ["DEMO_SITE", "Demo", "seed", "shop_app", "shop_page"]

DEMO_SITE = "Demo Shop"
"""The name of the demo's website (found again on a second run)."""

_CHATS = (
    ("Deniz", "Hi! Can I return a teapot I bought last week?", "Of course, within 30 days."),
    ("Ji-woo", "Do you ship to Busan?", None),
    ("Sam", "My order 245-12784 has not arrived yet", "Sorry! Let me check the tracking."),
)


@dataclass(frozen=True)
class Demo:
    """What `seed` made: the website and the agents' API tokens (name, token)."""

    website: Website
    tokens: tuple[tuple[str, str], ...]


async def seed(kit: AsyncChatKit, shop_origin: str) -> Demo:
    """Add the demo's website (allowing ``shop_origin``), team, agents and chats to ``kit``.

    On a store that has them already, only the website's origin is updated
    and fresh agent tokens are made.
    """
    sites = [s for s in await kit.websites.list() if s.name == DEMO_SITE]
    if sites:
        site = await kit.websites.update(sites[0].id, origins=[shop_origin])
        agents = (await kit.agents.list(limit=10)).items
    else:
        site = await kit.websites.create(
            DEMO_SITE,
            origins=[shop_origin],
            typing_previews=True,
            widget={"greeting": "Hi! Questions about our teapots?"},
        )
        await kit.teams.create("support")
        agents = [
            await kit.agents.create(
                name="Ada Demir", teams=["support"], role="admin", max_concurrent_chats=10
            ),
            await kit.agents.create(name="Min-jun Kim", teams=["support"], max_concurrent_chats=10),
        ]
        for number, (name, question, answer) in enumerate(_CHATS):
            inbound = await kit.messages.receive(
                channel="web", sender=("web", f"demo-visitor-{number}"), text=question
            )
            await kit.contacts.update(inbound.contact.id, name=name)
            if answer is not None:
                await kit.messages.send(
                    inbound.conversation.id, answer, author=Author.agent(agents[0].id)
                )
    tokens = []
    for agent in agents[:2]:
        _, secret = await kit.agents.create_token(agent.id, name="demo")
        tokens.append((agent.name, secret))
    return Demo(site, tuple(tokens))


def shop_page(chat_url: str, website_key: str) -> str:
    """The demo shop's page: a product and the widget's snippet (no inline script or style)."""
    chat = html.escape(chat_url.rstrip("/"), quote=True)
    key = html.escape(website_key, quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Teapot Shop (chatkit demo)</title>
</head>
<body>
<main>
<h1>Teapot Shop</h1>
<p>The blue teapot, 1 litre, 24 EUR. Questions? Click the chat button.</p>
<p>This page lives on another origin than the chat server; its only chat code is:</p>
<pre>&lt;script src="{chat}/widget/loader.js"
        data-website-key="{key}" async&gt;&lt;/script&gt;</pre>
</main>
<script src="{chat}/widget/loader.js" data-website-key="{key}" async></script>
</body>
</html>
"""


def shop_app(chat_url: str, website_key: str) -> Starlette:
    """An ASGI app serving `shop_page` at ``/`` under a strict Content-Security-Policy."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    page = shop_page(chat_url, website_key)
    chat = chat_url.rstrip("/")
    csp = f"default-src 'self'; script-src {chat}; frame-src {chat}; style-src 'none'"

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    return Starlette(routes=[Route("/", home)])
