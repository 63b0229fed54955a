"""``chatkit purge``: apply the retention policy."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from .._facade import AsyncChatKit
from ..errors import ConfigurationError
from ..models import RetentionPolicy
from ..settings import ChatKitSettings, default_url
from .core import StoreUrl
from .output import Bars, console, print_table, run

__all__ = ["purge"]


def purge(
    url: StoreUrl = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would go; delete nothing.")
    ] = False,
    default_days: Annotated[
        int | None, typer.Option(min=1, metavar="DAYS", help="Keep period in days (default: 31).")
    ] = None,
    allow_shorter: Annotated[
        bool, typer.Option("--allow-shorter", help="Allow a keep period under 31 days.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, metavar="N", help="Conversations per commit.")
    ] = 100,
) -> None:
    """Delete conversations past the retention policy (resumable, batched)."""

    async def job() -> None:
        settings = ChatKitSettings()
        if default_days is not None or allow_shorter:
            try:
                policy = RetentionPolicy(
                    default_days=default_days or 31, allow_shorter=allow_shorter
                )
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                if "allow_shorter" in reason:
                    reason += " (pass --allow-shorter)"
                raise ConfigurationError(reason) from None
            settings = ChatKitSettings(retention=policy)
        async with AsyncChatKit(url or default_url(), settings=settings) as kit:
            with Bars() as bars:
                step = "checking" if dry_run else "purging"

                def advance(done: int, total: int) -> None:
                    bars.update(step, done, total)

                report = await kit.retention.purge(
                    dry_run=dry_run, batch_size=batch_size, progress=advance
                )
        verb = "would purge" if dry_run else "purged"
        table = Table(title=f"{verb}: {report.conversations} conversations")
        for name in ("messages", "attachments", "attachment_bytes", "tickets"):
            table.add_column(name.replace("_", " "), justify="right")
        table.add_row(
            str(report.messages),
            str(report.attachments),
            str(report.attachment_bytes),
            str(report.tickets),
        )
        print_table(table)
        console.print(
            f"kept: {report.held} under legal hold, {report.open_tickets} with unfinished tickets"
        )

    run(job())
