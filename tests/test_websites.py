"""Websites in the store (`kit.websites`) on every store, and the ``chatkit websites`` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit import AsyncChatKit, ChatKit
from chatkit.cli import app
from chatkit.errors import InvalidInputError, NotFoundError
from chatkit.models import Website

pytestmark = pytest.mark.anyio


async def test_create_find_update_rotate_delete(kit: AsyncChatKit) -> None:
    site = await kit.websites.create(
        "Shop", origins=["https://Shop.Example", "http://localhost:3000/"], typing_previews=True
    )
    assert site.origins == ["https://shop.example:443", "http://localhost:3000"]
    assert site.public_key.startswith("wk_")
    assert len(site.identity_secret) >= 32
    assert (await kit.websites.by_key(site.public_key)).id == site.id
    assert await kit.websites.get(site.id) == site

    other = await kit.websites.create("Blog")
    assert other.public_key != site.public_key
    assert other.identity_secret != site.identity_secret
    assert [s.id for s in await kit.websites.list()] == [site.id, other.id]

    updated = await kit.websites.update(
        site.id, origins=["https://shop.example"], require_identity=True
    )
    assert updated.origins == ["https://shop.example:443"]
    assert updated.require_identity
    assert updated.version == site.version + 1
    same = await kit.websites.update(site.id, require_identity=True)
    assert same.version == updated.version  # nothing changed, nothing written

    rotated = await kit.websites.rotate_identity_secret(site.id)
    assert rotated.identity_secret != updated.identity_secret
    assert rotated.public_key == site.public_key
    rekeyed = await kit.websites.rotate_public_key(site.id)
    assert rekeyed.public_key != site.public_key
    with pytest.raises(NotFoundError):
        await kit.websites.by_key(site.public_key)

    await kit.websites.delete(other.id)
    with pytest.raises(NotFoundError):
        await kit.websites.get(other.id)
    with pytest.raises(NotFoundError):
        await kit.websites.by_key(other.public_key)


@pytest.mark.parametrize(
    "origins",
    [
        ["*"],
        ["https://*.shop.example"],
        ["https://shop.example/path"],
        ["shop.example"],
        ["null"],
        ["ftp://shop.example"],
        "https://shop.example",  # a lone string is not split into letters
    ],
)
async def test_bad_origins_are_refused_and_nothing_is_written(
    kit: AsyncChatKit, origins: object
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await kit.websites.create("Shop", origins=origins)  # type: ignore[arg-type]
    assert caught.value.field is not None
    assert caught.value.field.startswith("origins")
    assert await kit.websites.list() == []
    site = await kit.websites.create("Shop", origins=["https://shop.example"])
    with pytest.raises(InvalidInputError):
        await kit.websites.update(site.id, origins=origins)  # type: ignore[arg-type]
    assert (await kit.websites.get(site.id)).origins == ["https://shop.example:443"]


async def test_bad_names_and_switches(kit: AsyncChatKit) -> None:
    for name in ("", "   ", "x" * 201, "a\x00b"):
        with pytest.raises(InvalidInputError):
            await kit.websites.create(name)
    with pytest.raises(InvalidInputError):
        await kit.websites.create("Shop", require_identity="yes")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await kit.websites.by_key("x" * 1000)
    assert await kit.store.count(Website, {}) == 0


def test_the_cli_manages_websites(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'support.db'}"
    runner = CliRunner()
    made = runner.invoke(
        app, ["websites", "create", "Shop", "--origin", "https://shop.example", "--url", url]
    )
    assert made.exit_code == 0, made.output
    with ChatKit(url) as kit:
        (site,) = kit.websites.list()
    assert site.identity_secret in made.output
    assert site.public_key in made.output

    listed = runner.invoke(app, ["websites", "list", "--url", url])
    assert site.public_key in listed.output
    assert site.identity_secret not in listed.output

    changed = runner.invoke(
        app,
        [
            "websites",
            "update",
            site.id,
            "--origin",
            "https://a.example",
            "--origin",
            "https://b.example",
            "--require-identity",
            "--url",
            url,
        ],
    )
    assert changed.exit_code == 0, changed.output
    shown = runner.invoke(app, ["websites", "show", site.id, "--secret", "--url", url])
    assert "https://a.example:443, https://b.example:443" in shown.output
    assert "require identity: yes" in shown.output

    rotated = runner.invoke(app, ["websites", "rotate-secret", site.id, "--url", url])
    assert rotated.exit_code == 0, rotated.output
    with ChatKit(url) as kit:
        assert kit.websites.get(site.id).identity_secret != site.identity_secret
    bad = runner.invoke(app, ["websites", "create", "Evil", "--origin", "*", "--url", url])
    assert bad.exit_code == 1
    assert "origin" in bad.output
    gone = runner.invoke(app, ["websites", "delete", site.id, "--url", url])
    assert gone.exit_code == 0, gone.output
    with ChatKit(url) as kit:
        assert kit.websites.list() == []


async def test_purge_sessions_deletes_only_expired_ones(kit: AsyncChatKit) -> None:
    from datetime import timedelta

    from chatkit.models import WebSession
    from chatkit.models._base import utcnow
    from chatkit.stores.base import Insert
    from chatkit.web.sessions import hash_token, new_token

    site = await kit.websites.create("Shop")
    now = utcnow()
    sessions = [
        WebSession(
            id=f"wsess_{n}",
            token_hash=hash_token(new_token()),
            website_id=site.id,
            contact_id="ct_x",
            expires_at=now + timedelta(hours=offset),
        )
        for n, offset in enumerate((-48, -1, 1, 48))
    ]
    await kit._core.commit([Insert(s) for s in sessions])
    assert await kit.websites.purge_sessions(batch_size=1) == 2
    left = await kit.store.find(WebSession, {})
    assert sorted(s.id for s in left) == ["wsess_2", "wsess_3"]
    assert await kit.websites.purge_sessions(before=now + timedelta(hours=2)) == 1
    with pytest.raises(InvalidInputError):
        await kit.websites.purge_sessions(before=now.replace(tzinfo=None))
    with pytest.raises(InvalidInputError):
        await kit.websites.purge_sessions(batch_size=0)
