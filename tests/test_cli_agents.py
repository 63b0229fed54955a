"""``chatkit agents``: list agents, create, list and revoke their API tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit import AsyncChatKit
from chatkit._cli.agents import parse_duration
from chatkit.cli import app
from chatkit.errors import InvalidInputError, InvalidTokenError

runner = CliRunner()


def _agent(url: str) -> str:
    async def create() -> str:
        async with AsyncChatKit(url) as kit:
            return (await kit.agents.create(name="Mia", role="supervisor")).id

    return asyncio.run(create())


def _authenticate(url: str, secret: str) -> str:
    async def check() -> str:
        async with AsyncChatKit(url) as kit:
            return (await kit.agents.authenticate_token(secret)).id

    return asyncio.run(check())


def test_token_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    agent_id = _agent(url)

    listed = runner.invoke(app, ["agents", "list", "--url", url])
    assert listed.exit_code == 0, listed.output
    assert agent_id in listed.output
    assert "supervisor" in listed.output

    made = runner.invoke(
        app,
        [
            "agents",
            "token",
            "create",
            agent_id,
            "--url",
            url,
            "--name",
            "ci",
            "--expires-in",
            "30d",
        ],
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("ckat_")
    token_id = made.output.split("created token ")[1].split()[0]
    assert _authenticate(url, secret) == agent_id

    quiet = runner.invoke(
        app, ["agents", "token", "create", agent_id, "--url", url, "--secret-only"]
    )
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.strip().startswith("ckat_")
    assert len(quiet.output.strip().splitlines()) == 1

    table = runner.invoke(app, ["agents", "token", "list", agent_id, "--url", url])
    assert table.exit_code == 0, table.output
    assert token_id in table.output
    assert "active" in table.output
    assert secret not in table.output  # only the first characters are shown
    assert secret[:11] in table.output

    revoked = runner.invoke(app, ["agents", "token", "revoke", token_id, "--url", url])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {token_id}" in revoked.output
    with pytest.raises(InvalidTokenError):
        _authenticate(url, secret)
    after = runner.invoke(app, ["agents", "token", "list", agent_id, "--url", url])
    assert "revoked" in after.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["agents", "token", "create", "ag_missing"], "does not exist"),
        (["agents", "token", "list", "ag_missing"], "does not exist"),
        (["agents", "token", "revoke", "tok_missing"], "does not exist"),
    ],
)
def test_unknown_ids_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(app, [*args, "--url", url])
    assert result.exit_code == 1
    assert message in result.output


def test_a_bad_lifetime_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    agent_id = _agent(url)
    for bad in ("soon", "-1d", "0", "1y"):
        result = runner.invoke(
            app, ["agents", "token", "create", agent_id, "--url", url, "--expires-in", bad]
        )
        assert result.exit_code == 1, bad
        assert "error:" in result.output

    async def count() -> int:
        async with AsyncChatKit(url) as kit:
            return len(await kit.agents.tokens(agent_id))

    assert asyncio.run(count()) == 0


def test_parse_duration() -> None:
    assert parse_duration("90d").total_seconds() == 90 * 86400
    assert parse_duration("12h").total_seconds() == 12 * 3600
    assert parse_duration("1.5m").total_seconds() == 90
    assert parse_duration("45").total_seconds() == 45
    for bad in ("", "d", "5w", "1e9999d"):
        with pytest.raises(InvalidInputError):
            parse_duration(bad)
