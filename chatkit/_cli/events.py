"""``chatkit events`` and ``chatkit dispatch-status``: a store's outbox and its readers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .._facade import AsyncChatKit
from ..settings import default_url
from .core import StoreUrl
from .output import console, print_table, run

__all__ = ["dispatch_status", "events"]


def events(
    url: StoreUrl = None,
    after: Annotated[
        int, typer.Option(min=0, metavar="N", help="Show events after this position.")
    ] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, metavar="N", help="How many events.")] = 50,
) -> None:
    """Print events from a store's outbox."""

    async def job() -> None:
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
            print_table(table)
            if page.next_cursor:
                console.print(f"[dim]more: --after {page.next_cursor}[/]")

    run(job())


def dispatch_status(
    groups: Annotated[list[str], typer.Argument(metavar="GROUP", help="Dispatch group names.")],
    url: StoreUrl = None,
) -> None:
    """Show how far dispatch groups are: handed out, done, behind, in flight, expired."""

    async def job() -> None:
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
            print_table(table)

    run(job())
