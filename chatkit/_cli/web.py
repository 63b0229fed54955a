"""``chatkit serve`` (the web app under uvicorn) and ``chatkit websites`` (their configuration)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._facade import AsyncChatKit
from ..errors import MissingDependencyError
from ..models import Website
from ..settings import default_url
from .core import StoreUrl
from .output import console, print_table
from .output import run as _run

__all__ = ["serve", "websites_app"]

websites_app = typer.Typer(
    help="Websites whose visitors chat through the web app (keys, origins, identity secrets).",
    no_args_is_help=True,
)

Origins = Annotated[
    list[str] | None,
    typer.Option("--origin", metavar="ORIGIN", help="An allowed origin (repeat for more)."),
]


Color = Annotated[
    str | None, typer.Option("--color", metavar="#RRGGBB", help="The widget's accent colour.")
]
Position = Annotated[
    str | None, typer.Option("--position", metavar="SIDE", help="Launcher corner: right or left.")
]
Greeting = Annotated[
    str | None, typer.Option("--greeting", metavar="TEXT", help="The widget's first line.")
]


def _widget(
    site: Website | None, color: str | None, position: str | None, greeting: str | None
) -> dict[str, object] | None:
    """The website's widget settings with the options given applied (None: none given)."""
    if color is None and position is None and greeting is None:
        return None
    current: dict[str, object] = site.widget.model_dump() if site is not None else {}
    for key, value in (("color", color), ("position", position), ("greeting", greeting)):
        if value is not None:
            current[key] = value
    return current


def _kit(url: str | None) -> AsyncChatKit:
    return AsyncChatKit(url or default_url())


def _show(site: Website, *, secret: bool = False) -> None:
    console.print(f"id:               {site.id}")
    console.print(f"name:             {escape(site.name)}")
    console.print(f"public key:       {site.public_key}")
    console.print(f"origins:          {', '.join(site.origins) or '(none)'}")
    console.print(f"require identity: {'yes' if site.require_identity else 'no'}")
    console.print(f"typing previews:  {'yes' if site.typing_previews else 'no'}")
    consent = "required" if site.analytics_consent_required else "not required"
    console.print(f"analytics:        consent {consent}")
    console.print(f"widget:           {site.widget.color}, {site.widget.position}")
    if secret:
        console.print(f"identity secret:  {site.identity_secret}")


@websites_app.command("create")
def websites_create(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    origin: Origins = None,
    require_identity: Annotated[
        bool, typer.Option("--require-identity", help="Refuse anonymous visitors.")
    ] = False,
    typing_previews: Annotated[
        bool, typer.Option("--typing-previews", help="Pass visitors' typing previews to agents.")
    ] = False,
    no_analytics_consent: Annotated[
        bool,
        typer.Option(
            "--no-analytics-consent",
            help="Send chat events to web analytics without the visitor's consent "
            "(only where none is needed).",
        ),
    ] = False,
    color: Color = None,
    position: Position = None,
    greeting: Greeting = None,
    url: StoreUrl = None,
) -> None:
    """Add a website; prints its public key and identity secret."""

    async def run() -> None:
        async with _kit(url) as kit:
            site = await kit.websites.create(
                name,
                origins=origin or [],
                require_identity=require_identity,
                typing_previews=typing_previews,
                analytics_consent_required=not no_analytics_consent,
                widget=_widget(None, color, position, greeting),
            )
            _show(site, secret=True)

    _run(run())


@websites_app.command("list")
def websites_list(url: StoreUrl = None) -> None:
    """Show every website (without secrets)."""

    async def run() -> None:
        async with _kit(url) as kit:
            table = Table("id", "name", "public key", "origins", "identity")
            for site in await kit.websites.list():
                table.add_row(
                    site.id,
                    escape(site.name),
                    site.public_key,
                    "\n".join(site.origins) or "-",
                    "required" if site.require_identity else "optional",
                )
            print_table(table)

    _run(run())


@websites_app.command("show")
def websites_show(
    website_id: Annotated[str, typer.Argument(metavar="WEBSITE_ID")],
    secret: Annotated[
        bool, typer.Option("--secret", help="Also print the identity secret.")
    ] = False,
    url: StoreUrl = None,
) -> None:
    """Show one website."""

    async def run() -> None:
        async with _kit(url) as kit:
            _show(await kit.websites.get(website_id), secret=secret)

    _run(run())


@websites_app.command("update")
def websites_update(
    website_id: Annotated[str, typer.Argument(metavar="WEBSITE_ID")],
    name: Annotated[str | None, typer.Option(metavar="NAME", help="A new name.")] = None,
    origin: Origins = None,
    require_identity: Annotated[
        bool | None,
        typer.Option(
            "--require-identity/--allow-anonymous", help="Whether visitors must be identified."
        ),
    ] = None,
    typing_previews: Annotated[
        bool | None,
        typer.Option("--typing-previews/--no-typing-previews", help="Typing previews on or off."),
    ] = None,
    analytics_consent: Annotated[
        bool | None,
        typer.Option(
            "--analytics-consent/--no-analytics-consent",
            help="Whether chat events reach web analytics only with the visitor's consent.",
        ),
    ] = None,
    color: Color = None,
    position: Position = None,
    greeting: Greeting = None,
    url: StoreUrl = None,
) -> None:
    """Change a website; --origin (repeated) replaces the whole list."""

    async def run() -> None:
        async with _kit(url) as kit:
            site = await kit.websites.get(website_id)
            site = await kit.websites.update(
                website_id,
                name=site.name if name is None else name,
                origins=site.origins if origin is None else origin,
                require_identity=(
                    site.require_identity if require_identity is None else require_identity
                ),
                typing_previews=site.typing_previews
                if typing_previews is None
                else typing_previews,
                analytics_consent_required=(
                    site.analytics_consent_required
                    if analytics_consent is None
                    else analytics_consent
                ),
                widget=_widget(site, color, position, greeting) or site.widget,
            )
            _show(site)

    _run(run())


@websites_app.command("rotate-secret")
def websites_rotate_secret(
    website_id: Annotated[str, typer.Argument(metavar="WEBSITE_ID")],
    url: StoreUrl = None,
) -> None:
    """Give a website a new identity secret (prints it); old identity hashes stop working."""

    async def run() -> None:
        async with _kit(url) as kit:
            _show(await kit.websites.rotate_identity_secret(website_id), secret=True)

    _run(run())


@websites_app.command("delete")
def websites_delete(
    website_id: Annotated[str, typer.Argument(metavar="WEBSITE_ID")],
    url: StoreUrl = None,
) -> None:
    """Remove a website; its sessions stop working."""

    async def run() -> None:
        async with _kit(url) as kit:
            await kit.websites.delete(website_id)
            console.print(f"deleted {website_id}")

    _run(run())


def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to bind.")] = 8000,
    url: StoreUrl = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Seed a demo (website, team, agents with tokens, chats) and serve a shop "
            "page with the chat widget on PORT+1 (another origin). Default store: "
            "chatkit-demo.db here.",
        ),
    ] = False,
) -> None:
    """Serve the web app (customer and agent APIs) with uvicorn on the store at --url.

    It serves the chat widget too (/widget/loader.js). --demo seeds a demo and
    serves a shop page carrying the widget on the next port.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            feature="chatkit serve", module="uvicorn", package="uvicorn", extra="web"
        ) from exc

    async def run() -> None:
        kit = _kit(url or ("sqlite:///chatkit-demo.db" if demo else None))
        try:
            await kit.open()
            for adapter in kit.channels.add_from_env():  # CHATKIT_CHANNELS
                console.print(f"channel {adapter.name}: webhooks at /channels/{adapter.name}/...")
            app = kit.asgi()
            config = uvicorn.Config(
                app, host=host, port=port, lifespan="off", proxy_headers=False, log_level="info"
            )
            servers = [uvicorn.Server(config)]
            chat_url = f"http://{host}:{port}"
            if demo:
                from ..web.demo import seed, shop_app

                shop_url = f"http://{host}:{port + 1}"
                made = await seed(kit, shop_url)
                shop = uvicorn.Config(
                    shop_app(chat_url, made.website.public_key),
                    host=host,
                    port=port + 1,
                    lifespan="off",
                    log_level="warning",
                )
                servers.append(uvicorn.Server(shop))
                console.print(f"[bold]shop with the chat widget:[/] {shop_url}/")
                console.print(f"[bold]agent console:[/]             {chat_url}/console/")
                for name, token in made.tokens:
                    console.print(f"agent token of {escape(name)}: {token}")
            console.print(f"serving {kit.store!r} on {chat_url} (Ctrl-C stops)")
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            await asyncio.shield(kit.close())

    _run(run())
