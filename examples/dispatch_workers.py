"""Two worker processes share one dispatch group: every event is handled once.

    python examples/dispatch_workers.py [store URL]

Without a URL it uses a SQLite file in a temporary directory; pass
``postgresql://postgres@127.0.0.1:5432/test`` to run the same on PostgreSQL.
Each worker appends the ids it handled to its own file; at the end the
script prints how the events were shared and checks none was lost or doubled.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TextIO

from chatkit import AsyncChatKit, Event


def worker(url: str, out: str) -> None:
    """Drain the ``webhooks`` group, writing one handled event id per line to ``out``."""

    async def main(log: TextIO) -> None:
        async def handle(events: list[Event]) -> None:
            log.writelines(f"{event.id}\n" for event in events)
            log.flush()
            await asyncio.sleep(0.01)  # pretend to call a webhook

        async with AsyncChatKit(url) as kit:
            dispatcher = kit.events.dispatcher("webhooks", handle, batch_size=20)
            await dispatcher.drain()

    with open(out, "a") as log:
        asyncio.run(main(log))


async def publish(url: str, count: int) -> list[str]:
    """A customer writes ``count`` messages; return the ids of all events so far."""
    async with AsyncChatKit(url) as kit:
        inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="Hi!")
        for n in range(count - 1):
            await kit.messages.send(
                inbound.conversation.id, f"message {n}", author=inbound.message.author
            )
        events = []
        page = await kit.events.list(limit=1000)
        events += page.items
        while page.next_cursor:
            page = await kit.events.list(after=page.next_cursor, limit=1000)
            events += page.items
        return [e.id for e in events]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tmp) / 'support.db'}"
        ids = asyncio.run(publish(url, 200))
        outs = [Path(tmp) / f"worker-{n}.log" for n in range(2)]
        ctx = multiprocessing.get_context("spawn")
        workers = [ctx.Process(target=worker, args=(url, str(out))) for out in outs]
        for process in workers:
            process.start()
        for process in workers:
            process.join()
        handled = Counter(i for out in outs if out.exists() for i in out.read_text().split())
        for n, out in enumerate(outs):
            share = len(out.read_text().split()) if out.exists() else 0
            print(f"worker {n} handled {share} events")
        missing = set(ids) - set(handled)
        doubled = [i for i, count in handled.items() if count > 1]
        print(f"{len(ids)} events, {len(missing)} missing, {len(doubled)} handled twice")
        if missing or doubled:
            sys.exit(1)


if __name__ == "__main__":
    main()
