"""Messaging channels: Twilio webhooks in and replies out, against the Twilio emulator.

Run ``python benchmarks/channels.py --quick`` (under a minute on 2 cores) or
without ``--quick`` for larger sizes. Progress goes to stderr; the last line
on stdout is one JSON object.

**Inbound.** One uvicorn server (in this process's event loop, h11) serves
``kit.asgi()`` on a fresh SQLite file with a `TwilioAdapter`; each request is
a form-encoded incoming-message webhook signed with ``X-Twilio-Signature``
(by the SDK's `RequestValidator`), from 50 customers, each with its own
MessageSid. The full path: verify the signature over the URL and every
parameter, parse, write the receipt and the ``channel.message_received``
event in one commit, answer empty TwiML. The **baseline**, timed in the same
run the same way (same client, same concurrency, same loop), is a bare
Starlette app on uvicorn that only checks the signature with
`RequestValidator` and answers 200. ``inbound_ratio`` is chatkit's requests
per second over the baseline's (medians of the rounds; goal at least 0.3).
``processed_per_s`` is how fast the worker then writes them into
conversations (`Channels.drain`), for information.

**Outbound.** Agents' replies in as many conversations are sent by the
channels dispatcher through the official ``twilio`` client to the emulator
(`ChannelSettings.concurrency` at once): ``outbound_per_s``. The baseline is
the emulator's own capacity: the same number of ``messages.create`` calls
through the same client with the same concurrency, straight from threads
(``emulator_per_s``); ``outbound_ratio`` is their quotient.

**Faults.** Another batch of replies is sent while the emulator answers some
creates 500 and 503, and the dispatcher is stopped mid-batch (its sends in
flight are cancelled after the emulator took them, their outcome never
written); a second dispatcher then takes over once the claims run out.
``lost`` counts replies the emulator never received, ``duplicated`` replies
it received more than once (goals: 0 and 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CUSTOMERS = 50
BUSINESS = "+14155559999"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _serve(app: Any) -> tuple[str, Callable[[], Awaitable[None]]]:
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, http="h11")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()

    return f"http://127.0.0.1:{port}", stop


def _baseline_app(auth_token: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)

    async def hook(request: Request) -> Response:
        body = await request.body()
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        if not validator.validate(
            str(request.url), params, request.headers.get("x-twilio-signature", "")
        ):
            return Response(status_code=403)
        return Response(status_code=200)

    return Starlette(routes=[Route("/channels/twilio/messages", hook, methods=["POST"])])


def _requests(
    emulator: Any, url: str, count: int, start: int
) -> list[tuple[bytes, dict[str, str]]]:
    from chatkit_integrations.twilio.emulator import EmulatedMessage

    out = []
    for i in range(start, start + count):
        message = EmulatedMessage(
            sid=f"SM{i:032x}",
            account_sid=emulator.account_sid,
            to=BUSINESS,
            from_=f"+1415555{(i % CUSTOMERS):04d}",
            body=f"message {i}: où est ma commande? 📦",
            direction="inbound",
            status="received",
            date_created=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
        params = emulator.inbound_params(message)
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": emulator.signature(url, params),
        }
        out.append((urllib.parse.urlencode(params).encode(), headers))
    return out


async def _post_all(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> float:
    import httpx

    queue = list(reversed(requests))
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while queue:
            body, headers = queue.pop()
            answer = await client.post(url, content=body, headers=headers)
            if answer.status_code != 200:
                failures += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} webhook requests failed")
    return len(requests) / elapsed


async def _replies(kit: Any, count: int, tag: str) -> list[str]:
    """``count`` conversations, each with a customer message and an agent's reply; the texts."""
    from chatkit.models import Author

    agent = await kit.agents.create(name="Mia", email=f"mia-{tag}@example.com")
    texts = []
    for i in range(count):
        number = f"+1650555{i % 10000:04d}"
        inbound = await kit.messages.receive(
            channel="sms",
            sender=number,
            text="hello",
            idempotency_key=f"{tag}-{i}",
            metadata={"channel": {"account": "twilio", "from": number, "to": BUSINESS}},
        )
        text = f"reply {tag} {i}"
        await kit.messages.send(inbound.conversation.id, text, author=Author.agent(agent.id))
        texts.append(text)
    return texts


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from chatkit import AsyncChatKit, ChatKitSettings
    from chatkit.channels.settings import ChannelSettings
    from chatkit.models import ChannelSend, ChannelSendStatus
    from chatkit_integrations.twilio import TwilioAdapter, TwilioSettings
    from chatkit_integrations.twilio.emulator import TwilioEmulator

    result: dict[str, Any] = {"benchmark": "channels"}
    emulator = TwilioEmulator().start()
    folder = tempfile.TemporaryDirectory()
    settings = ChatKitSettings(
        channels=ChannelSettings(retry_delay=0.05, timeout=1.0, concurrency=args.concurrency)
    )
    kit = AsyncChatKit(f"sqlite:///{Path(folder.name) / 'bench.db'}", settings=settings)
    try:
        await kit.open()
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                    sms_from=BUSINESS,
                    timeout=5.0,
                )
            )
        )
        # -- inbound ---------------------------------------------------------------
        chatkit_url, stop_chatkit = await _serve(kit.asgi())
        base_url, stop_base = await _serve(_baseline_app(emulator.auth_token))
        full_rates, base_rates = [], []
        sent = 0
        for round_ in range(args.rounds):
            url = f"{base_url}/channels/twilio/messages"
            rate = await _post_all(url, _requests(emulator, url, args.inbound, 0), args.concurrency)
            base_rates.append(rate)
            url = f"{chatkit_url}/channels/twilio/messages"
            batch = _requests(emulator, url, args.inbound, sent)
            sent += len(batch)
            full_rates.append(await _post_all(url, batch, args.concurrency))
            _progress(
                f"inbound round {round_ + 1}: chatkit {full_rates[-1]:.0f}/s, "
                f"baseline {base_rates[-1]:.0f}/s"
            )
        await stop_chatkit()
        await stop_base()
        started = time.perf_counter()
        await kit.channels.inbound_dispatcher().drain()
        processed = time.perf_counter() - started
        from chatkit.models import ChannelReceipt

        receipts = await kit.store.find(ChannelReceipt)
        result["inbound_per_s"] = round(statistics.median(full_rates), 1)
        result["baseline_per_s"] = round(statistics.median(base_rates), 1)
        result["inbound_ratio"] = round(result["inbound_per_s"] / result["baseline_per_s"], 3)
        result["inbound_written_once"] = len(receipts) == sent
        result["processed_per_s"] = round(sent / processed, 1)
        _progress(f"inbound: {sent} webhooks written into conversations in {processed:.1f} s")

        # -- outbound --------------------------------------------------------------
        texts = await _replies(kit, args.outbound, "out")
        dispatcher = kit.channels.dispatcher()
        await dispatcher._sends.drain()
        before = emulator.creates
        started = time.perf_counter()
        await dispatcher.deliver_due()
        elapsed = time.perf_counter() - started
        await dispatcher.close()
        assert emulator.creates - before == len(texts), "every reply sent once"
        result["outbound_per_s"] = round(len(texts) / elapsed, 1)
        client = kit.channels.get("twilio").client()  # type: ignore[attr-defined]

        def create(i: int) -> None:
            client.messages.create(to=f"+1650555{i:04d}", from_=BUSINESS, body=f"capacity {i}")

        with ThreadPoolExecutor(args.concurrency) as pool:
            started = time.perf_counter()
            list(pool.map(create, range(args.outbound)))
            elapsed = time.perf_counter() - started
        result["emulator_per_s"] = round(args.outbound / elapsed, 1)
        result["outbound_ratio"] = round(result["outbound_per_s"] / result["emulator_per_s"], 3)
        _progress(
            f"outbound: {result['outbound_per_s']}/s through the dispatcher, "
            f"emulator {result['emulator_per_s']}/s"
        )

        # -- faults ----------------------------------------------------------------
        fault_texts = await _replies(kit, args.outbound, "fault")
        for i in range(args.outbound // 10):
            emulator.fail_next("500" if i % 2 else "503")
        first = kit.channels.dispatcher()
        await first._sends.drain()
        emulator.fail_next("slow", times=args.concurrency, seconds=0.3)
        target = emulator.creates + args.concurrency // 2
        await first._start_due()
        while emulator.creates < target:  # noqa: ASYNC110 - the emulator runs in a thread
            await asyncio.sleep(0.01)
        for task in list(first._tasks):
            task.cancel()  # the worker dies mid-batch
        await asyncio.gather(*first._tasks, return_exceptions=True)
        _progress("faults: the first dispatcher stopped mid-batch; the second takes over")
        await asyncio.sleep(settings.channels.timeout * 2 + 1.5)  # its claims run out
        for _ in range(50):
            await kit.channels.drain()
            pending = await kit.store.find(ChannelSend, {"status": ChannelSendStatus.PENDING})
            if not pending:
                break
            await asyncio.sleep(0.2)
        bodies: dict[str, int] = {}
        for message in emulator.sent():
            bodies[message.body] = bodies.get(message.body, 0) + 1
        result["lost"] = sum(1 for t in fault_texts if bodies.get(t, 0) == 0)
        result["duplicated"] = sum(1 for t in fault_texts + texts if bodies.get(t, 0) > 1)
        failed = await kit.store.find(ChannelSend, {"status": ChannelSendStatus.FAILED})
        result["failed_for_good"] = len(failed)
        _progress(f"faults: lost {result['lost']}, duplicated {result['duplicated']}")
        result["threads"] = threading.active_count()
    finally:
        await kit.close()
        emulator.stop()
        folder.cleanup()
    result.pop("threads", None)
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--inbound", type=int, default=1000, help="webhooks per round")
    parser.add_argument("--rounds", type=int, default=5, help="inbound rounds (median)")
    parser.add_argument("--outbound", type=int, default=500, help="replies per outbound phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once")
    args = parser.parse_args()
    if args.quick:
        args.inbound, args.outbound, args.rounds = 200, 150, 5
    result = asyncio.run(main(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    cli()
