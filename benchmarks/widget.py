"""The chat widget: its size, and how fast it appears and opens in headless Chromium.

Run ``python benchmarks/widget.py --quick`` (well under a minute on 2 cores)
or without ``--quick`` for more rounds. Needs ``chatkit[web]``, Playwright for
Python and a Chromium (``CHATKIT_CHROMIUM``, default ``/usr/bin/chromium``;
Playwright's own browser download is not used). Progress goes to stderr; the
last line on stdout is one JSON object with the figures.

1. **Size.** ``loader_gzip_kb``: ``loader.js`` gzipped (level 9), the budget
   is 10 KB. ``widget_gzip_kb``: ``loader.js``, ``frame.html``, ``frame.js``
   and ``frame.css`` gzipped, each on its own as a server sends them; the
   budget is 60 KB.

2. **Time (informational).** A chat server (``kit.asgi()`` on an in-memory
   kit) and a shop (another uvicorn app, another port: another origin) run
   on 127.0.0.1. Each round opens a fresh browser context (empty cache, as a
   first visit) and alternates which page goes first:

   - *baseline*: the shop page without the snippet, from ``page.goto`` until
     its heading is visible;
   - *launcher*: the same page with the snippet, from ``page.goto`` until the
     launcher button is visible (the loader is ``async``, so this includes
     fetching it);
   - *open*: from the click on the launcher until the chat's message box is
     visible in the iframe (frame page, script, styles and the website's
     settings loaded).

   Medians are reported; ``launcher_ratio`` is launcher ÷ baseline.

3. **The agent console** (``console_*`` keys, from `_console_bench.py`, whose
   docstring says how): 500 open conversations; time to the first inbox row,
   and the median and p90 time to switch conversations (goal: median ≤ 100 ms)
   beside the API request a switch makes (the baseline). ``--no-console``
   leaves it out.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import socket
import statistics
import sys
import time
from typing import Any


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def sizes() -> dict[str, float]:
    from chatkit.web.widget import STATIC_DIR

    def kb(*names: str) -> float:
        total = sum(len(gzip.compress((STATIC_DIR / n).read_bytes(), 9)) for n in names)
        return round(total / 1024, 2)

    return {
        "loader_gzip_kb": kb("loader.js"),
        "widget_gzip_kb": kb("loader.js", "frame.html", "frame.js", "frame.css"),
    }


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _serve(app: Any, port: int) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    return server, task


async def timings(rounds: int) -> dict[str, float]:
    from playwright.async_api import async_playwright
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from chatkit import AsyncChatKit
    from chatkit.web import WebSettings
    from chatkit.web.demo import shop_page

    chromium = os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium")
    chat_port, shop_port = _port(), _port()
    chat = f"http://127.0.0.1:{chat_port}"
    shop = f"http://127.0.0.1:{shop_port}"
    async with AsyncChatKit("memory://") as kit:
        site = await kit.websites.create("Bench", origins=[shop])
        page_html = shop_page(chat, site.public_key)
        blank_html = page_html.split("<script")[0] + "</body></html>"

        async def with_widget(request: Request) -> HTMLResponse:
            return HTMLResponse(page_html)

        async def blank(request: Request) -> HTMLResponse:
            return HTMLResponse(blank_html)

        shop_app = Starlette(routes=[Route("/", with_widget), Route("/blank", blank)])
        web = WebSettings(rate_limit_url="memory://", rate_limits={"new_session": None})
        servers = [await _serve(kit.asgi(web), chat_port), await _serve(shop_app, shop_port)]
        base: list[float] = []
        launcher: list[float] = []
        opened: list[float] = []
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
                )
                for number in range(rounds + 1):  # round 0 warms the servers up, untimed
                    order = ("blank", "widget") if number % 2 else ("widget", "blank")
                    for which in order:
                        context = await browser.new_context()
                        page = await context.new_page()
                        started = time.perf_counter()
                        if which == "blank":
                            await page.goto(f"{shop}/blank", wait_until="commit")
                            await page.wait_for_selector("h1", state="visible")
                            took = time.perf_counter() - started
                            if number:
                                base.append(took * 1000)
                        else:
                            await page.goto(f"{shop}/", wait_until="commit")
                            await page.wait_for_selector("#chatkit-launcher", state="visible")
                            took = time.perf_counter() - started
                            clicked = time.perf_counter()
                            await page.click("#chatkit-launcher")
                            handle = await page.wait_for_selector("#chatkit-frame")
                            frame = await handle.content_frame()
                            await frame.wait_for_selector("#text", state="visible")
                            usable = time.perf_counter() - clicked
                            if number:
                                launcher.append(took * 1000)
                                opened.append(usable * 1000)
                        await context.close()
                    if number:
                        _log(
                            f"round {number}/{rounds}: blank {base[-1]:.0f} ms, "
                            f"launcher {launcher[-1]:.0f} ms, open {opened[-1]:.0f} ms"
                        )
                await browser.close()
        finally:
            for server, task in servers:
                server.should_exit = True
                await task
    blank_ms = statistics.median(base)
    launcher_ms = statistics.median(launcher)
    return {
        "blank_page_ms": round(blank_ms, 1),
        "launcher_visible_ms": round(launcher_ms, 1),
        "launcher_ratio": round(launcher_ms / blank_ms, 2),
        "click_to_usable_ms": round(statistics.median(opened), 1),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (under a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5 / 20)")
    parser.add_argument("--no-console", action="store_true", help="leave out the agent console")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 20)
    figures: dict[str, Any] = {"benchmark": "widget", **sizes()}
    figures["loader_budget_kb"] = 10
    figures["widget_budget_kb"] = 60
    figures.update(asyncio.run(timings(rounds)))
    if not args.no_console:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _console_bench import console_figures

        figures.update(asyncio.run(console_figures(args.quick)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
