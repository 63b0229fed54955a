"""Reports: the morning report from the reporting projection against hand-written SQL.

Run ``python benchmarks/reports.py --quick`` (about a minute on 2 cores) or
without ``--quick`` for the full store (100,000 conversations, 1,000,000
messages). Everything runs in one process, on fresh SQLite files (the default
store) in a temporary directory. Progress goes to stderr; the last line on
stdout is one JSON object with the figures.

**The store.** Conversations spread over 90 days, each with its contact,
ten messages (customer and agent in turn), a queue, an assignment to one of
ten agents of three teams and a resolution, written with the chatkit models
through ``kit.store.commit`` together with the outbox events the services
write for them (50 conversations per transaction). The reporting projection
is then built by the ``reports`` dispatch group (``kit.reports.drain()``),
as a worker would (``projection_seconds``, for information).

1. **Morning report** (``report_ratio``, goal <= 0.5): every metric for the
   conversations started in the last 7 days, by team
   (``kit.reports.summary(start, end, group_by="team")``), against a
   baseline that computes only the first-response and first-resolution
   figures per team (count, median, mean) with hand-written SQL on a raw
   ``sqlite3`` connection over the raw tables: conversations started in the
   range (``json_extract`` of their creation time), their first agent text
   message (messages) and their first move to resolved (the events outbox),
   aggregated in Python. Both sides give the same medians (checked). Medians
   of alternating runs after a warm-up.
2. **Heatmap over 90 days** (``heatmap_ratio``): `Reports.heatmap` against
   ``SELECT strftime('%w'), strftime('%H'), count(*) ... GROUP BY`` over the
   conversations (UTC), same counts (checked).
3. **Ingest overhead** (``ingest_overhead``, goal <= 0.15): customer messages
   sent with ``kit.messages.send`` by concurrent senders into a fresh store,
   with and without a projection worker (the ``reports`` dispatcher in a
   process of its own, as ``chatkit worker`` runs it, polling every 50 ms)
   projecting them meanwhile on the same file; the wall time of the sends
   with it over the sends without it, minus one. Medians of alternating
   rounds. Every message is projected in the end (checked);
   ``projection_catch_up_seconds`` is how long after the last send the
   worker took to finish.

The figures are printed as measured, whether they meet the goals or not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatkit import AsyncChatKit, Author
from chatkit.events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationQueued,
    ConversationStatusChanged,
    MessageCreated,
)
from chatkit.models import Contact, Conversation, ConversationStatus, Message
from chatkit.models._base import new_id
from chatkit.stores.base import Insert, Op

TEAMS = ("billing", "orders", "tech")
CHANNELS = ("web", "web", "email", "whatsapp", "sms")
END = datetime(2026, 3, 9, 6, tzinfo=UTC)  # a Monday morning


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def build(kit: AsyncChatKit, conversations: int, per_conversation: int, seed: int) -> None:
    """Write the dataset through the store, with the events the services would write."""
    rng = random.Random(seed)
    agents: dict[str, list[str]] = defaultdict(list)
    for i in range(10):
        team = TEAMS[i % 3]
        agent = await kit.agents.create(name=f"agent {i}", teams=[team], max_concurrent_chats=4)
        agents[team].append(agent.id)
    for team in TEAMS:
        await kit.teams.create(team)
    store = kit.store
    ops: list[Op] = []
    events: list[Any] = []
    for n in range(conversations):
        start = END - timedelta(seconds=rng.uniform(0, 90 * 86400))
        # busier in the day: fold night starts into office hours half the time
        if start.hour < 7 and rng.random() < 0.6:
            start += timedelta(hours=9)
        team = rng.choice(TEAMS)
        agent = rng.choice(agents[team])
        channel = rng.choice(CHANNELS)
        contact = Contact(id=new_id("ct"), name=f"c{n}", created_at=start, updated_at=start)
        conv = Conversation(
            id=new_id("conv"),
            contact_id=contact.id,
            channel=channel,
            channels=[channel],
            team=team,
            created_at=start,
            updated_at=start,
        )
        evs: list[Any] = [
            ConversationCreated(
                conversation_id=conv.id, contact_id=contact.id, conversation=conv, occurred_at=start
            ),
            ConversationQueued(
                conversation_id=conv.id, team=team, topic=None, language=None, occurred_at=start
            ),
        ]
        t = start + timedelta(seconds=rng.expovariate(1 / 90))
        evs.append(
            ConversationAssigned(
                conversation_id=conv.id,
                assignee_id=agent,
                previous_assignee_id=None,
                team=team,
                previous_team=team,
                occurred_at=t,
            )
        )
        msgs = []
        clock = start
        for seq in range(1, per_conversation + 1):
            customer = seq % 2 == 1
            clock += timedelta(seconds=rng.expovariate(1 / (60 if customer else 150)))
            message = Message(
                id=new_id("msg"),
                conversation_id=conv.id,
                seq=seq,
                author=Author.customer(contact.id) if customer else Author.agent(agent),
                channel=channel,
                text="where is my order?" if customer else "Let me check.",
                created_at=clock,
                updated_at=clock,
            )
            msgs.append(message)
            evs.append(MessageCreated(conversation_id=conv.id, message=message, occurred_at=clock))
        clock += timedelta(seconds=rng.expovariate(1 / 300))
        evs.append(
            ConversationStatusChanged(
                conversation_id=conv.id,
                from_status=ConversationStatus.OPEN,
                to_status=ConversationStatus.RESOLVED,
                occurred_at=clock,
            )
        )
        final = conv.model_copy(
            update={
                "status": ConversationStatus.RESOLVED,
                "assignee_id": agent,
                "resolved_at": clock,
                "last_seq": per_conversation,
                "last_message_at": msgs[-1].created_at,
                "updated_at": clock,
            }
        )
        ops += [Insert(contact), Insert(final), *(Insert(m) for m in msgs)]
        events += evs
        if (n + 1) % 50 == 0 or n + 1 == conversations:
            await store.commit(ops, events)
            ops, events = [], []
        if (n + 1) % 5000 == 0:
            log(f"  {n + 1}/{conversations} conversations written")


def baseline_report(path: Path, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """First response and first resolution per team, by hand-written SQL on the raw tables."""
    fmt = "%Y-%m-%dT%H:%M:%S"
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            """
            WITH started AS (
                SELECT id, json_extract(data, '$.team') AS team,
                       json_extract(data, '$.created_at') AS created
                FROM conversations
                WHERE json_extract(data, '$.created_at') >= ?
                  AND json_extract(data, '$.created_at') < ?
            ),
            first_reply AS (
                SELECT m.conversation_id AS id, MIN(json_extract(m.data, '$.created_at')) AS at
                FROM messages m JOIN started s ON s.id = m.conversation_id
                WHERE json_extract(m.data, '$.author.role') = 'agent'
                  AND json_extract(m.data, '$.kind') = 'text'
                GROUP BY m.conversation_id
            ),
            first_resolve AS (
                SELECT e.conversation_id AS id, MIN(json_extract(e.data, '$.occurred_at')) AS at
                FROM events e JOIN started s ON s.id = e.conversation_id
                WHERE e.type = 'conversation.status_changed'
                  AND json_extract(e.data, '$.to_status') = 'resolved'
                GROUP BY e.conversation_id
            )
            SELECT s.team,
                   (julianday(fr.at) - julianday(s.created)) * 86400.0,
                   (julianday(rs.at) - julianday(s.created)) * 86400.0
            FROM started s
            LEFT JOIN first_reply fr ON fr.id = s.id
            LEFT JOIN first_resolve rs ON rs.id = s.id
            """,
            (start.strftime(fmt), end.strftime(fmt)),
        ).fetchall()
    finally:
        con.close()
    by_team: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"frt": [], "res": []})
    for team, frt, res in rows:
        if frt is not None:
            by_team[team]["frt"].append(frt)
        if res is not None:
            by_team[team]["res"].append(res)
    return {
        team: {
            "conversations": sum(1 for r in rows if r[0] == team),
            "frt_median": statistics.median(v["frt"]) if v["frt"] else None,
            "frt_mean": statistics.fmean(v["frt"]) if v["frt"] else None,
            "res_median": statistics.median(v["res"]) if v["res"] else None,
        }
        for team, v in by_team.items()
    }


def baseline_heatmap(path: Path, start: datetime, end: datetime) -> list[list[int]]:
    fmt = "%Y-%m-%dT%H:%M:%S"
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            """
            SELECT CAST(strftime('%w', substr(c, 1, 19)) AS INTEGER),
                   CAST(strftime('%H', substr(c, 1, 19)) AS INTEGER), COUNT(*)
            FROM (SELECT json_extract(data, '$.created_at') AS c FROM conversations)
            WHERE c >= ? AND c < ? GROUP BY 1, 2
            """,
            (start.strftime(fmt), end.strftime(fmt)),
        ).fetchall()
    finally:
        con.close()
    cells = [[0] * 24 for _ in range(7)]
    for sunday_first, hour, count in rows:
        cells[(sunday_first + 6) % 7][hour] = count
    return cells


async def alternate(
    a: Callable[[], Awaitable[object]], b: Callable[[], Awaitable[object]], runs: int
) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, run in alternating order after a warm-up."""
    await a()
    await b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(runs):
        for fn, sink in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            await fn()
            sink.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


async def project_until(url: str, stop: Path) -> None:
    """The projection worker of the ingest measurement (a process of its own, as in production)."""
    async with AsyncChatKit(url) as kit:
        dispatcher = kit.reports.dispatcher()
        while not stop.exists():  # noqa: ASYNC240 - a stat per 50 ms
            if not await dispatcher.run_once():
                await asyncio.sleep(0.05)
        await dispatcher.drain()
        await dispatcher.close()


async def ingest_round(
    path: Path, senders: int, per_sender: int, projected: bool
) -> tuple[float, float]:
    """Seconds to send every message, and (with the projection) until it caught up after."""
    url = f"sqlite:///{path}"
    async with AsyncChatKit(url) as kit:
        convs = []
        for i in range(senders):
            contact = await kit.contacts.create(name=f"s{i}")
            conv = await kit.conversations.create(contact_id=contact.id)
            convs.append((conv.id, contact.id))
        stop = path.with_suffix(".stop")
        worker = None
        if projected:
            await kit.reports.drain()  # the group exists and is at the end
            worker = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--project", url, str(stop)
            )
            await asyncio.sleep(1.0)  # let it start

        async def send(cid: str, contact: str) -> None:
            for k in range(per_sender):
                await kit.messages.send(cid, f"message {k}", author=Author.customer(contact))

        t0 = time.perf_counter()
        await asyncio.gather(*(send(c, ct) for c, ct in convs))
        elapsed = time.perf_counter() - t0
        lag = 0.0
        if worker is not None:
            stop.touch()
            await worker.wait()
            lag = time.perf_counter() - t0 - elapsed
            facts = await kit.reports.summary(days=1)
            assert facts.totals.load.messages_in == senders * per_sender, facts.totals.load
    return elapsed, lag


async def main(quick: bool) -> dict[str, Any]:
    conversations = 4000 if quick else 100_000
    per_conversation = 10
    runs = 5 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reports.db"
        result: dict[str, Any] = {
            "benchmark": "reports",
            "quick": quick,
            "conversations": conversations,
            "messages": conversations * per_conversation,
        }
        async with AsyncChatKit(f"sqlite:///{path}") as kit:
            log(f"writing {conversations} conversations ...")
            t0 = time.perf_counter()
            await build(kit, conversations, per_conversation, seed=7)
            result["build_seconds"] = round(time.perf_counter() - t0, 2)
            log("projecting (reports dispatch group) ...")
            t0 = time.perf_counter()
            dispatcher = kit.reports.dispatcher(batch_size=1000)
            await dispatcher.drain()
            await dispatcher.close()
            result["projection_seconds"] = round(time.perf_counter() - t0, 2)

            start = END - timedelta(days=7)
            report = await kit.reports.summary(start=start, end=END, group_by="team", now=END)
            expected = baseline_report(path, start, END)
            for group in report.groups:
                base = expected[group.key]
                assert group.metrics.conversations == base["conversations"], group.key
                assert abs((group.metrics.first_response.median or 0) - base["frt_median"]) < 1e-3
                assert abs((group.metrics.first_resolution.median or 0) - base["res_median"]) < 1e-3
            result["report_conversations"] = report.totals.conversations

            async def projected() -> object:
                return await kit.reports.summary(start=start, end=END, group_by="team", now=END)

            async def raw() -> object:
                return await asyncio.to_thread(baseline_report, path, start, END)

            log("morning report ...")
            t_report, t_base = await alternate(projected, raw, runs)
            result["report_seconds"] = round(t_report, 4)
            result["baseline_seconds"] = round(t_base, 4)
            result["report_ratio"] = round(t_report / t_base, 3)

            begin = END - timedelta(days=90)
            heat = await kit.reports.heatmap(start=begin, end=END)
            assert heat.cells == baseline_heatmap(path, begin, END)

            async def heat_projected() -> object:
                return await kit.reports.heatmap(start=begin, end=END)

            async def heat_raw() -> object:
                return await asyncio.to_thread(baseline_heatmap, path, begin, END)

            log("heatmap over 90 days ...")
            t_heat, t_heat_base = await alternate(heat_projected, heat_raw, max(3, runs // 2))
            result["heatmap_seconds"] = round(t_heat, 4)
            result["heatmap_baseline_seconds"] = round(t_heat_base, 4)
            result["heatmap_ratio"] = round(t_heat / t_heat_base, 3)

        log("ingest with and without the projection ...")
        senders, per_sender = (8, 150) if quick else (8, 600)
        rounds = 3 if quick else 5
        on: list[float] = []
        off: list[float] = []
        lags: list[float] = []
        for r in range(rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            for projected_flag in order:
                target = Path(tmp) / f"ingest-{r}-{int(projected_flag)}.db"
                elapsed, lag = await ingest_round(target, senders, per_sender, projected_flag)
                (on if projected_flag else off).append(elapsed)
                if projected_flag:
                    lags.append(lag)
        result["ingest_messages"] = senders * per_sender
        result["ingest_seconds_off"] = round(statistics.median(off), 3)
        result["ingest_seconds_on"] = round(statistics.median(on), 3)
        result["projection_catch_up_seconds"] = round(statistics.median(lags), 3)
        result["ingest_overhead"] = round(statistics.median(on) / statistics.median(off) - 1, 3)
        result["goals"] = {"report_ratio": 0.5, "ingest_overhead": 0.15}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller store, about a minute")
    parser.add_argument("--project", nargs=2, metavar=("URL", "STOPFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.project:
        asyncio.run(project_until(args.project[0], Path(args.project[1])))
    else:
        print(json.dumps(asyncio.run(main(args.quick))), flush=True)
