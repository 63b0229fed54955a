"""A website carrying the chat widget, and the chat server beside it. Needs chatkit[web].

Two uvicorn servers on 127.0.0.1: the chat server (``kit.asgi()``, which
serves the widget's files under ``/widget/``) and your site on another port,
another origin, whose page has nothing of the chat but the snippet. The
website is registered with your site's origin, so only your pages may embed
the chat.

    pip install 'chatkit[web]'
    python examples/widget_site.py           # checks the set-up and exits
    python examples/widget_site.py --serve   # keeps serving: open the printed URL

Without ``--serve`` it fetches the page, the loader and the chat frame once
and prints what a browser would be told.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from typing import Any

from chatkit import AsyncChatKit

try:
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from chatkit.web import WebSettings
except ImportError:  # the extra is missing: say what to install, in one line
    sys.exit("this example needs FastAPI and uvicorn: pip install 'chatkit[web]'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def site_app(chat: str, key: str) -> Starlette:
    """Your website: any framework will do; the page only needs the snippet."""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>My shop</title></head>
<body><main><h1>My shop</h1><p>Questions? Use the chat button.</p></main>
<script src="{chat}/widget/loader.js" data-website-key="{key}" async></script>
</body></html>"""

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", home)])


async def start(app: Any, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    server.task = task  # type: ignore[attr-defined]
    return server


async def main(serve: bool) -> None:
    chat_port, site_port = free_port(), free_port()
    chat, site = f"http://127.0.0.1:{chat_port}", f"http://127.0.0.1:{site_port}"
    async with AsyncChatKit("memory://") as kit:
        website = await kit.websites.create(
            "My shop", origins=[site], widget={"color": "#0b5d1e", "greeting": "Hello!"}
        )
        servers = [
            await start(kit.asgi(WebSettings()), chat_port),
            await start(site_app(chat, website.public_key), site_port),
        ]
        try:
            async with httpx.AsyncClient() as http:
                page = (await http.get(site)).text
                loader = await http.get(f"{chat}/widget/loader.js")
                frame = await http.get(
                    f"{chat}/widget/frame.html", params={"key": website.public_key}
                )
            print("the page carries the snippet:", f"{chat}/widget/loader.js" in page)
            print("loader.js:", loader.headers["content-type"], loader.headers["cache-control"])
            ancestors = frame.headers["content-security-policy"].split("frame-ancestors ")[1]
            print("the chat may be framed by:", ancestors.split(";")[0])
            if serve:
                print(f"open {site}/ in a browser (Ctrl-C stops)")
                await asyncio.Event().wait()
        finally:
            for server in servers:
                server.should_exit = True
                await server.task  # type: ignore[attr-defined]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main("--serve" in sys.argv[1:]))
