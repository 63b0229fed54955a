"""The ``chatkit`` command: a demo, migrations, events, purges, integrations, sync, emulators."""

from __future__ import annotations

import asyncio
import struct
import tempfile
import zlib
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from ._cli_worker import worker as _worker
from ._facade import AsyncChatKit
from .automation import AutoReplySettings, RuleSet
from .bots import Flow
from .errors import ChatKitError, ConfigurationError
from .integrations import integrations
from .models import Author, AuthorRole, Message, MessageKind, RetentionPolicy
from .models._base import utcnow
from .settings import ChatKitSettings, default_url
from .sync import SyncEngine, SyncReport

__all__ = ["app", "main"]

app = typer.Typer(
    name="chatkit",
    help="chatkit: embeddable live-chat customer service.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(highlight=False)

_ROLE_STYLE = {
    AuthorRole.CUSTOMER: "bold cyan",
    AuthorRole.AGENT: "bold green",
    AuthorRole.BOT: "magenta",
    AuthorRole.SYSTEM: "dim",
}


StoreUrl = Annotated[
    str | None, typer.Option(help="Store URL; default $CHATKIT_URL or sqlite:///chatkit.db.")
]
"""The ``--url`` option every store command takes."""


def _run(job: Coroutine[Any, Any, None]) -> None:
    """Run ``job``; a chatkit error becomes a red message and exit status 1."""
    try:
        asyncio.run(job)
    except ChatKitError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("stopped")
        raise typer.Exit(130) from None


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


_DEMO_FLOW = """
name: late-order
start: ask_order
handoff: {team: orders, topic: orders, priority: high}
steps:
  - id: ask_order
    type: ask
    field: order_number
    validate: order_number
    question: {en: "Sorry about that! What is your order number? It looks like 245-12784."}
    next: answer
  - id: answer
    type: answer
    threshold: 0.3
    next: to_person
  - id: to_person
    type: handoff
"""

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
        night = await kit.messages.receive(
            channel="web", sender="visitor-0300", name="Lee", text="My order is late again!"
        )
        names[night.contact.id] = "Lee"
        await kit.bots.start(night.conversation.id, Flow.from_yaml(_DEMO_FLOW))
        for text in ("It's 245-13001", "No. I want to talk to a human."):
            await kit.messages.receive(channel="web", sender="visitor-0300", text=text)
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
            "identities", ", ".join(f"{i.kind.value}:{i.value}" for i in context.contact.identities)
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
        typer.Option(help="SQLite file to write; a new temporary one by default."),
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


@app.command()
def events(
    url: StoreUrl = None,
    after: Annotated[int, typer.Option(min=0, help="Show events after this position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many events.")] = 50,
) -> None:
    """Print events from a store's outbox."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            page = await kit.events.list(after=after, limit=limit)
            table = Table("position", "type", "conversation", "when (UTC)")
            for event in page.items:
                table.add_row(
                    str(event.position),
                    event.type,
                    event.conversation_id or "",
                    event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
                )
            console.print(table)
            if page.next_cursor:
                console.print(f"[dim]more: --after {page.next_cursor}[/]")

    _run(run())


@app.command("dispatch-status")
def dispatch_status(
    groups: Annotated[list[str], typer.Argument(help="Dispatch group names.")],
    url: StoreUrl = None,
) -> None:
    """Show how far dispatch groups are: handed out, done, behind, in flight, expired."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            newest = await kit.store.last_position()
            table = Table("group", "handed out to", "done up to", "behind", "in flight", "expired")
            for group in groups:
                status = await kit.events.dispatch_status(group)
                table.add_row(
                    group,
                    str(status.claimed_upto),
                    str(status.done_upto),
                    str(max(0, newest - status.done_upto)),
                    str(status.in_flight),
                    str(status.expired),
                )
            console.print(table)

    _run(run())


@app.command()
def purge(
    url: StoreUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
    default_days: Annotated[
        int | None, typer.Option(min=1, help="Keep period in days (default: 31).")
    ] = None,
    allow_shorter: Annotated[
        bool, typer.Option("--allow-shorter", help="Allow a keep period under 31 days.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Conversations per commit.")] = 100,
) -> None:
    """Delete conversations past the retention policy (resumable, batched)."""

    async def run() -> None:
        settings = ChatKitSettings()
        if default_days is not None or allow_shorter:
            try:
                policy = RetentionPolicy(
                    default_days=default_days or 31, allow_shorter=allow_shorter
                )
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ConfigurationError(reason) from None
            settings = ChatKitSettings(retention=policy)
        async with AsyncChatKit(url or default_url(), settings=settings) as kit:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("checking" if dry_run else "purging", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = await kit.retention.purge(
                    dry_run=dry_run, batch_size=batch_size, progress=advance
                )
        verb = "would purge" if dry_run else "purged"
        table = Table(title=f"{verb}: {report.conversations} conversations")
        for name in ("messages", "attachments", "attachment_bytes", "tickets"):
            table.add_column(name.replace("_", " "))
        table.add_row(
            str(report.messages),
            str(report.attachments),
            str(report.attachment_bytes),
            str(report.tickets),
        )
        console.print(table)
        console.print(
            f"kept: {report.held} under legal hold, {report.open_tickets} with unfinished tickets"
        )

    _run(run())


integrations_app = typer.Typer(
    help="CRM and help-desk integrations (plugins in the chatkit.integrations group).",
    no_args_is_help=True,
)
app.add_typer(integrations_app, name="integrations")


@integrations_app.command("list")
def integrations_list(
    config: Annotated[
        Path | None,
        typer.Option(help="JSON/YAML file with one section per integration."),
    ] = None,
) -> None:
    """Show installed integrations, what they sync, and whether they are configured."""
    table = Table("name", "package", "capabilities", "configured")
    for item in integrations.installed():
        package = f"{item.package or '?'} {item.version or ''}".strip()
        try:
            plugin = integrations.load(item.name)
        except ChatKitError as exc:
            table.add_row(item.name, package, f"[red]cannot load:[/] {exc}", "")
            continue
        try:
            plugin.config_class.load(item.name, file=config)
        except ConfigurationError as exc:  # messages name fields, never values
            configured = f"[yellow]no[/]: {exc}"
        else:
            configured = "[green]yes[/]"
        table.add_row(item.name, package, plugin.capabilities.summary(), configured)
    if table.row_count:
        console.print(table)
    else:
        console.print(
            "no integrations installed (they register entry points in 'chatkit.integrations')"
        )


sync_app = typer.Typer(
    help="Two-way sync with CRMs and help desks (see the concept page 'Sync').",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")

IntegrationName = Annotated[str, typer.Argument(help="The integration, e.g. zendesk.")]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="JSON/YAML file with one section per integration.")
]


def _engine(kit: AsyncChatKit, name: str, config: Path | None) -> SyncEngine:
    plugin = integrations.load(name)
    return kit.sync.engine(plugin.from_env(file=str(config) if config else None))


def _quiet(report: SyncReport) -> bool:
    return not (
        report.events
        or report.pushed
        or report.retried
        or report.dead
        or report.unchanged
        or report.pulled
        or report.pulled_unchanged
    )


@sync_app.command("run")
def sync_run(
    name: IntegrationName,
    url: StoreUrl = None,
    config: ConfigFile = None,
    resync: Annotated[
        bool, typer.Option(help="Queue every local record again first (a full re-sync).")
    ] = False,
    watch: Annotated[
        bool, typer.Option(help="Keep running, pulling every --interval seconds, until Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between pulls.")] = 30.0,
) -> None:
    """Sync one integration: queue outbox events, push what is due, pull what changed."""

    async def run() -> None:
        async with (
            AsyncChatKit(url or default_url()) as kit,
            _engine(kit, name, config) as engine,
        ):
            if resync:
                console.print(f"queued {await engine.resync()} records again")
            if watch:
                console.print(f"syncing {name} every {interval:g} s; Ctrl-C stops")
                await engine.run(interval=interval)
                return
            total = SyncReport()
            status = await kit.sync.status(name)
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                pushing = bar.add_task("pushing", total=status.pending + status.backlog)
                pulling = bar.add_task("pulling", total=None)
                done = {"push": 0, "pull": 0}

                def advance(step: str, report: SyncReport) -> None:
                    if step == "push":
                        count = report.pushed + report.unchanged + report.dead
                        bar.update(pushing, completed=done["push"] + count)
                    else:
                        count = report.pulled + report.pulled_unchanged + report.pulled_skipped
                        bar.update(pulling, completed=done["pull"] + count)

                engine.on_progress = advance
                for _ in range(100):
                    report = await engine.run_once()
                    total.add(report)
                    done["push"] += report.pushed + report.unchanged + report.dead
                    done["pull"] += report.pulled + report.pulled_unchanged + report.pulled_skipped
                    if report.events:
                        pending = (await kit.sync.status(name)).pending
                        bar.update(pushing, total=done["push"] + pending)
                    if report.parked or _quiet(report):
                        break
                bar.update(pushing, total=max(done["push"], 1), completed=done["push"])
                bar.update(pulling, total=max(done["pull"], 1), completed=done["pull"])
        _print_report(name, total)
        if total.parked:
            console.print(f"[red]parked:[/] {total.parked} (see 'chatkit sync status {name}')")
            raise typer.Exit(2)

    _run(run())


def _print_report(name: str, report: SyncReport) -> None:
    table = Table(title=f"sync {name}")
    for column in ("pushed", "unchanged", "retried", "dead", "pulled", "echoes", "calls"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.pushed),
        str(report.unchanged),
        str(report.retried),
        str(report.dead),
        str(report.pulled),
        str(report.pulled_unchanged),
        str(report.calls),
    )
    console.print(table)


@sync_app.command("status")
def sync_status(
    name: Annotated[str | None, typer.Argument(help="One integration (default: all).")] = None,
    url: StoreUrl = None,
    dead: Annotated[bool, typer.Option(help="Also list the dead letters.")] = False,
) -> None:
    """Show where each integration's sync stands: parked, pending, dead letters, backlog."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            names = [name] if name else await kit.sync.integrations()
            if not names:
                console.print("no integration has synced with this store yet")
                return
            table = Table(
                "integration", "state", "linked", "pending", "dead", "backlog", "pushed",
                "pulled", "calls today", "last push", "last pull",
            )  # fmt: skip
            letters = []
            for each in names:
                status = await kit.sync.status(each)
                state = (
                    f"[red]parked: {status.parked}[/]\n{status.parked_detail or ''}"
                    if status.parked
                    else "[green]running[/]"
                )
                table.add_row(
                    each,
                    state,
                    str(status.linked),
                    str(status.pending),
                    str(status.dead),
                    str(status.backlog),
                    str(status.pushed),
                    str(status.pulled),
                    str(status.calls_today),
                    _when(status.last_push_at),
                    _when(status.last_pull_at),
                )
                if dead:
                    letters += [(each, link) for link in await kit.sync.dead_letters(each)]
            console.print(table)
            if dead:
                listing = Table("integration", "kind", "local id", "attempts", "vendor's message")
                for each, link in letters:
                    listing.add_row(
                        each, link.kind, link.local_id, str(link.attempts), link.last_error or ""
                    )
                console.print(listing if letters else "no dead letters")

    _run(run())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


@sync_app.command("retry")
def sync_retry(
    name: IntegrationName,
    local_ids: Annotated[
        list[str] | None, typer.Argument(help="Only these records (default: every dead letter).")
    ] = None,
    url: StoreUrl = None,
) -> None:
    """Put dead-lettered records back in the queue; the next 'chatkit sync run' pushes them."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            count = await kit.sync.retry(name, local_ids or None)
        console.print(f"queued {count} dead letters of {name} again")

    _run(run())


@sync_app.command("resume")
def sync_resume(name: IntegrationName, url: StoreUrl = None) -> None:
    """Unpark an integration now (after fixing its credentials)."""

    async def run() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            resumed = await kit.sync.resume(name)
        console.print(f"{name} resumed" if resumed else f"{name} was not parked")

    _run(run())


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def emulate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The vendor, e.g. zendesk.")],
) -> None:
    """Serve a vendor API emulator locally, e.g. 'chatkit emulate zendesk --port 8765'.

    Emulators are plugins in the entry-point group chatkit.emulators; the
    first-party ones need 'pip install chatkit[emulators]'. Options after the
    name, --help included, go to the emulator ('chatkit emulate zendesk --help').
    """
    found = {ep.name: ep for ep in entry_points(group="chatkit.emulators")}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        console.print(f"[red]error:[/] no emulator named {name!r} (installed: {known})")
        raise typer.Exit(1)
    try:
        serve = found[name].load()
    except ImportError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    serve(list(ctx.args))


app.command("worker")(_worker)


@app.command()
def version() -> None:
    """Print the chatkit version."""
    console.print(f"chatkit {__version__}")


def main() -> None:
    """Console-script entry point."""
    app()
