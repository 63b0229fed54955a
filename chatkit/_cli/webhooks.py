"""``chatkit webhooks``: subscribe URLs to events, read the delivery log, redeliver, ping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._facade import AsyncChatKit
from ..models import WebhookDelivery, WebhookSubscription
from ..settings import ChatKitSettings, default_url
from .core import StoreUrl
from .output import console, print_table, run
from .worker import _settings

__all__ = ["webhooks_app"]

webhooks_app = typer.Typer(
    help="Signed outbound webhooks (see the concept page 'Webhooks').",
    no_args_is_help=True,
)

SubscriptionId = Annotated[str, typer.Argument(metavar="ID", help="The subscription (whs_...).")]
SettingsFile = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        metavar="FILE",
        help="JSON file of ChatKitSettings (webhooks: allowed networks, retries): use your app's.",
    ),
]
AllowPrivate = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        help="Let this command call loopback and private addresses (local testing).",
    ),
]


def _kit(url: str | None, settings_file: Path | None, allow_private: bool = False) -> AsyncChatKit:
    settings = _settings(settings_file) or ChatKitSettings()
    if allow_private:
        webhooks = settings.webhooks.model_copy(update={"allow_private_targets": True})
        settings = settings.model_copy(update={"webhooks": webhooks})
    return AsyncChatKit(url or default_url(), settings=settings)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def _subscriptions_table(items: list[WebhookSubscription]) -> Table:
    table = Table("id", "url", "events", "state", "description", "since (UTC)")
    for item in items:
        state = "active" if item.active else f"paused: {item.paused_reason or ''}".rstrip(": ")
        table.add_row(
            item.id,
            escape(item.masked_url),
            escape(", ".join(item.events)),
            escape(state),
            escape(item.description or ""),
            _when(item.created_at),
        )
    return table


def _deliveries_table(items: list[WebhookDelivery]) -> Table:
    table = Table(
        "delivery",
        "subscription",
        "event",
        "status",
        "attempts",
        "HTTP",
        "last attempt (UTC)",
        "next attempt (UTC)",
        "ms",
        "error",
    )
    for item in items:
        table.add_row(
            item.id,
            item.subscription_id,
            escape(item.event_type),
            item.status.value,
            str(item.attempts),
            str(item.status_code or ""),
            _when(item.last_attempt_at),
            _when(item.next_attempt_at) if item.status.value == "pending" else "",
            f"{item.duration_ms:.0f}" if item.duration_ms is not None else "",
            escape(item.error or ""),
        )
    return table


@webhooks_app.command("add")
def add(
    target: Annotated[str, typer.Argument(metavar="URL", help="Where to POST deliveries.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            metavar="TYPE",
            help="An event type (message.created), a family (ticket.*) or * (repeat; default *).",
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option(metavar="TEXT", help="A note for people.")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(metavar="SECRET", help="The signing secret (default: a new random one)."),
    ] = None,
    url: StoreUrl = None,
    settings_file: SettingsFile = None,
) -> None:
    """Subscribe a URL to events; prints its signing secret, once."""

    async def job() -> None:
        async with _kit(url, settings_file) as kit:
            hook = await kit.webhooks.subscribe(
                target, event or ["*"], secret=secret, description=description
            )
            print_table(_subscriptions_table([hook]))
            console.print(f"signing secret (shown once): {hook.secret}", soft_wrap=True)

    run(job())


@webhooks_app.command("list")
def list_(url: StoreUrl = None) -> None:
    """List the subscriptions (URLs masked)."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            items = await kit.webhooks.list()
            if not items:
                console.print("no webhook subscriptions")
                return
            print_table(_subscriptions_table(items))

    run(job())


@webhooks_app.command("remove")
def remove(subscription_id: SubscriptionId, url: StoreUrl = None) -> None:
    """Remove a subscription (its pending deliveries are dead-lettered; the log stays)."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.webhooks.unsubscribe(subscription_id)
            console.print(f"removed {subscription_id}")

    run(job())


@webhooks_app.command("pause")
def pause(subscription_id: SubscriptionId, url: StoreUrl = None) -> None:
    """Pause a subscription: no new deliveries until it is resumed."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.webhooks.update(subscription_id, active=False)
            console.print(f"paused {subscription_id}")

    run(job())


@webhooks_app.command("resume")
def resume(subscription_id: SubscriptionId, url: StoreUrl = None) -> None:
    """Resume a paused subscription (what was pending is sent)."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.webhooks.update(subscription_id, active=True)
            console.print(f"resumed {subscription_id}")

    run(job())


@webhooks_app.command("rotate-secret")
def rotate_secret(subscription_id: SubscriptionId, url: StoreUrl = None) -> None:
    """Give a subscription a new signing secret (the old one also signs for a grace period)."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            hook = await kit.webhooks.rotate_secret(subscription_id)
            console.print(f"new signing secret (shown once): {hook.secret}", soft_wrap=True)

    run(job())


@webhooks_app.command("deliveries")
def deliveries(
    subscription: Annotated[
        str | None, typer.Option(metavar="ID", help="Only this subscription's deliveries.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(metavar="STATUS", help="pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, metavar="N", help="How many.")] = 50,
    cursor: Annotated[
        str | None, typer.Option(metavar="CURSOR", help="Continue after an earlier page.")
    ] = None,
    url: StoreUrl = None,
) -> None:
    """Show the delivery log, newest first."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            page = await kit.webhooks.deliveries(
                subscription_id=subscription, status=status, limit=limit, cursor=cursor
            )
            if not page.items:
                console.print("no deliveries")
                return
            print_table(_deliveries_table(page.items))
            if page.next_cursor:
                console.print(f"[dim]more: --cursor {page.next_cursor}[/]")

    run(job())


@webhooks_app.command("redeliver")
def redeliver(
    delivery_id: Annotated[str, typer.Argument(metavar="DELIVERY", help="The delivery (whd_...).")],
    now: Annotated[
        bool, typer.Option("--now", help="Send it at once instead of leaving it to the worker.")
    ] = False,
    url: StoreUrl = None,
    settings_file: SettingsFile = None,
    allow_private: AllowPrivate = False,
) -> None:
    """Send a dead (or delivered) delivery again."""

    async def job() -> None:
        async with _kit(url, settings_file, allow_private) as kit:
            delivery = await kit.webhooks.redeliver(delivery_id)
            if now:
                await kit.webhooks.deliver_pending()
                delivery = await kit.webhooks.get_delivery(delivery_id)
            print_table(_deliveries_table([delivery]))

    run(job())


@webhooks_app.command("test")
def send_test(
    subscription_id: SubscriptionId,
    url: StoreUrl = None,
    settings_file: SettingsFile = None,
    allow_private: AllowPrivate = False,
) -> None:
    """Send a signed webhook.ping to a subscription now and show the answer."""

    async def job() -> None:
        async with _kit(url, settings_file, allow_private) as kit:
            delivery = await kit.webhooks.ping(subscription_id)
            print_table(_deliveries_table([delivery]))
            if delivery.status.value != "delivered":
                raise typer.Exit(1)

    run(job())


@webhooks_app.command("deliver")
def deliver(
    url: StoreUrl = None,
    settings_file: SettingsFile = None,
    allow_private: AllowPrivate = False,
) -> None:
    """Turn new outbox events into deliveries and send what is due, once (as the worker does)."""

    async def job() -> None:
        async with _kit(url, settings_file, allow_private) as kit:
            attempts = await kit.webhooks.drain()
            console.print(f"{attempts} delivery attempts")

    run(job())
