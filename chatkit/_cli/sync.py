"""``chatkit sync``: run, inspect and repair the two-way sync with an integration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._facade import AsyncChatKit
from ..integrations import HealthState, integrations
from ..settings import default_url
from ..sync import SyncEngine, SyncReport
from .core import StoreUrl
from .integrations import ConfigFile
from .output import Bars, console, fail, print_table, run

__all__ = ["sync_app"]

sync_app = typer.Typer(
    help="Two-way sync with CRMs and help desks (see the concept page 'Sync').",
    no_args_is_help=True,
)

IntegrationName = Annotated[str, typer.Argument(help="The integration, e.g. zendesk.")]


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
        or report.skipped
        or report.pulled
        or report.pulled_unchanged
    )


def _settled(report: SyncReport) -> int:
    """Queued records this report took off the queue (pushed, unchanged, skipped or dead)."""
    return report.pushed + report.unchanged + report.skipped + report.dead


def _read(report: SyncReport) -> int:
    """Inbound changes this report went through."""
    return report.pulled + report.pulled_unchanged + report.pulled_skipped


@sync_app.command("run")
def sync_run(
    name: IntegrationName,
    url: StoreUrl = None,
    config: ConfigFile = None,
    resync: Annotated[
        bool,
        typer.Option("--resync", help="Queue every local record again first (a full re-sync)."),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Keep running, pulling every --interval seconds, until Ctrl-C."
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=1.0, metavar="SECONDS", help="Seconds between pulls.")
    ] = 30.0,
) -> None:
    """Sync one integration: queue outbox events, push what is due, pull what changed."""

    async def job() -> None:
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
            base = {"pushed": 0, "pulled": 0, "queued": 0}
            with Bars() as bars:

                def advance(step: str, report: SyncReport) -> None:
                    if step == "push":
                        done = base["pushed"] + _settled(report)
                        bars.update("pushing", done, base["pushed"] + base["queued"])
                    else:
                        bars.update("pulling", base["pulled"] + _read(report))

                engine.on_progress = advance
                for _ in range(100):
                    # Queue the outbox first, so that the records to push are known.
                    events = await engine.collect()
                    base["queued"] = (await kit.sync.status(name)).pending
                    base["pushed"], base["pulled"] = _settled(total), _read(total)
                    report = await engine.run_once()
                    report.events += events
                    total.add(report)
                    if report.parked or _quiet(report):
                        break
        _print_report(name, total)
        if total.parked:
            fail(f"{name} is parked: {total.parked} (see 'chatkit sync status {name}')", code=2)

    run(job())


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
    print_table(table)
    if report.skipped:
        console.print(f"skipped {report.skipped} (not sent on purpose: no consent, too old...)")


@sync_app.command("status")
def sync_status(
    name: Annotated[str | None, typer.Argument(help="One integration (default: all).")] = None,
    url: StoreUrl = None,
    dead: Annotated[bool, typer.Option("--dead", help="Also list the dead letters.")] = False,
) -> None:
    """Show where each integration's sync stands: parked, pending, dead letters, backlog."""

    async def job() -> None:
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
                    f"[red]parked: {status.parked}[/]\n{escape(status.parked_detail or '')}"
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
            print_table(table)
            if dead:
                if not letters:
                    console.print("no dead letters")
                    return
                listing = Table("integration", "kind", "local id", "attempts", "vendor's message")
                for each, link in letters:
                    listing.add_row(
                        each,
                        link.kind,
                        link.local_id,
                        str(link.attempts),
                        escape(link.last_error or ""),
                    )
                print_table(listing)

    run(job())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


@sync_app.command("retry")
def sync_retry(
    name: IntegrationName,
    local_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="LOCAL_ID", help="Only these records (default: every dead letter)."),
    ] = None,
    url: StoreUrl = None,
) -> None:
    """Put dead-lettered records back in the queue; the next 'chatkit sync run' pushes them."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            count = await kit.sync.retry(name, local_ids or None)
        console.print(f"queued {count} dead letters of {name} again")

    run(job())


@sync_app.command("resume")
def sync_resume(name: IntegrationName, url: StoreUrl = None) -> None:
    """Unpark an integration now (after fixing its credentials)."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            resumed = await kit.sync.resume(name)
        console.print(f"{name} resumed" if resumed else f"{name} was not parked")

    run(job())


@sync_app.command("check")
def sync_check(name: IntegrationName, config: ConfigFile = None) -> None:
    """Check an integration's settings and reachability with one cheap call.

    The integration decides what the call is: a CRM reads its API user; GA4
    sends a sample of its events to GA4's validation server and lists what it
    refuses. Exits 1 unless the state is ok.
    """

    async def job() -> None:
        plugin = integrations.load(name)
        integration = plugin.from_env(file=str(config) if config else None)
        async with integration:
            status = await integration.check()
        passed = status.state is HealthState.OK
        style = "green" if passed else "red"
        console.print(
            f"{escape(name)}: [{style}]{status.state.value}[/] {escape(status.detail)}".rstrip()
        )
        if not passed:
            raise typer.Exit(1)

    run(job())
