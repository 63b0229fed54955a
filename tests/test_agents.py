"""Agents: profiles, unique e-mail, time zones and chat capacity."""

from __future__ import annotations

import pytest

from chatkit import AsyncChatKit, InvalidInputError, NotFoundError
from chatkit.events import AgentCreated, AgentUpdated, Event

pytestmark = pytest.mark.anyio


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def test_create_stores_the_profile_and_emits_agent_created(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    mia = await kit.agents.create(
        name="Mia",
        email="Mia@Example.com",
        skills=["billing", " refunds ", "billing", ""],
        languages=["en", "tr"],
        teams=["EU"],
        time_zone="Europe/Istanbul",
        max_concurrent_chats=3,
    )
    stored = await kit.agents.get(mia.id)
    assert stored == mia
    assert stored.email == "mia@example.com"
    assert stored.skills == ["billing", "refunds"]
    assert (stored.languages, stored.teams) == (["en", "tr"], ["EU"])
    assert (stored.time_zone, stored.max_concurrent_chats) == ("Europe/Istanbul", 3)
    [event] = await _events_after(kit, before)
    assert isinstance(event, AgentCreated)
    assert event.agent == mia


async def test_defaults(kit: AsyncChatKit) -> None:
    leo = await kit.agents.create(name="Leo")
    assert (leo.email, leo.time_zone, leo.max_concurrent_chats) == (None, "UTC", 1)
    assert (leo.skills, leo.languages, leo.teams) == ([], [], [])


async def test_get_unknown_agent_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.agents.get("ag_missing")
    assert caught.value.resource == "agent"


async def test_update_changes_given_fields_only(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", skills=["billing"], max_concurrent_chats=2)
    before = await kit.store.last_position()
    updated = await kit.agents.update(mia.id, skills=("billing", "refunds"), time_zone="Asia/Seoul")
    stored = await kit.agents.get(mia.id)
    assert stored == updated
    assert (stored.name, stored.skills, stored.time_zone) == (
        "Mia",
        ["billing", "refunds"],
        "Asia/Seoul",
    )
    assert stored.max_concurrent_chats == 2
    assert stored.version == mia.version + 1
    [event] = await _events_after(kit, before)
    assert isinstance(event, AgentUpdated)
    assert event.changed == ["skills", "time_zone"]
    assert event.agent == updated


async def test_update_without_a_change_writes_nothing(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", email="mia@example.com")
    before = await kit.store.last_position()
    same = await kit.agents.update(mia.id, name="Mia", email="MIA@example.com")
    assert same == mia
    assert await kit.store.last_position() == before


async def test_update_of_an_unknown_agent_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError):
        await kit.agents.update("ag_missing", name="X")


async def test_list_pages_through_every_agent_once(kit: AsyncChatKit) -> None:
    created = {(await kit.agents.create(name=f"agent {n}")).id for n in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = await kit.agents.list(limit=3, cursor=cursor)
        seen += [a.id for a in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert set(seen) == created


async def test_email_is_unique_among_agents_case_insensitively(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", email="mia@example.com")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError) as caught:
        await kit.agents.create(name="Other Mia", email="MIA@example.com")
    assert caught.value.field == "email"
    assert await kit.store.last_position() == before
    assert [a.id for a in (await kit.agents.list()).items] == [mia.id]


async def test_update_to_a_taken_email_is_refused(kit: AsyncChatKit) -> None:
    await kit.agents.create(name="Mia", email="mia@example.com")
    leo = await kit.agents.create(name="Leo", email="leo@example.com")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.agents.update(leo.id, email="mia@example.com")
    assert await kit.agents.get(leo.id) == leo
    assert await kit.store.last_position() == before


async def test_agents_without_email_do_not_clash(kit: AsyncChatKit) -> None:
    await kit.agents.create(name="Mia")
    await kit.agents.create(name="Leo")
    assert len((await kit.agents.list()).items) == 2


async def test_a_freed_email_can_be_reused(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", email="team@example.com")
    await kit.agents.update(mia.id, email=None)
    leo = await kit.agents.create(name="Leo", email="team@example.com")
    assert (await kit.agents.get(leo.id)).email == "team@example.com"


async def test_unknown_time_zone_is_rejected(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia")
    before = await kit.store.last_position()
    for zone in ("Mars/Olympus", "UTC+3", "", "../etc/passwd"):
        with pytest.raises(InvalidInputError):
            await kit.agents.create(name="Leo", time_zone=zone)
        with pytest.raises(InvalidInputError):
            await kit.agents.update(mia.id, time_zone=zone)
    assert await kit.agents.get(mia.id) == mia
    assert await kit.store.last_position() == before


async def test_capacity_bounds_are_accepted(kit: AsyncChatKit) -> None:
    for chats in (1, 50):
        mia = await kit.agents.create(name="Mia", max_concurrent_chats=chats)
        assert (await kit.agents.get(mia.id)).max_concurrent_chats == chats
        moved = await kit.agents.update(mia.id, max_concurrent_chats=51 - chats)
        assert moved.max_concurrent_chats == 51 - chats


async def test_capacity_out_of_bounds_is_rejected(kit: AsyncChatKit) -> None:
    mia = await kit.agents.create(name="Mia", max_concurrent_chats=2)
    before = await kit.store.last_position()
    for chats in (0, -1, 51, 1000):
        with pytest.raises(InvalidInputError):
            await kit.agents.create(name="Leo", max_concurrent_chats=chats)
        with pytest.raises(InvalidInputError):
            await kit.agents.update(mia.id, max_concurrent_chats=chats)
    assert (await kit.agents.get(mia.id)).max_concurrent_chats == 2
    assert await kit.store.last_position() == before


async def test_name_length_is_checked(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    for name in ("", "x" * 201):
        with pytest.raises(InvalidInputError):
            await kit.agents.create(name=name)
    assert await kit.store.last_position() == before
    assert len((await kit.agents.create(name="x" * 200)).name) == 200
