"""The ``chatkit`` command: demo, migrations, events, purges, agents, websites, the web
server, webhooks, reports, integrations, sync, emulators.

This module holds the app and its entry point (`main`); the command groups live
in ``chatkit._cli`` (one module each) and are registered here.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from . import __version__
from ._cli.agents import agents_app
from ._cli.core import CliGroup, StoreUrl
from ._cli.emulate import EMULATE_SETTINGS, EmulateCommand, emulate
from ._cli.events import dispatch_status, events
from ._cli.integrations import integrations_app
from ._cli.output import console
from ._cli.output import run as _run
from ._cli.purge import purge
from ._cli.reports import report_app
from ._cli.sync import sync_app
from ._cli.web import serve, websites_app
from ._cli.webhooks import webhooks_app
from ._cli.worker import worker as _worker
from ._facade import AsyncChatKit
from .automation import AutoReplySettings, RuleSet
from .bots import Flow
from .models import Author, AuthorRole, Message, MessageKind
from .models._base import utcnow
from .settings import ChatKitSettings, default_url

__all__ = ["app", "main"]

app = typer.Typer(
    name="chatkit",
    help="chatkit: embeddable live-chat customer service.",
    no_args_is_help=True,
    add_completion=False,
    cls=CliGroup,
)

_ROLE_STYLE = {
    AuthorRole.CUSTOMER: "bold cyan",
    AuthorRole.AGENT: "bold green",
    AuthorRole.BOT: "magenta",
    AuthorRole.SYSTEM: "dim",
}


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _show(message: Message, names: dict[str, str]) -> None:
    who = names.get(message.author.id or "", message.author.role.value)
    stamp = message.created_at.strftime("%H:%M:%S")
    style = _ROLE_STYLE[message.author.role]
    if message.kind is MessageKind.NOTE:
        console.print(f"[dim]{stamp}[/]  [yellow]🔒 private note by {who}:[/] {message.text}")
    else:
        channel = f"[dim]via {message.channel.value}[/]"
        console.print(f"[dim]{stamp}[/]  [{style}]{who}[/] {channel}: {message.text}")
    for item in message.attachments:
        size = f", {item.width}x{item.height}" if item.width and item.height else ""
        console.print(f"           📎 {item.name} ({item.mime_type}{size}, {item.size} bytes)")


def _step(text: str) -> None:
    console.print(f"           [italic dim]— {text}[/]")


def _receipt_png() -> bytes:
    """A tiny valid PNG (2x1 pixels) standing in for a customer's photo."""
    raw = b"\x00\xff\x00\x00\x00\xff\x00"
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


_DEMO_FLOW: dict[str, Any] = {
    "name": "late-order",
    "start": "ask_order",
    "handoff": {"team": "orders", "topic": "orders", "priority": "high"},
    "steps": [
        {
            "id": "ask_order",
            "type": "ask",
            "field": "order_number",
            "validate": "order_number",
            "question": {
                "en": "Sorry about that! What is your order number? It looks like 245-12784."
            },
            "next": "answer",
        },
        {"id": "answer", "type": "answer", "threshold": 0.3, "next": "to_person"},
        {"id": "to_person", "type": "handoff"},
    ],
}
"""The demo bot's flow, as data: the plain install has no YAML reader (``chatkit[yaml]``)."""

_DEMO_RULES = [
    {
        "name": "late order",
        "on": "message.received",
        "when": {"intents": ["order_status"], "entities": ["order_number"]},
        "then": [
            {"type": "tag", "add": ["delivery", "late-order"]},
            {"type": "set_priority", "priority": "high"},
        ],
    }
]


def _understood(message: Message) -> None:
    found = message.analysis
    if found is None:
        return
    entities = ", ".join(f"{e.type} {e.value}" for e in found.entities) or "no entities"
    _step(
        f"understood ({found.language}): intent {found.intent} ({found.confidence:.2f}), "
        f"{entities}; sentiment {found.sentiment_label} ({found.sentiment:+.2f})"
    )


async def _demo(url: str, export_dir: Path) -> None:
    settings = ChatKitSettings(
        auto_replies=AutoReplySettings(enabled=True),
        automation_rules=RuleSet.from_list(_DEMO_RULES),
    )
    async with AsyncChatKit(url, settings=settings) as kit:
        await kit.teams.create("orders", categories=["orders", "refunds"])
        mia = await kit.agents.create(
            name="Mia (support)",
            email="mia@example.com",
            skills=["orders", "billing"],
            languages=["en", "tr"],
            teams=["orders"],
            max_concurrent_chats=2,
        )
        jin = await kit.agents.create(
            name="Jin (support)", skills=["refunds"], languages=["ko"], teams=["orders"]
        )
        await kit.agents.set_presence(mia.id, "available")
        await kit.agents.set_presence(jin.id, "away")
        await kit.canned.create(
            "/late-order",
            "Late order",
            "Hi {{ contact.first_name }}, I'm sorry order {{ order.number }} is late. "
            "Checking it with the carrier now.",
            intents=["order_status"],
        )
        inbound = await kit.messages.receive(
            channel="web",
            sender="visitor-7f3a",
            name="Ada Lovelace",
            text="Hi! I ordered on August 1st and order 245-12784 is 4 days late. Where is it?",
        )
        ada, conv = inbound.contact, inbound.conversation
        names = {ada.id: "Ada", mia.id: "Mia", "bot": "chatkit bot"}
        console.rule(f"[bold]Conversation {conv.id}")
        _show(inbound.message, names)
        _understood(inbound.message)
        if inbound.acknowledgement is not None:
            _show(inbound.acknowledgement, names)
            _step("answered to the point, not with a generic greeting")
        await kit.automation.drain()
        tagged = await kit.conversations.get(conv.id)
        _step(
            f"rule 'late order': tagged {', '.join(tagged.tags)}; priority {tagged.priority.value}"
        )

        routed = await kit.routing.route(conv.id, topic="orders", language="en")
        assert routed.agent_id == mia.id
        _step("Mia joins the conversation (routed: team orders, skill orders, speaks en)")
        suggested = await kit.canned.suggest(intent=tagged.intent, language="en")
        _step(f"suggested to Mia for intent {tagged.intent}: {suggested[0].shortcut}")
        reply = await kit.canned.send(
            conv.id, "/late-order", agent_id=mia.id, context={"order": {"number": "245-12784"}}
        )
        _show(reply, names)
        receipt = await kit.attachments.upload(
            conv.id, _receipt_png(), name="receipt.png", author=Author.customer(ada.id)
        )
        photo = await kit.messages.send(
            conv.id,
            "Here is my receipt.",
            author=Author.customer(ada.id),
            attachments=[receipt.id],
        )
        _show(photo, names)
        note = await kit.messages.note(
            conv.id, "Carrier lost the parcel; ops approved a free reshipment.", agent_id=mia.id
        )
        _show(note, names)

        await kit.contacts.add_identity(ada.id, ("phone", "+44 20 7946 0000"))
        sms = await kit.messages.receive(
            channel="sms",
            sender="+442079460000",
            text="Stepping out, can you text me the new tracking number?",
        )
        _show(sms.message, names)
        _step("same contact, same conversation: it continues over SMS")
        answer = await kit.messages.send(
            conv.id,
            "Done: a replacement ships today, tracking number RN-88213 is on its way to you.",
            author=Author.agent(mia.id),
            channel="sms",
        )
        _show(answer, names)
        resolved = await kit.conversations.resolve(conv.id)
        _step(f"conversation {resolved.status.value}")
        survey = await kit.surveys.send(conv.id)
        _step(f"satisfaction survey posted in the chat ({len(survey.form.questions)} questions)")
        answered = await kit.surveys.answer(
            survey.id,
            {"overall": 2, "time_to_resolve": 1, "agent_helped": "agree", "use_again": 3},
            comment="Mia was kind, but four days is far too long.",
        )
        follow_up = await kit.tickets.get(answered.follow_up_ticket_id or "")
        _step(
            f"Ada rates it {answered.score:.0%}: low, so a follow-up lands with a supervisor: "
            f"'{follow_up.subject.strip()}' ({follow_up.priority.value}, transcript attached)"
        )

        console.rule("[bold]Meanwhile, an angry customer")
        angry = await kit.messages.receive(
            channel="web",
            sender="visitor-5d10",
            name="Sam",
            text="Nobody answered my e-mails for two days and your team is terrible!",
        )
        names[angry.contact.id] = "Sam"
        _show(angry.message, names)
        _understood(angry.message)
        if angry.acknowledgement is not None:
            _show(angry.acknowledgement, names)
        raised = await kit.conversations.get(angry.conversation.id)
        _step(f"no cheerful template: an apology, and priority raised to {raised.priority.value}")

        console.rule("[bold]Meanwhile, another customer")
        other = await kit.messages.receive(
            channel="web", sender="visitor-91c2", name="Min-jun", text="환불은 언제 되나요?"
        )
        names[other.contact.id] = "Min-jun"
        _show(other.message, names)
        if other.acknowledgement is not None:
            _show(other.acknowledgement, names)
        waiting = await kit.routing.route(other.conversation.id, topic="refunds", language="ko")
        latest = (await kit.messages.list(other.conversation.id)).items[-1]
        _show(latest, names)
        wait = max(1, round((waiting.expected_wait or timedelta()).total_seconds() / 60))
        _step(
            f"queued: nobody available speaks Korean and handles refunds; "
            f"number {waiting.position} in line, about {wait} minutes"
        )

        console.rule("[bold]At 3 a.m.: the bot answers from the knowledge base")
        await kit.kb.create(
            "My order is late",
            "Most late orders arrive within two days of the estimated delivery date. "
            "Track yours with the link in your confirmation e-mail.",
            published=True,
        )
        await kit.kb.create(
            "Returns and refunds", "Send items back within 30 days.", published=True
        )
        # Lee is signed in on the site (verified=True): their messages are one conversation.
        night = await kit.messages.receive(
            channel="web",
            sender="visitor-0300",
            name="Lee",
            text="My order is late again!",
            verified=True,
        )
        names[night.contact.id] = "Lee"
        await kit.bots.start(night.conversation.id, Flow.from_dict(_DEMO_FLOW))
        for text in ("It's 245-13001", "No. I want to talk to a human."):
            await kit.messages.receive(
                channel="web", sender="visitor-0300", text=text, verified=True
            )
        for message in (await kit.messages.list(night.conversation.id)).items:
            if message.kind is not MessageKind.NOTE and not message.metadata.get("auto_reply"):
                _show(message, names)
        state = await kit.bots.state(night.conversation.id)
        if state is not None and state.summary is not None:
            _step("handed over; the agent's summary (a private note):")
            for line in state.summary.text().splitlines():
                console.print(f"             [dim]{line}[/]", markup=True, highlight=False)

        ticket = await kit.tickets.create(
            conversation_id=conv.id,
            subject="Reship order 245-12784 and confirm delivery",
            priority="high",
            owner_id=mia.id,
            due_at=utcnow() + timedelta(days=2),
            note="Check delivery with the customer in 2 days.",
        )
        console.rule("[bold]Ticket")
        console.print(
            f"{ticket.id}  [bold]{ticket.subject}[/]  priority={ticket.priority.value}  "
            f"owner=Mia  due={ticket.due_at:%Y-%m-%d %H:%M} UTC  status={ticket.status.value}"
        )

        context = await kit.conversations.context(conv.id)
        console.rule("[bold]What the next agent sees")
        summary = Table(show_header=False, box=None)
        summary.add_row("customer", f"{context.contact.name} ({context.contact.id})")
        summary.add_row(
            "identities",
            ", ".join(
                f"{i.kind.value}:{i.value}{'' if i.verified else ' (unverified)'}"
                for i in context.contact.identities
            ),
        )
        summary.add_row("channels", ", ".join(c.value for c in context.conversation.channels))
        summary.add_row("messages", str(len(context.history)))
        summary.add_row("private notes", str(len(context.notes)))
        summary.add_row("tags", ", ".join(context.conversation.tags))
        summary.add_row("open tickets", ", ".join(t.subject for t in context.open_tickets))
        console.print(summary)

        events = (await kit.events.list(limit=1000)).items
        counts = Counter(e.type for e in events)
        console.rule(f"[bold]{len(events)} events in the outbox")
        console.print(", ".join(f"{t} x{n}" for t, n in sorted(counts.items())))

        console.rule("[bold]Transcript (Europe/London)")
        text = await kit.transcripts.render(conv.id, format="text", time_zone="Europe/London")
        console.print(text, markup=False, highlight=False)
        html_path = await kit.transcripts.export(
            export_dir / "transcript.html",
            conversation_ids=[conv.id],
            format="html",
            include_notes=True,
            time_zone="Europe/London",
        )
        console.print(f"HTML transcript (with private notes) written to {html_path}")


@app.command()
def demo(
    db: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="SQLite file to write; a new temporary one by default."),
    ] = None,
) -> None:
    """Run a scripted support conversation on SQLite and print it."""
    if db is None:
        db = Path(tempfile.mkdtemp(prefix="chatkit-demo-")) / "demo.db"
    _run(_demo(_sqlite_url(db), db.parent))
    console.print(f"\n[dim]stored in {db}[/]")


@app.command()
def migrate(
    url: StoreUrl = None,
) -> None:
    """Create or upgrade a store's schema."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            version = getattr(kit.store, "schema_version", None)
            detail = f" (schema version {await version()})" if version is not None else ""
            console.print(f"{kit.store!r} is ready{detail}")

    _run(run())


app.command()(events)
app.command("dispatch-status")(dispatch_status)
app.command()(purge)
app.command(cls=EmulateCommand, context_settings=EMULATE_SETTINGS, no_args_is_help=True)(emulate)


app.command("worker")(_worker)
app.command("serve")(serve)


@app.command()
def version() -> None:
    """Print the chatkit version."""
    console.print(f"chatkit {__version__}")


app.add_typer(agents_app, name="agents")
app.add_typer(integrations_app, name="integrations")
app.add_typer(sync_app, name="sync")
app.add_typer(websites_app, name="websites")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(report_app, name="report")


def main() -> None:
    """Console-script entry point."""
    app()
