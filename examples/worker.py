"""Run the background worker for a few seconds and print its health (plain install).

In production you run ``chatkit worker`` (or ``kit.worker()``) as its own
process, as many as you like, and expose ``kit.health()`` on a health
endpoint. Here a worker runs for three seconds on a fresh SQLite file: it
wakes a snoozed conversation, runs a job of our own every second, and the
health report is printed while it runs.

Run it: ``python examples/worker.py``
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from chatkit import AsyncChatKit
from chatkit.models import utcnow
from chatkit.worker import PeriodicJob


async def count_open(kit: AsyncChatKit) -> str:
    """A job of our own: the worker runs it on one worker at a time, like the built-in ones."""
    page = await kit.conversations.list(status="open", limit=100)
    return f"{len(page.items)} open conversations"


async def main() -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='chatkit-worker-')) / 'support.db'}"
    async with AsyncChatKit(url) as kit:
        inbound = await kit.messages.receive(channel="web", sender="ada", text="Call me later")
        conversation = await kit.conversations.snooze(
            inbound.conversation.id, until=utcnow() + timedelta(seconds=1)
        )
        print(f"snoozed conversation: {conversation.status.value}")

        worker = asyncio.ensure_future(
            kit.run_worker(
                duration=3,  # in production: until SIGTERM (handle_signals=True)
                every={"wake_snoozed": 0.5},  # default 30 s
                jobs=[PeriodicJob("count_open", count_open, every=1.0)],
            )
        )
        await asyncio.sleep(2)
        health = await kit.health()
        for line in health.lines():
            print(line)
        await worker

        conversation = await kit.conversations.get(conversation.id)
        print(f"snoozed conversation after the worker: {conversation.status.value}")


if __name__ == "__main__":
    asyncio.run(main())
