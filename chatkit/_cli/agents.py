"""``chatkit agents``: list agents and manage their API tokens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._facade import AsyncChatKit
from ..errors import InvalidInputError
from ..models import AgentToken
from ..models._base import utcnow
from ..settings import default_url
from .core import StoreUrl
from .output import console, print_table, run

__all__ = ["agents_app", "parse_duration"]

agents_app = typer.Typer(
    help="List agents; create, list and revoke their API tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Per-agent API tokens: create (secret shown once), list, revoke.",
    no_args_is_help=True,
)
agents_app.add_typer(token_app, name="token")

AgentId = Annotated[str, typer.Argument(help="The agent's id (see 'chatkit agents list').")]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"45s"`` or plain seconds as a `timedelta`.

    Raises:
        InvalidInputError: It does not parse or is out of range.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInputError(
            f"expected a duration like 30d, 12h, 90m or 45s, got {text[:50]!r}",
            field="expires_in",
        )
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])
    except OverflowError:
        raise InvalidInputError("the duration is too long", field="expires_in") from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def _state(token: AgentToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and now >= token.expires_at:
        return "expired"
    return "active"


@agents_app.command("list")
def agents_list(url: StoreUrl = None) -> None:
    """Show every agent: id, name, e-mail, role and status."""

    async def job() -> None:
        table = Table("id", "name", "email", "role", "status")
        async with AsyncChatKit(url or default_url()) as kit:
            cursor: str | None = None
            while True:
                page = await kit.agents.list(limit=200, cursor=cursor)
                for agent in page.items:
                    table.add_row(
                        agent.id,
                        escape(agent.name),
                        escape(agent.email or "-"),
                        agent.role.value,
                        agent.status.value,
                    )
                cursor = page.next_cursor
                if cursor is None:
                    break
        print_table(table)

    run(job())


@token_app.command("create")
def token_create(
    agent_id: AgentId,
    url: StoreUrl = None,
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="What the token is for.")] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Lifetime, e.g. 90d or 12h (default: no expiry)."),
    ] = None,
    secret_only: Annotated[
        bool, typer.Option("--secret-only", help="Print only the secret (for scripts).")
    ] = False,
) -> None:
    """Create an API token for an agent and print its secret (shown only this once)."""

    async def job() -> None:
        lifetime = parse_duration(expires_in) if expires_in is not None else None
        async with AsyncChatKit(url or default_url()) as kit:
            token, secret = await kit.agents.create_token(agent_id, name=name, expires_in=lifetime)
        if secret_only:
            console.print(secret, markup=False)
            return
        console.print(f"created token {token.id} for agent {token.agent_id}", markup=False)
        console.print(f"expires: {_when(token.expires_at)}", markup=False)
        console.print("secret (shown only now; store it safely):", markup=False)
        console.print(secret, markup=False)

    run(job())


@token_app.command("list")
def token_list(agent_id: AgentId, url: StoreUrl = None) -> None:
    """Show an agent's tokens (never their secrets): state, expiry and last use."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            tokens = await kit.agents.tokens(agent_id)
        now = utcnow()
        table = Table("id", "name", "starts with", "state", "created", "expires", "last used")
        for token in tokens:
            table.add_row(
                token.id,
                escape(token.name or "-"),
                token.prefix + "...",
                _state(token, now),
                _when(token.created_at),
                _when(token.expires_at),
                _when(token.last_used_at),
            )
        print_table(table)

    run(job())


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see 'token list').")],
    url: StoreUrl = None,
) -> None:
    """Revoke a token: it never authenticates again."""

    async def job() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            token = await kit.agents.revoke_token(token_id)
        console.print(f"revoked token {token.id} of agent {token.agent_id}", markup=False)

    run(job())
