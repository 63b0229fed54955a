"""SQLite ingest throughput and history-read latency: the chatkit SDK against raw sqlite3.

Run ``python benchmarks/ingest.py --quick`` (well under a minute on 2 cores) or
without ``--quick`` for bigger counts. Everything runs in one process, on one
machine, into fresh database files in a temporary directory. Progress goes to
stderr; the last line on stdout is one JSON object with the figures.

1. **Ingest (messages/s).**

   - *SDK*: ``await kit.messages.send(conversation_id, text,
     author=Author.customer(contact_id))`` on ``AsyncChatKit("sqlite:///<dir>/bench.db")``
     (WAL, ``synchronous=NORMAL``, the defaults). ``senders`` asyncio tasks,
     each on its own conversation, each sending sequentially; every call
     returns only after its commit. Per message the SDK reads the
     conversation, then commits an UPDATE of the conversations row, an INSERT
     into messages and an INSERT into the events outbox. Rows written are
     checked after every round.
   - *Raw, three writes*: stdlib ``sqlite3``, single-threaded, on a file whose
     schema was created by the SDK store; the same connection PRAGMAs as the
     SDK's (``journal_mode=WAL``, ``synchronous=NORMAL``, ``foreign_keys=ON``,
     ``secure_delete=ON``). Per message, in one ``BEGIN IMMEDIATE ... COMMIT``:
     the same versioned ``UPDATE conversations`` (row count checked), ``INSERT
     INTO messages`` and ``INSERT INTO events`` statements the SDK issues, round
     robin over ``senders`` conversations. The JSON payloads are the ones the
     SDK wrote for its own messages in a warm-up run (same sizes), and ids and
     sort keys are generated before the clock starts, so the baseline is lean.
   - *Raw, message only* (for transparency): one ``INSERT INTO messages`` per
     transaction.

   - *SDK without understanding* (for transparency): the same with
     ``UnderstandingSettings(enabled=False)``; by default each customer
     message is also analysed (language, intent, entities, sentiment) in the
     same write, which the raw baseline does not do.

   Each variant runs ``rounds`` times on fresh files, in alternating order,
   after a short untimed warm-up; medians are reported. ``ingest_ratio`` is
   SDK ÷ raw three-write. Note that the SDK's concurrent senders share
   transactions (group commit), whereas the baseline commits once per
   message, as a single-threaded application would.

2. **History (latency of the latest 50 messages of one conversation).** A
   database of at least 100k messages (many 1,000-message conversations,
   built with the chatkit models and written through ``kit.store.commit`` in
   one transaction per conversation) is read with ``await
   kit.messages.list(conversation_id, limit=50)`` and with ``SELECT data FROM
   messages WHERE conversation_id=? ORDER BY seq DESC LIMIT 50`` +
   ``fetchall()`` on a separate raw connection. After a warm-up, samples
   alternate SDK/raw (and which goes first), timed with
   ``time.perf_counter``; p50 and p99 of each are reported.
   ``history_p50_ratio`` is SDK p50 ÷ raw p50 (the goal); ``history_p99_ratio``
   is kept for information (p99 swings by a factor of 2 between runs on a shared
   machine). Both sides return the same 50 rows (checked).

   For information, ``history_raw_decoded_p50_ms`` is the raw read followed
   by ``json.loads`` of the 50 rows (plain dicts, no models): the least any
   reader that hands out decoded records pays.

   The SQLite store keeps the records it decoded in a bounded cache keyed by
   the stored JSON text (``SQLiteStore.records``), so re-reading one live
   conversation, as an agent's console does and as the samples above do,
   mostly hits it (``history_cache_hit_rate``). **Cold reads** measure the
   other case: every sample reads another conversation (round robin over
   all of them) with the cache emptied just before (untimed), so every SDK
   record is decoded; samples alternate SDK/raw in the same way.
   ``history_cold_p50_ratio`` is their SDK p50 ÷ raw p50 (for information;
   the goal is the re-read figure).

Goals from the issue: ``ingest_ratio >= 0.5`` and ``history_p50_ratio <= 3``.
The figures are printed as measured, whether they meet the goals or not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatkit import AsyncChatKit, Author, ChatKitSettings, UnderstandingSettings
from chatkit.models import Contact, Conversation, Message
from chatkit.models._base import new_id
from chatkit.stores.base import Insert, Op, Update
from chatkit.stores.sqlite import SQLiteStore

TEXT = "Hi! My order 245-12784 is four days late, could you check where it is, please?"
HISTORY_PAGE = 50


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    quick: bool
    senders: int
    per_sender: int
    rounds: int
    warmup_per_sender: int
    history_messages: int
    per_conversation: int
    history_samples: int
    history_warmup: int
    cold_samples: int

    @classmethod
    def make(cls, quick: bool, senders: int) -> Config:
        """The quick (under a minute on 2 cores) or the full configuration."""
        return cls(
            quick=quick,
            senders=senders,
            per_sender=400 if quick else 3000,
            rounds=3 if quick else 7,
            warmup_per_sender=25 if quick else 50,
            history_messages=100_000 if quick else 300_000,
            per_conversation=1000,
            history_samples=3000 if quick else 10_000,
            history_warmup=300 if quick else 1000,
            cold_samples=1000 if quick else 5000,
        )


@dataclass(frozen=True)
class Payloads:
    """The JSON the SDK stored for one message, used by the raw baseline."""

    message: str
    event: str
    conversation: str
    event_type: str


def log(text: str) -> None:
    """A progress line on stderr (stdout carries only the JSON result)."""
    print(text, file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in (0, 1]."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def raw_connect(db: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the PRAGMAs the SDK's connections use."""
    conn = sqlite3.connect(db, isolation_level=None)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


# -- ingest: SDK ---------------------------------------------------------------


async def sdk_ingest(db: Path, cfg: Config, *, understanding: bool = True) -> float:
    """Messages/s through ``kit.messages.send`` with ``cfg.senders`` concurrent tasks.

    With ``understanding=False`` the kit skips the analysis of each customer
    message (`UnderstandingSettings.enabled`), which is otherwise part of
    the write (intent, entities and sentiment go on the message).
    """
    settings = ChatKitSettings(understanding=UnderstandingSettings(enabled=understanding))
    async with AsyncChatKit(f"sqlite:///{db}", settings=settings) as kit:
        assert isinstance(kit.store, SQLiteStore), kit.store
        assert kit.store.synchronous == "NORMAL", kit.store.synchronous
        pairs: list[tuple[str, str]] = []
        for n in range(cfg.senders):
            contact = await kit.contacts.create(name=f"Customer {n}")
            conversation = await kit.conversations.create(contact_id=contact.id)
            pairs.append((contact.id, conversation.id))

        async def sender(contact_id: str, conversation_id: str, count: int) -> None:
            author = Author.customer(contact_id)
            for _ in range(count):
                await kit.messages.send(conversation_id, TEXT, author=author)

        await asyncio.gather(*(sender(c, v, cfg.warmup_per_sender) for c, v in pairs))
        gc.collect()
        started = time.perf_counter()
        await asyncio.gather(*(sender(c, v, cfg.per_sender) for c, v in pairs))
        elapsed = time.perf_counter() - started
    check_rows(db, cfg.senders * (cfg.warmup_per_sender + cfg.per_sender), events=True)
    return cfg.senders * cfg.per_sender / elapsed


def check_rows(db: Path, messages: int, *, events: bool) -> None:
    """Check a finished ingest run wrote what it should have."""
    conn = sqlite3.connect(db)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal", (db, mode)
        found = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        assert found == messages, (db, found, messages)
        if events:
            created = conn.execute(
                "SELECT COUNT(*) FROM events WHERE type = 'message.created'"
            ).fetchone()[0]
            assert created == messages, (db, created, messages)
            last = conn.execute("SELECT SUM(json_extract(data, '$.last_seq')) FROM conversations")
            assert last.fetchone()[0] == messages, db
    finally:
        conn.close()


def sdk_payloads(db: Path) -> tuple[Payloads, dict[str, float]]:
    """The newest message, event and conversation JSON the SDK wrote, and average sizes."""
    conn = sqlite3.connect(db)
    try:
        message = conn.execute("SELECT data FROM messages ORDER BY rowid DESC").fetchone()[0]
        event_type, event = conn.execute(
            "SELECT type, data FROM events WHERE type = 'message.created' ORDER BY position DESC"
        ).fetchone()
        conversation_id = json.loads(message)["conversation_id"]
        conversation = conn.execute(
            "SELECT data FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()[0]
        sizes = {
            "messages": conn.execute("SELECT AVG(LENGTH(data)) FROM messages").fetchone()[0],
            "events": conn.execute(
                "SELECT AVG(LENGTH(data)) FROM events WHERE type = 'message.created'"
            ).fetchone()[0],
            "conversations": len(conversation),
        }
    finally:
        conn.close()
    return Payloads(message, event, conversation, event_type), sizes


# -- ingest: raw sqlite3 -------------------------------------------------------


async def create_schema(db: Path, conversations: int) -> list[tuple[str, str, str]]:
    """Create the SDK schema with an SDK store; return (conversation, contact, status) rows."""
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        made = []
        for n in range(conversations):
            contact = await kit.contacts.create(name=f"Customer {n}")
            conversation = await kit.conversations.create(contact_id=contact.id)
            made.append((conversation.id, contact.id, conversation.status.value))
        return made


@dataclass
class RawPlan:
    """Statement parameters for every raw message, computed before timing."""

    updates: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


def raw_plan(
    conversations: list[tuple[str, str, str]], count: int, start: int, p: Payloads
) -> RawPlan:
    """Parameters for ``count`` messages, round robin over ``conversations``.

    ``start`` is how many messages each conversation already holds (warm-up).
    """
    updates, messages, events = [], [], []
    for n in range(count):
        conversation_id, contact_id, status = conversations[n % len(conversations)]
        seq = start + n // len(conversations) + 1
        version = seq + 1  # version 1 was the creation
        micros = n + start * len(conversations)
        activity = (
            f"2030-01-01T{micros // 3_600_000_000 % 24:02d}:{micros // 60_000_000 % 60:02d}:"
            f"{micros // 1_000_000 % 60:02d}.{micros % 1_000_000:06d}Z|{conversation_id}"
        )
        # Columns in the order of the SDK's UPDATE: version, contact_id, status,
        # assignee_id, activity_key, data; then id and the expected old version.
        updates.append(
            (version, contact_id, status, None, activity, p.conversation, conversation_id, seq)
        )
        messages.append((new_id("msg"), 1, conversation_id, seq, None, p.message))
        events.append((new_id("evt"), p.event_type, conversation_id, p.event))
    return RawPlan(updates, messages, events)


UPDATE_CONVERSATION = (
    "UPDATE conversations SET version = ?, contact_id = ?, status = ?, assignee_id = ?, "
    "activity_key = ?, data = ? WHERE id = ? AND version = ?"
)
INSERT_MESSAGE = (
    "INSERT INTO messages (id, version, conversation_id, seq, idempotency_key, data) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_EVENT = "INSERT INTO events (id, type, conversation_id, data) VALUES (?, ?, ?, ?)"


def raw_write(conn: sqlite3.Connection, plan: RawPlan, *, full: bool) -> None:
    """Write every planned message, one transaction (and commit) each."""
    execute = conn.execute
    if full:
        for update, message, event in zip(plan.updates, plan.messages, plan.events, strict=True):
            execute("BEGIN IMMEDIATE")
            if execute(UPDATE_CONVERSATION, update).rowcount != 1:
                raise RuntimeError(f"conversation {update[6]} is not at version {update[7]}")
            execute(INSERT_MESSAGE, message)
            execute(INSERT_EVENT, event)
            execute("COMMIT")
    else:
        for message in plan.messages:
            execute("BEGIN IMMEDIATE")
            execute(INSERT_MESSAGE, message)
            execute("COMMIT")


async def raw_ingest(db: Path, cfg: Config, payloads: Payloads, *, full: bool) -> float:
    """Messages/s with stdlib sqlite3, single-threaded, one commit per message."""
    conversations = await create_schema(db, cfg.senders)
    warm = raw_plan(conversations, cfg.senders * cfg.warmup_per_sender, 0, payloads)
    count = cfg.senders * cfg.per_sender
    plan = raw_plan(conversations, count, cfg.warmup_per_sender, payloads)
    conn = raw_connect(db)
    try:
        raw_write(conn, warm, full=full)
        gc.collect()
        started = time.perf_counter()
        raw_write(conn, plan, full=full)
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    check_rows(db, cfg.senders * (cfg.warmup_per_sender + cfg.per_sender), events=False)
    return count / elapsed


# -- history -------------------------------------------------------------------


async def fill_history(kit: AsyncChatKit, total: int, per_conversation: int) -> list[str]:
    """Write ``total`` messages in ``per_conversation``-message conversations; return their ids.

    One ``store.commit`` per conversation: contact, conversation, its
    messages and the conversation's final version. No events (not needed
    for history reads, and it keeps populating fast).
    """
    store = kit.store
    ids = []
    for _ in range(max(1, math.ceil(total / per_conversation))):
        contact = Contact(id=new_id("ct"), name="History customer")
        conversation = Conversation(id=new_id("conv"), contact_id=contact.id)
        author = Author.customer(contact.id)
        ops: list[Op] = [Insert(contact), Insert(conversation)]
        ops += [
            Insert(
                Message(
                    id=new_id("msg"),
                    conversation_id=conversation.id,
                    seq=seq,
                    author=author,
                    text=TEXT,
                )
            )
            for seq in range(1, per_conversation + 1)
        ]
        last = ops[-1]
        assert isinstance(last, Insert)
        ops.append(
            Update(
                conversation.model_copy(
                    update={
                        "last_seq": per_conversation,
                        "last_message_at": last.record.created_at,
                        "channels": [conversation.channel],
                        "version": 2,
                    }
                )
            )
        )
        await store.commit(ops)
        ids.append(conversation.id)
    return ids


async def history(db: Path, cfg: Config) -> dict[str, Any]:
    """p50/p99 of ``kit.messages.list`` against the raw SELECT, interleaved."""
    sql = "SELECT data FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?"
    async with AsyncChatKit(f"sqlite:///{db}") as kit:
        started = time.perf_counter()
        ids = await fill_history(kit, cfg.history_messages, cfg.per_conversation)
        fill_s = time.perf_counter() - started
        conversation_id = ids[len(ids) // 2]
        raw = sqlite3.connect(db, isolation_level=None)
        count = raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        log(f"history: {count} messages in {len(ids)} conversations, filled in {fill_s:.1f}s")
        params = (conversation_id, HISTORY_PAGE)
        page = await kit.messages.list(conversation_id, limit=HISTORY_PAGE)
        rows = raw.execute(sql, params).fetchall()
        assert [m.id for m in reversed(page.items)] == [json.loads(r[0])["id"] for r in rows]
        assert len(rows) == HISTORY_PAGE
        list_messages = kit.messages.list
        sdk_ms: list[float] = []
        raw_ms: list[float] = []
        decoded_ms: list[float] = []
        loads = json.loads
        clock = time.perf_counter
        gc.collect()
        for n in range(cfg.history_warmup + cfg.history_samples):
            if n % 2:
                t0 = clock()
                rows = raw.execute(sql, params).fetchall()
                t1 = clock()
                page = await list_messages(conversation_id, limit=HISTORY_PAGE)
                t2 = clock()
                raw_t, sdk_t = t1 - t0, t2 - t1
            else:
                t0 = clock()
                page = await list_messages(conversation_id, limit=HISTORY_PAGE)
                t1 = clock()
                rows = raw.execute(sql, params).fetchall()
                t2 = clock()
                sdk_t, raw_t = t1 - t0, t2 - t1
            t0 = clock()
            decoded = [loads(row[0]) for row in raw.execute(sql, params).fetchall()]
            decoded_t = clock() - t0
            if n >= cfg.history_warmup:
                sdk_ms.append(sdk_t * 1e3)
                raw_ms.append(raw_t * 1e3)
                decoded_ms.append(decoded_t * 1e3)
        assert len(page.items) == len(rows) == len(decoded) == HISTORY_PAGE
        store = kit.store
        assert isinstance(store, SQLiteStore), store
        cache = store.records
        hit_rate = cache.hits / max(1, cache.hits + cache.misses)
        cold_sdk, cold_raw = await cold_history(kit, raw, sql, ids, cfg)
        raw.close()
    return {
        "messages_in_db": count,
        "history_conversations": len(ids),
        "history_fill_s": round(fill_s, 2),
        "history_samples": len(sdk_ms),
        "history_sdk_p50_ms": percentile(sdk_ms, 0.50),
        "history_sdk_p99_ms": percentile(sdk_ms, 0.99),
        "history_raw_p50_ms": percentile(raw_ms, 0.50),
        "history_raw_p99_ms": percentile(raw_ms, 0.99),
        "history_raw_decoded_p50_ms": percentile(decoded_ms, 0.50),
        "history_cache_hit_rate": round(hit_rate, 4),
        "history_cold_samples": len(cold_sdk),
        "history_cold_sdk_p50_ms": percentile(cold_sdk, 0.50),
        "history_cold_sdk_p99_ms": percentile(cold_sdk, 0.99),
        "history_cold_raw_p50_ms": percentile(cold_raw, 0.50),
        "history_cold_raw_p99_ms": percentile(cold_raw, 0.99),
    }


async def cold_history(
    kit: AsyncChatKit, raw: sqlite3.Connection, sql: str, ids: list[str], cfg: Config
) -> tuple[list[float], list[float]]:
    """SDK and raw latencies (ms) of reads that miss the record cache.

    Each sample reads the next conversation (round robin) after emptying the
    store's record cache, untimed; SDK and raw alternate which goes first.
    """
    store = kit.store
    assert isinstance(store, SQLiteStore), store
    cache = store.records
    list_messages = kit.messages.list
    clock = time.perf_counter
    sdk_ms: list[float] = []
    raw_ms: list[float] = []
    warmup = cfg.history_warmup // 3
    gc.collect()
    for n in range(warmup + cfg.cold_samples):
        conversation_id = ids[n % len(ids)]
        params = (conversation_id, HISTORY_PAGE)
        cache.clear()
        misses = cache.misses
        if n % 2:
            t0 = clock()
            rows = raw.execute(sql, params).fetchall()
            t1 = clock()
            page = await list_messages(conversation_id, limit=HISTORY_PAGE)
            t2 = clock()
            raw_t, sdk_t = t1 - t0, t2 - t1
        else:
            t0 = clock()
            page = await list_messages(conversation_id, limit=HISTORY_PAGE)
            t1 = clock()
            rows = raw.execute(sql, params).fetchall()
            t2 = clock()
            sdk_t, raw_t = t1 - t0, t2 - t1
        assert cache.misses - misses == HISTORY_PAGE + 1  # every record decoded (limit + 1)
        assert page.items[-1].id == json.loads(rows[0][0])["id"]
        if n >= warmup:
            sdk_ms.append(sdk_t * 1e3)
            raw_ms.append(raw_t * 1e3)
    return sdk_ms, raw_ms


# -- driver --------------------------------------------------------------------


async def run(cfg: Config, root: Path) -> dict[str, Any]:
    """Every measurement; the result dictionary."""
    # An untimed SDK run supplies the raw baseline's payloads (and warms up imports).
    warm = dataclasses.replace(cfg, per_sender=20, warmup_per_sender=5)
    (root / "warmup").mkdir()
    await sdk_ingest(root / "warmup" / "bench.db", warm)
    payloads, sdk_sizes = sdk_payloads(root / "warmup" / "bench.db")
    log(f"payload bytes (SDK-written averages): {json.dumps(sdk_sizes)}")

    rates: dict[str, list[float]] = {
        "sdk": [],
        "sdk_without_understanding": [],
        "raw": [],
        "raw_message_only": [],
    }
    for n in range(cfg.rounds):
        order = ["sdk", "sdk_without_understanding", "raw", "raw_message_only"]
        if n % 2:
            order.reverse()
        for name in order:
            folder = root / f"{name}-{n}"
            folder.mkdir()
            db = folder / "bench.db"
            if name.startswith("sdk"):
                rate = await sdk_ingest(db, cfg, understanding=name == "sdk")
            else:
                rate = await raw_ingest(db, cfg, payloads, full=name == "raw")
            rates[name].append(rate)
        log(
            f"ingest round {n + 1}/{cfg.rounds}: sdk {rates['sdk'][-1]:,.0f}/s "
            f"({rates['sdk_without_understanding'][-1]:,.0f}/s without understanding), "
            f"raw {rates['raw'][-1]:,.0f}/s, "
            f"raw message-only {rates['raw_message_only'][-1]:,.0f}/s"
        )
    (root / "history").mkdir()
    reads = await history(root / "history" / "bench.db", cfg)
    log(
        f"history p50/p99: sdk {reads['history_sdk_p50_ms']:.3f}/{reads['history_sdk_p99_ms']:.3f}"
        f" ms, raw {reads['history_raw_p50_ms']:.3f}/{reads['history_raw_p99_ms']:.3f} ms"
    )
    log(
        f"cold history p50/p99: sdk {reads['history_cold_sdk_p50_ms']:.3f}/"
        f"{reads['history_cold_sdk_p99_ms']:.3f} ms, raw {reads['history_cold_raw_p50_ms']:.3f}/"
        f"{reads['history_cold_raw_p99_ms']:.3f} ms"
    )
    sdk = statistics.median(rates["sdk"])
    bare = statistics.median(rates["sdk_without_understanding"])
    raw = statistics.median(rates["raw"])
    return {
        "benchmark": "ingest",
        "quick": cfg.quick,
        "senders": cfg.senders,
        "messages_per_round": cfg.senders * cfg.per_sender,
        "rounds": cfg.rounds,
        "ingest_msgs_per_s": round(sdk),
        "raw_msgs_per_s": round(raw),
        "raw_message_only_msgs_per_s": round(statistics.median(rates["raw_message_only"])),
        "ingest_ratio": round(sdk / raw, 3),
        "ingest_without_understanding_msgs_per_s": round(bare),
        "ingest_without_understanding_ratio": round(bare / raw, 3),
        "ingest_rounds_msgs_per_s": {k: [round(r) for r in v] for k, v in rates.items()},
        "payload_bytes": {k: round(v) for k, v in sdk_sizes.items()},
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in reads.items()},
        "history_p50_ratio": round(reads["history_sdk_p50_ms"] / reads["history_raw_p50_ms"], 2),
        "history_p99_ratio": round(reads["history_sdk_p99_ms"] / reads["history_raw_p99_ms"], 2),
        "history_cold_p50_ratio": round(
            reads["history_cold_sdk_p50_ms"] / reads["history_cold_raw_p50_ms"], 2
        ),
        "history_cold_p99_ratio": round(
            reads["history_cold_sdk_p99_ms"] / reads["history_cold_raw_p99_ms"], 2
        ),
        "ingest_goal_met": sdk / raw >= 0.5,
        "history_goal_met": reads["history_sdk_p50_ms"] / reads["history_raw_p50_ms"] <= 3,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
    }


def main() -> None:
    """Parse arguments, run, print the JSON line last."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    parser.add_argument("--senders", type=int, default=8, help="concurrent sending tasks")
    args = parser.parse_args()
    cfg = Config.make(args.quick, args.senders)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as tmp:
        result = asyncio.run(run(cfg, Path(tmp)))
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
