"""Messages: gapless order under concurrency, idempotency, notes, paging, limits."""

from __future__ import annotations

import asyncio

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitSettings,
    InvalidInputError,
    MessageTooLargeError,
    NotFoundError,
)
from chatkit.models import Conversation

pytestmark = pytest.mark.anyio


async def _conversation(kit: AsyncChatKit) -> Conversation:
    contact = await kit.contacts.create(name="Ada")
    return await kit.conversations.create(contact_id=contact.id)


async def test_concurrent_sends_get_gapless_sequence_numbers(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    sent = await asyncio.gather(
        *(kit.messages.send(conv.id, f"m{n}", author=who) for n in range(20))
    )
    assert sorted(m.seq for m in sent) == list(range(1, 21))
    stored = (await kit.messages.list(conv.id, limit=100)).items
    assert [m.seq for m in stored] == list(range(1, 21))
    assert sorted(m.text for m in stored) == sorted(f"m{n}" for n in range(20))
    assert (await kit.conversations.get(conv.id)).last_seq == 20


async def test_idempotency_key_returns_the_first_message(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    first = await kit.messages.send(conv.id, "hello", author=who, idempotency_key="wamid.1")
    before = await kit.store.last_position()
    again = await kit.messages.send(conv.id, "hello", author=who, idempotency_key="wamid.1")
    assert again == first
    assert await kit.store.last_position() == before
    with pytest.raises(InvalidInputError, match="different message"):
        await kit.messages.send(conv.id, "other", author=who, idempotency_key="wamid.1")


async def test_concurrent_retries_with_one_key_write_once(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    results = await asyncio.gather(
        *(
            kit.messages.send(conv.id, "retry me", author=who, idempotency_key="k")
            for _ in range(10)
        )
    )
    assert len({m.id for m in results}) == 1
    assert len((await kit.messages.list(conv.id)).items) == 1
    created = [e for e in (await kit.events.list()).items if e.type == "message.created"]
    assert len(created) == 1


async def test_notes_are_for_agents_only(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    note = await kit.messages.note(conv.id, "internal", agent_id=mia.id)
    assert note.kind.value == "note"
    with pytest.raises(InvalidInputError):
        await kit.messages.send(
            conv.id, "sneaky", author=Author.customer(conv.contact_id), kind="note"
        )
    with pytest.raises(NotFoundError):
        await kit.messages.note(conv.id, "who?", agent_id="ag_missing")


async def test_customer_author_must_be_the_conversations_contact(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    stranger = await kit.contacts.create(name="Stranger")
    with pytest.raises(InvalidInputError):
        await kit.messages.send(conv.id, "hi", author=Author.customer(stranger.id))


async def test_paging_backwards_covers_every_message_once(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    for n in range(1, 24):
        await kit.messages.send(conv.id, f"m{n}", author=who)
    pages = []
    cursor = None
    while True:
        page = await kit.messages.list(conv.id, limit=5, cursor=cursor)
        pages.append([m.seq for m in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages[0] == [19, 20, 21, 22, 23]
    assert pages[-1] == [1, 2, 3]
    assert sorted(s for p in pages for s in p) == list(range(1, 24))
    with pytest.raises(InvalidInputError):
        await kit.messages.list(conv.id, cursor="not-a-cursor!")
    with pytest.raises(NotFoundError):
        await kit.messages.list("conv_missing")


async def test_acknowledgement_only_for_new_conversations(store_url: str) -> None:
    settings = ChatKitSettings(acknowledgement="We'll be right with you.")
    async with AsyncChatKit(store_url, settings=settings) as kit:
        first = await kit.messages.receive(channel="web", sender="v1", text="hi", verified=True)
        assert first.acknowledgement is not None
        assert first.acknowledgement.text == "We'll be right with you."
        assert first.acknowledgement.author.role.value == "bot"
        second = await kit.messages.receive(
            channel="web", sender="v1", text="still there?", verified=True
        )
        assert second.acknowledgement is None
        texts = [m.text for m in (await kit.messages.list(first.conversation.id)).items]
        assert texts == ["hi", "We'll be right with you.", "still there?"]


async def test_length_limit_default_and_custom(store_url: str) -> None:
    async with AsyncChatKit(store_url) as kit:
        conv = await _conversation(kit)
        who = Author.customer(conv.contact_id)
        await kit.messages.send(conv.id, "x" * 10_000, author=who)
        with pytest.raises(MessageTooLargeError) as caught:
            await kit.messages.send(conv.id, "x" * 10_001, author=who)
        assert (caught.value.length, caught.value.limit) == (10_001, 10_000)
    async with AsyncChatKit(store_url, settings=ChatKitSettings(max_message_length=20)) as kit:
        conv = await _conversation(kit)
        with pytest.raises(MessageTooLargeError):
            await kit.messages.send(conv.id, "y" * 21, author=Author.customer(conv.contact_id))


async def test_get_message(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    sent = await kit.messages.send(conv.id, "hi", author=Author.customer(conv.contact_id))
    assert await kit.messages.get(sent.id) == sent
    with pytest.raises(NotFoundError):
        await kit.messages.get("msg_missing")
