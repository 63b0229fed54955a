"""Agent presence and status: chosen presence, load, idleness, lost heartbeats, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatkit import (
    AgentStatus,
    AsyncChatKit,
    BusinessHours,
    ChatKitSettings,
    InvalidInputError,
    NotFoundError,
    PresenceSettings,
)
from chatkit.blobs import LocalBlobStore
from chatkit.events import AgentStatusChanged

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _kit(store_url: str, tmp_path: Path, **presence: float) -> AsyncIterator[AsyncChatKit]:
    settings = ChatKitSettings(presence=PresenceSettings(**presence))
    blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as kit:
        yield kit


@pytest.fixture
async def quick_idle(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """Agents go idle after 0.3 s without activity (and offline only after 30 s)."""
    async with _kit(store_url, tmp_path, idle_after=0.3, offline_after=30) as kit:
        yield kit


@pytest.fixture
async def quick_offline(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """Agents go offline after 0.5 s without a heartbeat."""
    async with _kit(store_url, tmp_path, idle_after=60, offline_after=0.5) as kit:
        yield kit


async def _changes(kit: AsyncChatKit, agent_id: str) -> list[tuple[str, str, str]]:
    events = (await kit.events.list(limit=1000)).items
    return [
        (e.previous.value, e.status.value, e.reason)
        for e in events
        if isinstance(e, AgentStatusChanged) and e.agent_id == agent_id
    ]


async def test_new_agents_are_offline_until_they_choose(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    assert mia.status is AgentStatus.OFFLINE
    mia = await kit.agents.set_presence(mia.id, "available")
    assert mia.status is AgentStatus.AVAILABLE
    assert mia.status_since is not None
    mia = await kit.agents.set_presence(mia.id, "away")
    assert mia.status is AgentStatus.AWAY
    mia = await kit.agents.set_presence(mia.id, "online")
    assert mia.status is AgentStatus.ONLINE
    await kit.agents.set_presence(mia.id, "online")  # no change, no event
    assert await _changes(kit, mia.id) == [
        ("offline", "available", "presence"),
        ("available", "away", "presence"),
        ("away", "online", "presence"),
    ]
    assert (await kit.agents.get(mia.id)).status is AgentStatus.ONLINE


async def test_a_full_agent_is_busy_and_available_again_when_a_chat_ends(
    kit: AsyncChatKit,
) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    await kit.agents.set_presence(mia.id, "available")
    convs = [
        (await kit.messages.receive(channel="web", sender=f"v{n}", text="hi")).conversation
        for n in range(2)
    ]
    await kit.conversations.claim(convs[0].id, mia.id)
    assert (await kit.agents.get(mia.id)).status is AgentStatus.AVAILABLE
    await kit.conversations.claim(convs[1].id, mia.id)
    assert (await kit.agents.get(mia.id)).status is AgentStatus.BUSY
    await kit.conversations.resolve(convs[0].id)
    assert (await kit.agents.get(mia.id)).status is AgentStatus.AVAILABLE
    assert (await _changes(kit, mia.id))[1:] == [
        ("available", "busy", "load"),
        ("busy", "available", "load"),
    ]


async def test_idle_agents_are_found_by_refresh_and_back_on_activity(
    quick_idle: AsyncChatKit,
) -> None:
    kit = quick_idle
    mia = await kit.agents.create(name="Mia")
    await kit.agents.set_presence(mia.id, "available")
    assert await kit.agents.refresh() == []
    await asyncio.sleep(0.4)  # she does nothing (her process is alive)
    await kit.agents.heartbeat([mia.id])  # any write of her record sees it too
    assert (await kit.agents.get(mia.id)).status is AgentStatus.IDLE
    await kit.agents.touch(mia.id)
    await asyncio.sleep(0.4)
    [moved] = await kit.agents.refresh()  # or refresh finds it
    assert moved.status is AgentStatus.IDLE
    assert (await kit.agents.touch(mia.id)).status is AgentStatus.AVAILABLE
    assert await _changes(kit, mia.id) == [
        ("offline", "available", "presence"),
        ("available", "idle", "idle"),
        ("idle", "available", "activity"),
        ("available", "idle", "idle"),
        ("idle", "available", "activity"),
    ]


async def test_agents_whose_heartbeats_stop_go_offline(quick_offline: AsyncChatKit) -> None:
    kit = quick_offline
    mia = await kit.agents.create(name="Mia")
    leo = await kit.agents.create(name="Leo")
    await kit.agents.set_presence(mia.id, "away")
    await kit.agents.set_presence(leo.id, "away")
    for _ in range(8):  # Leo's process keeps beating; Mia's stopped
        await asyncio.sleep(0.1)
        await kit.agents.heartbeat([leo.id])
    moved = await kit.agents.refresh()
    assert [(a.id, a.status) for a in moved] == [(mia.id, AgentStatus.OFFLINE)]
    assert (await kit.agents.get(leo.id)).status is AgentStatus.AWAY
    assert (await _changes(kit, mia.id))[-1] == ("away", "offline", "heartbeat_lost")
    # An offline agent is not looked at again.
    assert await kit.agents.refresh() == []


async def test_list_by_status(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    leo = await kit.agents.create(name="Leo")
    await kit.agents.create(name="Ada")
    await kit.agents.set_presence(mia.id, "available")
    await kit.agents.set_presence(leo.id, "away")
    available = await kit.agents.list(status="available")
    assert [a.id for a in available.items] == [mia.id]
    awake = await kit.agents.list(status=[AgentStatus.AVAILABLE, "away"])
    assert sorted(a.id for a in awake.items) == sorted([mia.id, leo.id])
    assert len((await kit.agents.list(status="offline")).items) == 1
    with pytest.raises(InvalidInputError):
        await kit.agents.list(status="sleeping")


async def test_bad_presence_changes_nothing(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    with pytest.raises(InvalidInputError) as caught:
        await kit.agents.set_presence(mia.id, "napping")
    assert caught.value.field == "presence"
    assert await kit.agents.get(mia.id) == mia
    with pytest.raises(NotFoundError):
        await kit.agents.set_presence("ag_missing", "available")
    with pytest.raises(InvalidInputError):
        await kit.agents.heartbeat(mia.id)


async def test_status_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'support.db'}"
    async with AsyncChatKit(url) as kit:
        mia = await kit.agents.create(name="Mia")
        await kit.agents.set_presence(mia.id, "available")
    async with AsyncChatKit(url) as kit:
        again = await kit.agents.get(mia.id)
        assert again.status is AgentStatus.AVAILABLE
        assert [a.id for a in (await kit.agents.list(status="available")).items] == [mia.id]


async def test_shifts_say_who_is_on_duty(kit: AsyncChatKit) -> None:
    early = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "07:00-15:00"})
    late = BusinessHours.weekly("Asia/Seoul", {"mon-fri": "14:00-22:00"})
    ece = await kit.agents.create(name="Ece", teams=["support"], shift=early)
    jin = await kit.agents.create(name="Jin", teams=["tech"], shift=late)
    await kit.agents.create(name="Ada")  # no shift: never on duty by schedule
    tuesday_8_utc = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 11:00 Istanbul, 17:00 Seoul
    assert [a.id for a in await kit.agents.on_duty(at=tuesday_8_utc)] == [ece.id, jin.id]
    assert [a.id for a in await kit.agents.on_duty(at=tuesday_8_utc, team="tech")] == [jin.id]
    tuesday_14_utc = tuesday_8_utc.replace(hour=14)  # 17:00 Istanbul, 23:00 Seoul
    assert await kit.agents.on_duty(at=tuesday_14_utc) == []
    moved = await kit.agents.update(jin.id, shift=None)
    assert moved.shift is None
    with pytest.raises(InvalidInputError):
        await kit.agents.create(name="Bad", shift="9 to 5")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await kit.agents.on_duty(at=datetime(2026, 12, 1, 8, 0))


async def test_an_agent_going_offline_hands_their_open_tickets_back(
    quick_offline: AsyncChatKit,
) -> None:
    kit = quick_offline
    mia = await kit.agents.create(name="Mia")
    leo = await kit.agents.create(name="Leo")
    await kit.agents.set_presence(mia.id, "available")
    await kit.agents.set_presence(leo.id, "available")
    ada = await kit.contacts.create(name="Ada")
    mine = await kit.tickets.create(subject="Refund", contact_id=ada.id, owner_id=mia.id)
    done = await kit.tickets.create(subject="Old", contact_id=ada.id, owner_id=mia.id)
    await kit.tickets.solve(done.id)
    his = await kit.tickets.create(subject="Leo's", contact_id=ada.id, owner_id=leo.id)
    await kit.agents.set_presence(mia.id, "offline")  # signs out
    assert (await kit.tickets.get(mine.id)).owner_id is None
    assert (await kit.tickets.get(done.id)).owner_id == mia.id  # solved: left alone
    await asyncio.sleep(0.7)  # Leo's process dies: no heartbeat
    await kit.agents.refresh()
    assert (await kit.tickets.get(his.id)).owner_id is None
