"""Agent console speed: first render of the inbox and switching conversations, in Chromium.

Run ``python benchmarks/_console_bench.py --quick`` (well under a minute on 2
cores); the last line on stdout is one JSON object. ``console_figures(quick)``
returns the same figures for another benchmark to report.

Setup: an ``AsyncChatKit`` on a fresh SQLite file holds one team, one agent
with an API token, and ``conversations`` open conversations (500), each with
two customer messages and an agent reply, waiting in the team's queue. The
app (``kit.asgi()``) runs under uvicorn on 127.0.0.1 in this process; headless
Chromium (Debian's, at ``CHATKIT_CHROMIUM`` or ``/usr/bin/chromium``, driven by
Playwright) opens ``/console/`` with the token already in sessionStorage.

1. **First render** (``console_first_render_ms``): from the start of the
   navigation (``performance.now()`` 0) to the moment the first inbox row is in
   the document, read in the page by a MutationObserver installed before the
   console's scripts run; it covers loading the page and its modules, ``/me``,
   the agent directory and the inbox request (100 rows of the 500). Median of
   ``loads`` page loads (each a fresh page).
2. **Switch** (``console_switch_ms_median``, ``_p90``): in the page, a click on
   an inbox row, until that conversation's messages are in the document and a
   frame has been painted (``requestAnimationFrame`` after the render). One
   switch per row, rows in turn, ``switches`` of them (20) after 2 untimed ones.
   Goal: median ≤ 100 ms (``console_switch_goal_ms``).
   Baseline (``console_switch_api_ms_median``): the same page ``fetch``-es the
   same conversation's detail (``GET /v1/agent/conversations/{id}``, the
   request a switch makes) and parses the JSON, without rendering; the ratio
   is switch ÷ API (what the console adds to the request it cannot avoid).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium")
GOAL_MS = 100.0

FIRST_ROW = """
window.__firstRow = null;
new MutationObserver((_, observer) => {
  if (document.querySelector("#inbox-list .row")) {
    window.__firstRow = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""

SWITCH = """
async (index) => {
  const rows = document.querySelectorAll("#inbox-list .row");
  const row = rows[index % rows.length];
  const id = row.dataset.id;
  const list = document.getElementById("messages");
  const t0 = performance.now();
  row.querySelector(".row-open").click();
  let rendered = 0;
  await new Promise((resolve) => {
    const done = () => list.dataset.conversation === id && list.querySelector(".msg");
    if (done()) return resolve();
    const observer = new MutationObserver(() => {
      if (done()) {
        observer.disconnect();
        resolve();
      }
    });
    observer.observe(list, { childList: true, attributes: true });
  });
  rendered = performance.now() - t0;
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return [performance.now() - t0, rendered];
}
"""

API = """
async ([index, token]) => {
  const rows = document.querySelectorAll("#inbox-list .row");
  const id = rows[index % rows.length].dataset.id;
  const t0 = performance.now();
  const response = await fetch(`../v1/agent/conversations/${id}`,
    { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  await response.json();
  return performance.now() - t0;
}
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _seed(kit: Any, conversations: int) -> str:
    from chatkit.models import Author

    await kit.teams.create("support")
    agent = await kit.agents.create(name="Bench Agent", teams=["support"], max_concurrent_chats=50)
    _, token = await kit.agents.create_token(agent.id)
    for i in range(conversations):
        contact = await kit.contacts.create(name=f"Customer {i}")
        conv = await kit.conversations.create(contact_id=contact.id, team="support")
        customer = Author.customer(contact.id)
        await kit.messages.send(conv.id, f"Hello, this is customer {i}.", author=customer)
        await kit.messages.send(conv.id, "Hello! How can I help?", author=Author.agent(agent.id))
        await kit.messages.send(conv.id, f"Where is my order {1000 + i}?", author=customer)
        if i and i % 100 == 0:
            log(f"  seeded {i} conversations")
    return str(token)


async def _serve(app: Any) -> tuple[Any, asyncio.Task[None], socket.socket, str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        await task
        raise RuntimeError("uvicorn did not start")
    return server, task, sock, f"http://127.0.0.1:{port}"


async def console_figures(quick: bool) -> dict[str, Any]:
    """Seed 500 open conversations, serve the app, and time the console in headless Chromium.

    Returns ``console_first_render_ms``, ``console_switch_ms_median``,
    ``console_switch_ms_p90`` and, for context, the goal, the API baseline
    of a switch and the counts measured (see the module description).
    """
    from playwright.async_api import async_playwright

    from chatkit import AsyncChatKit

    conversations = 500
    loads = 3 if quick else 7
    switches = 20 if quick else 60
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncChatKit(f"sqlite:///{folder}/console.db") as kit:
            started = time.perf_counter()
            token = await _seed(kit, conversations)
            log(f"seeded {conversations} conversations in {time.perf_counter() - started:.1f} s")
            server, task, sock, url = await _serve(kit.asgi())
            try:
                async with async_playwright() as p:
                    browser = await p.chromium.launch(
                        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
                    )
                    try:
                        figures = await _measure(browser, url, token, loads, switches)
                    finally:
                        await browser.close()
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, 10)
                sock.close()
    figures["console_conversations"] = conversations
    return figures


async def _page(browser: Any, token: str) -> Any:
    context = await browser.new_context(viewport={"width": 1400, "height": 860})
    await context.add_init_script(
        f"sessionStorage.setItem('chatkit.console.token', {json.dumps(token)});" + FIRST_ROW
    )
    return await context.new_page()


async def _first_row(page: Any) -> float:
    """When the first inbox row appeared (polled: the console's CSP forbids eval)."""
    for _ in range(6000):
        found = await page.evaluate("window.__firstRow")
        if found is not None:
            return float(found)
        await asyncio.sleep(0.01)
    raise TimeoutError("the inbox did not render within a minute")


async def _measure(browser: Any, url: str, token: str, loads: int, switches: int) -> dict[str, Any]:
    first: list[float] = []
    for _ in range(loads + 1):  # the first load warms the server and the caches: untimed
        page = await _page(browser, token)
        await page.goto(f"{url}/console/")
        first.append(await _first_row(page))
        await page.context.close()
    first = first[1:]
    rows_shown = 0
    page = await _page(browser, token)
    await page.goto(f"{url}/console/")
    await _first_row(page)
    await page.wait_for_selector("#live[data-state=live]")
    rows_shown = int(await page.evaluate("document.querySelectorAll('#inbox-list .row').length"))
    switch: list[float] = []
    api: list[float] = []
    for i in range(switches + 2):
        took, _rendered = await page.evaluate(SWITCH, i)
        fetched = float(await page.evaluate(API, [i, token]))
        if i >= 2:
            switch.append(float(took))
            api.append(fetched)
    await page.context.close()
    median = statistics.median(switch)
    api_median = statistics.median(api)
    log(
        f"first render {statistics.median(first):.0f} ms; switch median {median:.1f} ms, "
        f"p90 {pct(switch, 0.9):.1f} ms (API alone {api_median:.1f} ms); {rows_shown} rows"
    )
    return {
        "console_first_render_ms": round(statistics.median(first), 1),
        "console_switch_ms_median": round(median, 1),
        "console_switch_ms_p90": round(pct(switch, 0.9), 1),
        "console_switch_goal_ms": GOAL_MS,
        "console_switch_api_ms_median": round(api_median, 1),
        "console_switch_ratio": round(median / api_median, 2) if api_median else None,
        "console_switch_within_goal": median <= GOAL_MS,
        "console_switches": len(switch),
        "console_page_loads": len(first),
        "console_inbox_rows": rows_shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 page loads and 20 switches (about a minute)"
    )
    args = parser.parse_args()
    figures = asyncio.run(console_figures(args.quick))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
