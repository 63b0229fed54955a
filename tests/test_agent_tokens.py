"""Per-agent API tokens (stored hashed, revocable, expiring) and agent roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKit, ChatKitError, InvalidInputError, NotFoundError
from chatkit.errors import InvalidTokenError
from chatkit.models import Agent, AgentRole, AgentToken
from chatkit.models._base import utcnow
from chatkit.stores.base import Update

pytestmark = pytest.mark.anyio


async def test_a_token_authenticates_its_agent_and_only_its_hash_is_stored(
    kit: AsyncChatKit,
) -> None:
    mia = await kit.agents.create(name="Mia", role="supervisor")
    token, secret = await kit.agents.create_token(mia.id, name="console")
    assert secret.startswith("ckat_")
    assert len(secret) == 5 + 43  # 32 random bytes, URL-safe base64
    assert token.agent_id == mia.id
    assert token.name == "console"
    assert token.prefix == secret[:11]
    assert token.expires_at is None
    assert token.revoked_at is None
    stored = await kit.store.get(AgentToken, token.id)
    assert stored is not None
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored.model_dump_json()
    assert secret not in repr(stored)

    agent = await kit.agents.authenticate_token(secret)
    assert agent.id == mia.id
    assert agent.role is AgentRole.SUPERVISOR
    used = await kit.store.get(AgentToken, token.id)
    assert used is not None
    assert used.last_used_at is not None


async def test_every_token_is_different(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    secrets_ = {(await kit.agents.create_token(mia.id))[1] for _ in range(20)}
    assert len(secrets_) == 20


async def test_last_use_is_written_at_most_once_a_minute(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    token, secret = await kit.agents.create_token(mia.id)
    await kit.agents.authenticate_token(secret)
    first = await kit.store.get(AgentToken, token.id)
    assert first is not None
    for _ in range(5):
        await kit.agents.authenticate_token(secret)
    again = await kit.store.get(AgentToken, token.id)
    assert again == first  # no write within the minute
    old = first.last_used_at - timedelta(minutes=2)  # type: ignore[operator]
    aged = first.model_copy(update={"last_used_at": old, "version": first.version + 1})
    await kit.store.commit([Update(aged)])
    await kit.agents.authenticate_token(secret)
    later = await kit.store.get(AgentToken, token.id)
    assert later is not None
    assert later.last_used_at is not None
    assert later.last_used_at > old + timedelta(minutes=1)


async def test_revoked_tokens_never_work_again(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    keep, keep_secret = await kit.agents.create_token(mia.id, name="keep")
    drop, drop_secret = await kit.agents.create_token(mia.id, name="drop")
    revoked = await kit.agents.revoke_token(drop.id)
    assert revoked.revoked_at is not None
    assert (await kit.agents.revoke_token(drop.id)).revoked_at == revoked.revoked_at
    with pytest.raises(InvalidTokenError) as caught:
        await kit.agents.authenticate_token(drop_secret)
    assert caught.value.reason == "revoked"
    assert drop_secret not in str(caught.value)
    assert (await kit.agents.authenticate_token(keep_secret)).id == mia.id
    listed = await kit.agents.tokens(mia.id)
    assert [t.id for t in listed] == [keep.id, drop.id]
    assert [t.active(utcnow()) for t in listed] == [True, False]


async def test_expired_tokens_are_refused(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    token, secret = await kit.agents.create_token(mia.id, expires_in=timedelta(hours=1))
    assert token.expires_at is not None
    assert (await kit.agents.authenticate_token(secret)).id == mia.id
    past = token.model_copy(
        update={"expires_at": utcnow() - timedelta(seconds=1), "version": token.version + 2}
    )
    current = await kit.store.get(AgentToken, token.id)
    assert current is not None
    await kit.store.commit([Update(past.model_copy(update={"version": current.version + 1}))])
    with pytest.raises(InvalidTokenError) as caught:
        await kit.agents.authenticate_token(secret)
    assert caught.value.reason == "expired"
    _, seconds = await kit.agents.create_token(mia.id, expires_in=3600)
    assert (await kit.agents.authenticate_token(seconds)).id == mia.id


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "malformed"),
        ("ckat_", "malformed"),
        ("ckat_" + "a" * 42, "malformed"),
        ("ckat_" + "a" * 44, "malformed"),
        ("xxxx_" + "a" * 43, "malformed"),
        ("ckat_" + "a" * 42 + "!", "malformed"),
        ("ckat_" + "é" * 43, "malformed"),
        (None, "malformed"),
        (b"ckat_" + b"a" * 43, "malformed"),
        ("ckat_" + "a" * 43, "unknown"),
    ],
)
async def test_bad_secrets_are_refused(kit: AsyncChatKit, secret: object, reason: str) -> None:
    await kit.agents.create_token((await kit.agents.create(name="Mia")).id)
    with pytest.raises(InvalidTokenError) as caught:
        await kit.agents.authenticate_token(secret)  # type: ignore[arg-type]
    assert caught.value.reason == reason
    assert isinstance(caught.value, ChatKitError)


async def test_a_token_of_a_deleted_agent_is_refused(tmp_path: Path) -> None:
    from chatkit.stores.base import Delete

    async with AsyncChatKit(f"sqlite:///{tmp_path / 't.db'}") as kit:
        mia = await kit.agents.create(name="Mia")
        _, secret = await kit.agents.create_token(mia.id)
        await kit.store.commit([Delete(Agent, mia.id)])
        with pytest.raises(InvalidTokenError) as caught:
            await kit.agents.authenticate_token(secret)
        assert caught.value.reason == "agent_missing"


async def test_bad_arguments_write_nothing(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    with pytest.raises(NotFoundError):
        await kit.agents.create_token("ag_missing")
    for bad in (0, -5, timedelta(0), "1h", True, timedelta.max, 1e300, float("nan")):
        with pytest.raises(InvalidInputError):
            await kit.agents.create_token(mia.id, expires_in=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await kit.agents.create_token(mia.id, name="x" * 201)
    with pytest.raises(NotFoundError):
        await kit.agents.revoke_token("tok_missing")
    with pytest.raises(NotFoundError):
        await kit.agents.tokens("ag_missing")
    assert await kit.agents.tokens(mia.id) == []


async def test_roles(kit: AsyncChatKit) -> None:
    leo = await kit.agents.create(name="Leo")
    assert leo.role is AgentRole.AGENT
    boss = await kit.agents.create(name="Ada", role=AgentRole.ADMIN)
    assert (await kit.agents.get(boss.id)).role is AgentRole.ADMIN
    promoted = await kit.agents.update(leo.id, role="supervisor")
    assert promoted.role is AgentRole.SUPERVISOR
    assert (await kit.agents.get(leo.id)).role is AgentRole.SUPERVISOR
    with pytest.raises(InvalidInputError) as caught:
        await kit.agents.create(name="Eve", role="root")
    assert caught.value.field == "role"
    with pytest.raises(InvalidInputError):
        await kit.agents.update(leo.id, role="root")
    assert (await kit.agents.get(leo.id)).role is AgentRole.SUPERVISOR


def test_the_blocking_kit_has_the_token_methods(tmp_path: Path) -> None:
    with ChatKit(f"sqlite:///{tmp_path / 'sync.db'}") as kit:
        mia = kit.agents.create(name="Mia", role="admin")
        token, secret = kit.agents.create_token(mia.id, name="script")
        assert kit.agents.authenticate_token(secret).id == mia.id
        assert [t.id for t in kit.agents.tokens(mia.id)] == [token.id]
        kit.agents.revoke_token(token.id)
        with pytest.raises(InvalidTokenError):
            kit.agents.authenticate_token(secret)


async def test_creating_and_revoking_publish_events_without_the_secret(kit: AsyncChatKit) -> None:
    from chatkit.events import AgentTokenCreated, AgentTokenRevoked

    mia = await kit.agents.create(name="Mia")
    before = await kit.store.last_position()
    token, secret = await kit.agents.create_token(mia.id, name="ci", expires_in=60)
    await kit.agents.revoke_token(token.id)
    await kit.agents.revoke_token(token.id)  # already revoked: no second event
    events = (await kit.events.list(after=before, limit=100)).items
    assert [type(e) for e in events] == [AgentTokenCreated, AgentTokenRevoked]
    created, revoked = events
    assert isinstance(created, AgentTokenCreated)
    assert (created.token_id, created.agent_id, created.name) == (token.id, mia.id, "ci")
    assert created.expires_at == token.expires_at
    assert isinstance(revoked, AgentTokenRevoked)
    assert (revoked.token_id, revoked.agent_id) == (token.id, mia.id)
    for event in events:
        text = event.model_dump_json()
        assert secret not in text
        assert token.token_hash not in text
