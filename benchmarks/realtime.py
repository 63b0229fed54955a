"""Real-time delivery: customer POST to agent WebSocket, against a raw Starlette broadcast.

Run ``python benchmarks/realtime.py --quick`` (about a minute on 2 cores) or
without ``--quick`` for the issue's sizes (1,000 customer sockets and 50
agent sockets). Progress goes to stderr; the last line on stdout is one JSON
object.

**chatkit.** One uvicorn process serves ``kit.asgi()`` on a fresh SQLite
file (the default store). Before the clock starts: a website, a team, the
agents (each with an API token), one customer session per customer (``POST
/v1/sessions``) and its first message (``POST /v1/messages``), and each
conversation assigned round-robin to an agent. Every client then opens a
WebSocket on ``/v1/realtime`` (customers with their session token, agents
with their API token, resuming after the outbox position reached by the
setup) and waits for ``ready``.

**Baseline.** A second uvicorn process serves a bare Starlette app: a
WebSocket endpoint that keeps sockets in a dict, and a POST route that sends
the message straight to the sockets named in the body (the agent and the
customer, as chatkit delivers it), with no store, no auth and no policy.

**What is timed.** Random customers send messages at a steady rate; the time
from just before the POST to the moment the assigned agent's socket receives
it (p50, p99, nearest rank). ``delivery_p99_ratio`` is chatkit's p99 over the
baseline's (goal: at most 5), with every chatkit message durably stored.

**Forced reconnect.** Every chatkit socket is then closed; messages are
written while they are away and while they reconnect (each with the last
position it saw). ``lost`` counts messages a client should have received and
did not (over the whole run), ``duplicated`` messages it received twice
(goals: 0 and 0).

**Memory.** The server process's resident memory (``VmRSS``) before and
after its sockets are open and idle, divided by their number, for chatkit
and the baseline; ``memory_per_connection_ratio`` is chatkit's over the
baseline's (goal: at most 1.5).

**Two processes.** With ``--redis URL`` (default: the local Redis, skipped
if unreachable) the same run is repeated with two chatkit processes on one
SQLite file and the Redis transport: customers POST to process A, all
sockets are held by process B. Its figures carry the prefix ``redis_``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHOP = "https://shop.example"

CHATKIT_SERVER = """
import sys
import uvicorn
from chatkit import AsyncChatKit, ChatKitSettings
from chatkit.web import WebSettings

url, transport, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = {"transport": transport} if transport else {}
kit = AsyncChatKit(url, settings=ChatKitSettings(event_poll_interval=1.0), **extra)
# Every client comes from 127.0.0.1 here: the per-IP limits on new sessions and
# conversations are lifted; every other limit keeps its default (and its store writes).
web = WebSettings(
    rate_limits={"new_session": None, "new_conversation": None}, realtime_buffer=10_000
)
uvicorn.run(kit.asgi(web), host="127.0.0.1", port=port, log_level="warning",
            lifespan="off", ws="websockets-sansio", access_log=False)
"""

BASELINE_SERVER = """
import json, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

sockets = {}

async def socket_endpoint(ws):
    await ws.accept()
    name = ws.query_params["name"]
    sockets[name] = ws
    await ws.send_text(json.dumps({"type": "ready", "position": 0, "data": {}}))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        sockets.pop(name, None)

async def send(request):
    body = await request.json()
    frame = json.dumps({"type": "message.created", "position": None,
                        "data": {"message": {"text": body["text"]}}})
    for name in body["to"]:
        ws = sockets.get(name)
        if ws is not None:
            await ws.send_text(frame)
    return JSONResponse({"ok": True}, status_code=201)

routes = [WebSocketRoute("/ws", socket_endpoint), Route("/send", send, methods=["POST"])]
app = Starlette(routes=routes)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off", ws="websockets-sansio", access_log=False)
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


async def wait_up(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                await http.get(url + "/")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def start(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env)


@dataclass
class Client:
    """One socket: who it is, what it received, the last position it saw."""

    name: str
    token: str
    origin: str | None
    received: list[str] = field(default_factory=list)
    position: int | None = None
    ws: Any = None
    reader: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Run:
    def __init__(self, sent_at: dict[str, float], latencies: list[float]) -> None:
        self.sent_at = sent_at
        self.latencies = latencies

    async def read(self, client: Client, agent: bool) -> None:
        async for text in client.ws:
            frame = json.loads(text)
            kind = frame["type"]
            if frame.get("position") is not None:
                client.position = frame["position"]
            if kind == "ready":
                client.ready.set()
            elif kind == "message.created":
                body = frame["data"]["message"]["text"]
                client.received.append(body)
                if agent and body in self.sent_at:
                    self.latencies.append(time.perf_counter() - self.sent_at.pop(body))


async def open_chatkit(run: Run, client: Client, ws_url: str, agent: bool) -> None:
    from websockets.asyncio.client import connect

    client.ready.clear()
    client.ws = await connect(ws_url, origin=client.origin, max_queue=None)  # type: ignore[arg-type]
    auth: dict[str, Any] = {"type": "auth", "token": client.token, "after": client.position}
    await client.ws.send(json.dumps(auth))
    client.reader = asyncio.create_task(run.read(client, agent))
    await asyncio.wait_for(client.ready.wait(), 120)


async def gather_limited(coros: list[Any], limit: int = 50) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def chatkit_run(
    customers: int, agents: int, rate: float, seconds: float, redis: str | None
) -> dict[str, Any]:
    import httpx

    from chatkit import AsyncChatKit

    tmp = tempfile.mkdtemp(prefix="chatkit-rt-")
    db = f"sqlite:///{tmp}/chat.db"
    async with AsyncChatKit(db) as kit:
        site = await kit.websites.create("Shop", origins=[SHOP])
        await kit.teams.create("support")
        agent_ids, agent_tokens = [], []
        for i in range(agents):
            agent = await kit.agents.create(
                name=f"Agent {i}", teams=["support"], max_concurrent_chats=50
            )
            agent_ids.append(agent.id)
            agent_tokens.append((await kit.agents.create_token(agent.id))[1])
    transport = f"{redis}?namespace=bench{os.getpid()}" if redis else ""
    ports = [free_port()] + ([free_port()] if redis else [])
    procs = [start(CHATKIT_SERVER, db, transport, str(p)) for p in ports]
    post_url = f"http://127.0.0.1:{ports[0]}"
    ws_url = f"ws://127.0.0.1:{ports[-1]}/v1/realtime"
    try:
        for port in ports:
            await wait_up(f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient(
            base_url=post_url, headers={"origin": SHOP}, timeout=60
        ) as http:

            async def new_customer(i: int) -> tuple[str, str]:
                r = await http.post("/v1/sessions", json={"website_key": site.public_key})
                token = r.json()["token"]
                m = await http.post(
                    "/v1/messages", json={"text": f"hello {i}"}, headers=_bearer(token)
                )
                return token, m.json()["conversation_id"]

            log(f"  setting up {customers} customers")
            made = await gather_limited([new_customer(i) for i in range(customers)], 20)
            async with AsyncChatKit(db) as kit:
                for i, (_, conv) in enumerate(made):
                    await kit.conversations.assign(conv, agent_ids[i % agents], team="support")
                start_position = await kit.store.last_position()

            customer_clients = [
                Client(f"c{i}", token, SHOP, position=start_position)
                for i, (token, _) in enumerate(made)
            ]
            agent_clients = [
                Client(f"a{i}", token, None, position=start_position)
                for i, token in enumerate(agent_tokens)
            ]
            sent_at: dict[str, float] = {}
            latencies: list[float] = []
            run = Run(sent_at, latencies)
            server_pid = procs[-1].pid
            await asyncio.sleep(1)
            rss0 = rss_kb(server_pid)
            log(f"  opening {customers + agents} sockets")
            await gather_limited(
                [open_chatkit(run, c, ws_url, False) for c in customer_clients]
                + [open_chatkit(run, a, ws_url, True) for a in agent_clients],
                50,
            )
            await asyncio.sleep(2)
            rss1 = rss_kb(server_pid)
            per_connection = (rss1 - rss0) * 1024 / (customers + agents)

            expected: dict[str, list[str]] = {c.name: [] for c in customer_clients + agent_clients}
            counter = 0

            async def post(i: int, timed: bool) -> None:
                nonlocal counter
                counter += 1
                text = f"m{counter}"
                token, conv = made[i]
                expected[f"c{i}"].append(text)
                expected[f"a{i % agents}"].append(text)
                if timed:
                    sent_at[text] = time.perf_counter()
                r = await http.post(
                    f"/v1/conversations/{conv}/messages",
                    json={"text": text},
                    headers=_bearer(token),
                )
                assert r.status_code == 201, r.text

            async def steady(count: int, timed: bool) -> None:
                tasks = []
                for _ in range(count):
                    tasks.append(asyncio.create_task(post(random.randrange(customers), timed)))
                    await asyncio.sleep(1 / rate)
                await asyncio.gather(*tasks)

            log(f"  {int(rate * seconds)} messages at {rate}/s")
            await steady(int(rate * seconds), True)
            await _drain(sent_at)
            timed = list(latencies)

            log("  forced reconnect of every socket")
            everyone = customer_clients + agent_clients
            for c in everyone:
                await c.ws.close()
            await asyncio.gather(*(c.reader for c in everyone if c.reader), return_exceptions=True)
            await steady(int(rate * 2), False)  # while away
            writer = asyncio.create_task(steady(int(rate * 2), False))  # while reconnecting
            await gather_limited(
                [open_chatkit(run, c, ws_url, c.name.startswith("a")) for c in everyone], 50
            )
            await writer
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(  # noqa: ASYNC110 - counters
                len(c.received) < len(expected[c.name]) for c in everyone
            ):
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            lost = sum(len(set(expected[c.name]) - set(c.received)) for c in everyone)
            duplicated = sum(len(c.received) - len(set(c.received)) for c in everyone)
            for c in everyone:
                await c.ws.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    return {
        "p50_ms": pct(timed, 0.5) * 1000,
        "p99_ms": pct(timed, 0.99) * 1000,
        "samples": len(timed),
        "lost": lost,
        "duplicated": duplicated,
        "memory_per_connection_kb": per_connection / 1024,
        "messages": counter,
    }


async def _drain(sent_at: dict[str, float]) -> None:
    deadline = time.monotonic() + 30
    while sent_at and time.monotonic() < deadline:  # noqa: ASYNC110 - a dict
        await asyncio.sleep(0.05)


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def baseline_run(customers: int, agents: int, rate: float, seconds: float) -> dict[str, Any]:
    import httpx
    from websockets.asyncio.client import connect

    port = free_port()
    proc = start(BASELINE_SERVER, str(port))
    try:
        await wait_up(f"http://127.0.0.1:{port}")
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        run = Run(sent_at, latencies)
        clients = [Client(f"c{i}", "", None) for i in range(customers)]
        clients += [Client(f"a{i}", "", None) for i in range(agents)]
        await asyncio.sleep(1)
        rss0 = rss_kb(proc.pid)

        async def open_raw(client: Client) -> None:
            client.ws = await connect(
                f"ws://127.0.0.1:{port}/ws?name={client.name}", max_queue=None
            )
            client.reader = asyncio.create_task(run.read(client, client.name.startswith("a")))
            await asyncio.wait_for(client.ready.wait(), 120)

        await gather_limited([open_raw(c) for c in clients], 50)
        await asyncio.sleep(2)
        per_connection = (rss_kb(proc.pid) - rss0) * 1024 / len(clients)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            counter = 0

            async def post(i: int) -> None:
                nonlocal counter
                counter += 1
                text = f"m{counter}"
                sent_at[text] = time.perf_counter()
                await http.post("/send", json={"text": text, "to": [f"a{i % agents}", f"c{i}"]})

            tasks = []
            for _ in range(int(rate * seconds)):
                tasks.append(asyncio.create_task(post(random.randrange(customers))))
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)
            await _drain(sent_at)
        for c in clients:
            await c.ws.close()
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "memory_per_connection_kb": per_connection / 1024,
    }


def redis_url(url: str) -> str | None:
    try:
        import redis
    except ImportError:
        return None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


async def main(args: argparse.Namespace) -> dict[str, Any]:
    random.seed(7)
    customers, agents = (200, 20) if args.quick else (args.customers, args.agents)
    rate, seconds = (20.0, 8.0) if args.quick else (args.rate, args.seconds)
    log(f"baseline: {customers} + {agents} sockets")
    base = await baseline_run(customers, agents, rate, seconds)
    log(f"chatkit: {customers} + {agents} sockets, one process")
    one = await chatkit_run(customers, agents, rate, seconds, None)
    result: dict[str, Any] = {
        "customers": customers,
        "agents": agents,
        "messages": one["messages"],
        "delivery_p50_ms": round(one["p50_ms"], 2),
        "delivery_p99_ms": round(one["p99_ms"], 2),
        "baseline_p50_ms": round(base["p50_ms"], 2),
        "baseline_p99_ms": round(base["p99_ms"], 2),
        "delivery_p99_ratio": round(one["p99_ms"] / base["p99_ms"], 2),
        "lost": one["lost"],
        "duplicated": one["duplicated"],
        "memory_per_connection_kb": round(one["memory_per_connection_kb"], 1),
        "baseline_memory_per_connection_kb": round(base["memory_per_connection_kb"], 1),
        "memory_per_connection_ratio": round(
            one["memory_per_connection_kb"] / base["memory_per_connection_kb"], 2
        ),
    }
    redis = redis_url(args.redis) if args.redis else None
    if redis:
        log("chatkit: two processes through Redis")
        two = await chatkit_run(customers, agents, rate, seconds, redis)
        result.update(
            redis_delivery_p50_ms=round(two["p50_ms"], 2),
            redis_delivery_p99_ms=round(two["p99_ms"], 2),
            redis_delivery_p99_ratio=round(two["p99_ms"] / base["p99_ms"], 2),
            redis_lost=two["lost"],
            redis_duplicated=two["duplicated"],
            redis_memory_per_connection_kb=round(two["memory_per_connection_kb"], 1),
            redis_memory_per_connection_ratio=round(
                two["memory_per_connection_kb"] / base["memory_per_connection_kb"], 2
            ),
        )
    else:
        log("no Redis reachable: the two-process run is skipped")
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 + 20 sockets, about a minute")
    parser.add_argument("--customers", type=int, default=1000, help="customer sockets")
    parser.add_argument("--agents", type=int, default=50, help="agent sockets")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of steady sending")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the two-process run ('' to skip)",
    )
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    cli()
