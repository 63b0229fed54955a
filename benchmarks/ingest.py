"""SQLite ingest throughput and history-read latency, SDK against raw sqlite3.

Measured in one run, on one machine, into fresh files in a temporary directory:

1. **Ingest.** Messages per second through the public API
   (``await kit.messages.send(...)``) with several concurrent senders, each on
   its own conversation; every call returns only after its commit (WAL,
   ``synchronous=NORMAL``). Baseline: stdlib ``sqlite3`` on the same schema
   and PRAGMAs, single-threaded, writing what the SDK writes per message (the
   message row, its outbox event row, the conversation row update) with one
   commit per message, payloads pre-serialised to the same sizes. A second
   baseline inserts only the message row. Each side runs several rounds;
   medians are reported.
2. **History.** Latency of reading the latest 50 messages of one conversation
   in a database holding at least 100k messages: ``kit.messages.list(conv,
   limit=50)`` (query plus building 50 validated `Message` objects) against the
   raw ``SELECT data ... ORDER BY seq DESC LIMIT 50`` with ``fetchall()``.
   Samples are interleaved; p50 and p99 are reported.

The last line printed is one JSON object with the figures and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chatkit import AsyncChatKit, Author
from chatkit.events import MessageCreated
from chatkit.models import Contact, Conversation, Message
from chatkit.models._base import new_id
from chatkit.stores.base import Insert, Op, Update

TEXT = "Hi! My order 245-12784 is four days late, can you check where it is?"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sdk_ingest(db: Path, senders: int, per_sender: int) -> float:
    """Messages/s through the API with ``senders`` concurrent tasks."""
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        pairs = []
        for n in range(senders):
            contact = await kit.contacts.create(name=f"customer {n}")
            conv = await kit.conversations.create(contact_id=contact.id)
            pairs.append((contact.id, conv.id))

        async def sender(contact_id: str, conversation_id: str) -> None:
            author = Author.customer(contact_id)
            for _ in range(per_sender):
                await kit.messages.send(conversation_id, TEXT, author=author)

        started = time.perf_counter()
        await asyncio.gather(*(sender(c, v) for c, v in pairs))
        elapsed = time.perf_counter() - started
    return senders * per_sender / elapsed


def _payloads() -> tuple[str, str, str]:
    contact = Contact(id=new_id("ct"))
    conversation = Conversation(id=new_id("conv"), contact_id=contact.id)
    message = Message(
        id=new_id("msg"),
        conversation_id=conversation.id,
        seq=1,
        author=Author.customer(contact.id),
        text=TEXT,
    )
    event = MessageCreated(conversation_id=conversation.id, message=message)
    return message.model_dump_json(), event.model_dump_json(), conversation.model_dump_json()


async def _schema(db: Path) -> tuple[str, str]:
    """Create the SDK schema in ``db``; return a contact and a conversation id."""
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        contact = await kit.contacts.create(name="raw")
        conv = await kit.conversations.create(contact_id=contact.id)
        return contact.id, conv.id


def raw_ingest(db: Path, conversation_id: str, count: int, *, full: bool) -> float:
    """Messages/s with stdlib sqlite3, one commit per message."""
    message_json, event_json, conversation_json = _payloads()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    start_seq = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?", (conversation_id,)
    ).fetchone()[0]
    started = time.perf_counter()
    for n in range(1, count + 1):
        seq = start_seq + n
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO messages (id, version, conversation_id, seq, idempotency_key, data) "
            "VALUES (?, 1, ?, ?, NULL, ?)",
            (new_id("msg"), conversation_id, seq, message_json),
        )
        if full:
            conn.execute(
                "INSERT INTO events (id, type, conversation_id, data) VALUES (?, ?, ?, ?)",
                (new_id("evt"), "message.created", conversation_id, event_json),
            )
            conn.execute(
                "UPDATE conversations SET version = version + 1, activity_key = ?, data = ? "
                "WHERE id = ?",
                (f"{seq:012d}|{conversation_id}", conversation_json, conversation_id),
            )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


async def fill_history(kit: AsyncChatKit, total: int) -> str:
    """Write ``total`` messages over 1,000-message conversations; return one conversation id."""
    store = kit.store
    per_conversation = 1000
    target = ""
    for _ in range(max(1, total // per_conversation)):
        contact = Contact(id=new_id("ct"))
        conv = Conversation(id=new_id("conv"), contact_id=contact.id)
        author = Author.customer(contact.id)
        ops: list[Op] = [Insert(contact), Insert(conv)]
        ops += [
            Insert(
                Message(id=new_id("msg"), conversation_id=conv.id, seq=s, author=author, text=TEXT)
            )
            for s in range(1, per_conversation + 1)
        ]
        ops.append(Update(conv.model_copy(update={"last_seq": per_conversation, "version": 2})))
        await store.commit(ops)
        target = conv.id
    return target


async def history(db: Path, total: int, samples: int) -> dict[str, float]:
    """p50/p99 of the API history read against the raw SELECT, interleaved."""
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        conversation_id = await fill_history(kit, total)
        raw = sqlite3.connect(db)
        sql = "SELECT data FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 50"
        count = raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        sdk_times: list[float] = []
        raw_times: list[float] = []
        for n in range(samples + 200):
            started = time.perf_counter()
            page = await kit.messages.list(conversation_id, limit=50)
            sdk = time.perf_counter() - started
            started = time.perf_counter()
            rows = raw.execute(sql, (conversation_id,)).fetchall()
            plain = time.perf_counter() - started
            assert len(page.items) == len(rows) == 50
            if n >= 200:  # warm-up
                sdk_times.append(sdk)
                raw_times.append(plain)
        raw.close()
    return {
        "messages_in_db": count,
        "history_sdk_p50_ms": _percentile(sdk_times, 0.50) * 1e3,
        "history_sdk_p99_ms": _percentile(sdk_times, 0.99) * 1e3,
        "history_raw_p50_ms": _percentile(raw_times, 0.50) * 1e3,
        "history_raw_p99_ms": _percentile(raw_times, 0.99) * 1e3,
    }


async def main(quick: bool) -> dict[str, object]:
    rounds = 3 if quick else 5
    senders = 8
    per_sender = 250 if quick else 1000
    raw_count = senders * per_sender
    total = 100_000 if quick else 300_000
    samples = 2000 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as tmp:
        root = Path(tmp)
        sdk_rates, raw_rates, raw_message_rates = [], [], []
        for n in range(rounds):
            sdk_rates.append(await sdk_ingest(root / f"sdk{n}.db", senders, per_sender))
            _, conv = await _schema(root / f"raw{n}.db")
            raw_rates.append(raw_ingest(root / f"raw{n}.db", conv, raw_count, full=True))
            _, conv = await _schema(root / f"rawm{n}.db")
            raw_message_rates.append(raw_ingest(root / f"rawm{n}.db", conv, raw_count, full=False))
            print(
                f"round {n + 1}: sdk {sdk_rates[-1]:.0f}/s, raw {raw_rates[-1]:.0f}/s, "
                f"raw message-only {raw_message_rates[-1]:.0f}/s",
                file=sys.stderr,
            )
        reads = await history(root / "history.db", total, samples)
    sdk = statistics.median(sdk_rates)
    raw = statistics.median(raw_rates)
    return {
        "benchmark": "ingest",
        "quick": quick,
        "senders": senders,
        "ingest_msgs_per_s": round(sdk),
        "raw_msgs_per_s": round(raw),
        "raw_message_only_msgs_per_s": round(statistics.median(raw_message_rates)),
        "ingest_ratio": round(sdk / raw, 3),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in reads.items()},
        "history_p99_ratio": round(reads["history_sdk_p99_ms"] / reads["history_raw_p99_ms"], 2),
        "history_p50_ratio": round(reads["history_sdk_p50_ms"] / reads["history_raw_p50_ms"], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick))))
