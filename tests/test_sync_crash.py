"""A sync worker killed with SIGKILL at any point, then restarted: nothing lost, nothing doubled.

The worker is a real process syncing a SQLite store with the HubSpot emulator
(served by this test process) through hubspot-api-client; it is killed three
times at different points of its run, under injected 429s and 5xx.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("hubspot")
pytest.importorskip("starlette")

from chatkit import Author, ChatKit
from chatkit_integrations.hubspot.emulator import HubSpotEmulator

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from chatkit import AsyncChatKit

    async def main(url):
        async with AsyncChatKit(url) as kit, kit.sync.engine(
            "hubspot", retry_delay=0.05, max_wait=2, claim_seconds=0.5
        ) as engine:
            for _ in range(400):
                report = await engine.run_once()
                status = await kit.sync.status("hubspot")
                if not (report.events or report.pushed or report.retried) and not status.pending:
                    return
                if status.pending and not report.pushed:
                    await asyncio.sleep(0.1)
        sys.exit("not done")

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.fixture
def hubspot() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(access_token="crash-token") as emulator:
        yield emulator


def test_killed_workers_lose_and_double_nothing(hubspot: HubSpotEmulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    expected: dict[str, list[str]] = {}
    with ChatKit(url) as kit:
        for i in range(60):
            contact = kit.contacts.create(name=f"C{i}", identities=[("email", f"c{i}@example.com")])
            conversation = kit.conversations.create(contact_id=contact.id)
            texts = [f"message {j} of chat {i}" for j in range(3)]
            for text in texts:
                kit.messages.send(conversation.id, text, author=Author.customer(contact.id))
            expected[conversation.id] = texts
    env = {
        **os.environ,
        "CHATKIT_HUBSPOT_ACCESS_TOKEN": "crash-token",
        "CHATKIT_HUBSPOT_HOST": hubspot.url,
    }
    hubspot.fail_next(429, times=2, retry_after=0.2)
    hubspot.fail_next(503, times=2, after=3)
    for writes in (1, 3, 5):  # kill once the vendor took this many writes
        worker = subprocess.Popen([sys.executable, "-c", WORKER, url], env=env)
        deadline = time.monotonic() + 60
        while hubspot.write_calls() < writes and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.002)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    done = subprocess.run(
        [sys.executable, "-c", WORKER, url], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    state = hubspot.state
    contacts = Counter(c["properties"].get("chatkit_id") for c in state.all("contacts"))
    tickets = {int(t["id"]): t["properties"].get("chatkit_id") for t in state.all("tickets")}
    assert sorted(Counter(tickets.values()).values()) == [1] * 60  # one ticket per chat
    assert sorted(contacts.values()) == [1] * 60
    notes: Counter[tuple[str, str]] = Counter()
    for note in state.all("notes"):
        for association in state.associated("notes", note["id"], "tickets"):
            conversation = tickets[int(association["toObjectId"])]
            body = note["properties"]["hs_note_body"]
            notes.update((conversation, text) for text in expected[conversation] if text in body)
    wanted = {(c, t) for c, texts in expected.items() for t in texts}
    assert set(notes) == wanted  # nothing lost
    assert set(notes.values()) == {1}  # nothing doubled
