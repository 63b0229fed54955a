"""The chatkit command."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from chatkit import AsyncChatKit, Event, __version__
from chatkit.cli import app

runner = CliRunner()


def test_demo_runs_a_support_conversation_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = runner.invoke(app, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # undo rich's line wrapping
    for expected in (
        "Ada",
        "understood (en): intent order_status",
        "order_number 245-12784",
        "chatkit bot via web: Sorry your order 245-12784 is late — I'm checking its status now.",
        "rule 'late order': tagged delivery, late-order; priority high",
        "Mia joins the conversation (routed",
        "suggested to Mia for intent order_status: /late-order",
        "Mia via web: Hi Ada, I'm sorry order 245-12784 is late.",
        "chatkit bot via web: I'm really sorry about this.",
        "no cheerful template: an apology, and priority raised to high",
        "현재 대기 순번은 1번입니다",
        "number 1 in line",
        "private note",
        "satisfaction survey posted in the chat (4 questions)",
        "low, so a follow-up lands with a supervisor: 'Low satisfaction rating",
        "At 3 a.m.: the bot answers from the knowledge base",
        "chatkit bot via web: My order is late Most late orders arrive",
        "Bot handoff: the customer asked for a person ('human')",
        "Collected: order_number = 245-13001",
        "conversation resolved",
        "Reship order 245-12784",
        "web, sms",
        "web:visitor-7f3a (unverified), phone:+442079460000",
        "[attachment] receipt.png (image/png",
        "📎 receipt.png (image/png, 2x1, 72 bytes)",
        "Transcript (Europe/London)",
        f"HTML transcript (with private notes) written to {tmp_path / 'transcript.html'}",
    ):
        assert expected in out
    page = (tmp_path / "transcript.html").read_text()
    assert "Carrier lost the parcel" in page
    raw = sqlite3.connect(db)
    messages = raw.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    tickets = raw.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    raw.close()
    # Ada's seven and the survey; Sam's message and the apology; Min-jun's message,
    # reply and place in line; Lee's three, the bot's five and its note for the agent.
    assert messages == 22
    assert tickets == 2  # the reshipment, and the follow-up of Ada's low rating


def test_demo_defaults_to_a_temporary_file() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "stored in" in result.output


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    result = runner.invoke(app, ["migrate", "--url", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert "schema version" in result.output
    assert db.exists()


def test_migrate_reports_bad_urls() -> None:
    result = runner.invoke(app, ["migrate", "--url", "nosuch://x"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: can't load plugin chatkit.stores:nosuch:")
    assert len(result.stderr.splitlines()) == 1


def test_events_lists_the_outbox(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["events", "--url", f"sqlite:///{db}", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "agent.created" in result.output
    assert "--after 3" in result.output


def test_dispatch_status_shows_progress_and_lag(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    url = f"sqlite:///{db}"
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0

    async def handle_some() -> int:
        async def ignore(events: list[Event]) -> None:
            return None

        async with AsyncChatKit(url) as kit:
            await kit.events.dispatcher("hooks", ignore, batch_size=5).run_once()
            return await kit.store.last_position()

    newest = asyncio.run(handle_some())
    result = runner.invoke(app, ["dispatch-status", "hooks", "idle", "--url", url])
    assert result.exit_code == 0, result.output
    cells = [
        [cell for cell in line.split() if cell.isalnum()] for line in result.output.splitlines()
    ]
    rows = {row[0]: row[1:] for row in cells if row and row[0] in ("hooks", "idle")}
    # "hooks" handled its first batch (finished with the next lease, so still in flight).
    assert rows["hooks"] == ["5", "0", str(newest), "1", "0"]
    assert rows["idle"] == ["0", "0", str(newest), "0", "0"]


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_purge_dry_run_then_real_with_a_short_policy(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0
    url = f"sqlite:///{db}"
    dry = runner.invoke(app, ["purge", "--url", url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would purge: 0 conversations" in dry.output
    refused = runner.invoke(app, ["purge", "--url", url, "--default-days", "1"])
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        "error: retention periods under 31 days need allow_shorter=True (pass --allow-shorter)\n"
    )
    raw = sqlite3.connect(db)
    raw.execute("UPDATE tickets SET data = json_set(data, '$.status', 'closed'), status = 'closed'")
    raw.commit()
    raw.close()
    # A 1-day policy still keeps yesterday's chat: nothing is old enough yet.
    kept = runner.invoke(app, ["purge", "--url", url, "--default-days", "1", "--allow-shorter"])
    assert kept.exit_code == 0, kept.output
    assert "purged: 0 conversations" in kept.output
