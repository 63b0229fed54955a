"""Flat rows of the reporting facts, written as CSV or Parquet."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import anyio.to_thread

from .._optional import import_optional
from ..errors import InvalidInputError
from .facts import ConversationFact, Span

__all__ = ["CONVERSATION_COLUMNS", "REPLY_COLUMNS", "rows", "write_rows"]

Cell = str | int | float | bool | None

CONVERSATION_COLUMNS = (
    "conversation_id",
    "started_at",
    "day",
    "channel",
    "team",
    "assignee_id",
    "language",
    "tags",
    "priority",
    "status",
    "customer_messages",
    "agent_messages",
    "bot_messages",
    "bot",
    "handoff_reason",
    "first_response_s",
    "first_response_business_s",
    "queue_wait_s",
    "queue_wait_business_s",
    "abandoned",
    "handle_s",
    "handle_business_s",
    "resolutions",
    "reopens",
    "first_resolution_s",
    "first_resolution_business_s",
    "full_resolution_s",
    "full_resolution_business_s",
    "survey_answer",
    "survey_score",
    "sentiment_first",
    "sentiment_last",
    "intents",
)
"""Columns of a conversation export."""

REPLY_COLUMNS = (
    "message_id",
    "conversation_id",
    "at",
    "agent_id",
    "team",
    "channel",
    "wait_s",
    "wait_business_s",
)
"""Columns of a reply export."""


def _s(value: Span | None) -> tuple[float | None, float | None]:
    return (None, None) if value is None else (value.seconds, value.business_seconds)


def _sum(spans: Sequence[Span | None]) -> tuple[float | None, float | None]:
    items = [s for s in spans if s is not None]
    if not items:
        return None, None
    return sum(s.seconds for s in items), sum(s.business_seconds for s in items)


def rows(facts: Sequence[ConversationFact], kind: str) -> list[dict[str, Cell]]:
    """The flat rows of ``facts``: one per conversation or one per reply."""
    out: list[dict[str, Cell]] = []
    if kind == "replies":
        for f in facts:
            for r in f.replies:
                wait, wait_b = _s(r.wait)
                out.append(
                    {
                        "message_id": r.message_id,
                        "conversation_id": f.id,
                        "at": r.at.isoformat(),
                        "agent_id": r.agent_id,
                        "team": f.team,
                        "channel": f.channel,
                        "wait_s": wait,
                        "wait_business_s": wait_b,
                    }
                )
        return out
    for f in facts:
        frt, frt_b = _s(f.first_response)
        queue, queue_b = _sum([q.wait for q in f.queues])
        handle, handle_b = _sum([s.duration for s in f.segments])
        first, first_b = _s(f.first_resolution)
        full, full_b = _s(f.full_resolution)
        out.append(
            {
                "conversation_id": f.id,
                "started_at": f.started_at.isoformat(),
                "day": f.day,
                "channel": f.channel,
                "team": f.team,
                "assignee_id": f.assignee_id,
                "language": f.language,
                "tags": " ".join(f.tags),
                "priority": f.priority,
                "status": f.status,
                "customer_messages": f.customer_messages,
                "agent_messages": f.agent_messages,
                "bot_messages": f.bot_messages,
                "bot": f.bot,
                "handoff_reason": f.handoff_reason,
                "first_response_s": frt,
                "first_response_business_s": frt_b,
                "queue_wait_s": queue,
                "queue_wait_business_s": queue_b,
                "abandoned": any(q.outcome == "left" for q in f.queues),
                "handle_s": handle,
                "handle_business_s": handle_b,
                "resolutions": len(f.resolves),
                "reopens": f.reopens,
                "first_resolution_s": first,
                "first_resolution_business_s": first_b,
                "full_resolution_s": full,
                "full_resolution_business_s": full_b,
                "survey_answer": f.survey.answer if f.survey else None,
                "survey_score": f.survey.score if f.survey else None,
                "sentiment_first": f.sentiments[0] if f.sentiments else None,
                "sentiment_last": f.sentiments[-1] if f.sentiments else None,
                "intents": " ".join(f.intents),
            }
        )
    return out


def _write(path: Path, data: list[dict[str, Cell]], columns: Sequence[str], fmt: str) -> None:
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(data)
        return
    pa = import_optional("pyarrow", "Parquet exports of reports")
    pq = import_optional("pyarrow.parquet", "Parquet exports of reports")
    table = pa.Table.from_pylist(data, schema=None) if data else pa.table({c: [] for c in columns})
    pq.write_table(table, str(path))


async def write_rows(
    path: str | Path,
    facts: Sequence[ConversationFact],
    *,
    kind: Literal["conversations", "replies"] = "conversations",
    format: Literal["csv", "parquet"] | None = None,
) -> int:
    """Write ``facts`` as rows to ``path`` (format from the suffix unless given); how many rows."""
    if kind not in ("conversations", "replies"):
        raise InvalidInputError("kind takes conversations or replies", field="kind")
    target = Path(path)
    fmt = format or (
        "parquet"
        if target.suffix.lower() == ".parquet"
        else "csv"
        if target.suffix.lower() == ".csv"
        else None
    )
    if fmt not in ("csv", "parquet"):
        raise InvalidInputError(
            "the export format is csv or parquet (name the file .csv or .parquet)", field="format"
        )
    data = rows(facts, kind)
    columns = REPLY_COLUMNS if kind == "replies" else CONVERSATION_COLUMNS
    await anyio.to_thread.run_sync(_write, target, data, columns, fmt)
    return len(data)
