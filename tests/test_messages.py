"""Messages: gapless sequence numbers under concurrency, idempotency, notes, authors,
paging back through history, acknowledgements and the length limit."""

from __future__ import annotations

import asyncio

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    AuthorRole,
    Channel,
    ChatKitSettings,
    InvalidInputError,
    MessageKind,
    MessageTooLargeError,
    NotFoundError,
)
from chatkit.events import Event, MessageCreated
from chatkit.models import Conversation, Message

pytestmark = pytest.mark.anyio


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def _conversation(kit: AsyncChatKit) -> Conversation:
    contact = await kit.contacts.create(name="Ada")
    return await kit.conversations.create(contact_id=contact.id)


async def _history(kit: AsyncChatKit, conversation_id: str) -> list[Message]:
    """Every message, oldest first, by paging backwards from the latest."""
    pages: list[list[Message]] = []
    cursor = None
    while True:
        page = await kit.messages.list(conversation_id, limit=7, cursor=cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return [m for page in reversed(pages) for m in page]


# -- sending ------------------------------------------------------------------------


async def test_send_stores_the_message_and_emits_message_created(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    sent = await kit.messages.send(
        conv.id,
        "Where is my parcel?",
        author=Author.customer(conv.contact_id),
        metadata={"source": "widget", "n": 1},
    )
    assert await kit.messages.get(sent.id) == sent
    assert (sent.conversation_id, sent.seq, sent.kind) == (conv.id, 1, MessageKind.TEXT)
    assert sent.author == Author.customer(conv.contact_id)
    assert sent.metadata == {"source": "widget", "n": 1}
    [event] = await _events_after(kit, before)
    assert isinstance(event, MessageCreated)
    assert event.message == sent
    assert event.message.text == "Where is my parcel?"
    assert (event.conversation_id, event.contact_id) == (conv.id, conv.contact_id)


async def test_send_updates_the_conversation(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    sent = await kit.messages.send(
        conv.id, "hi", author=Author.customer(conv.contact_id), channel="sms"
    )
    stored = await kit.conversations.get(conv.id)
    assert stored.last_seq == 1
    assert stored.last_message_at == sent.created_at
    assert stored.channel is Channel.SMS
    assert stored.channels == [Channel.WEB, Channel.SMS]


async def test_message_channel_defaults_to_the_conversations(kit: AsyncChatKit) -> None:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(contact_id=contact.id, channel="whatsapp")
    sent = await kit.messages.send(conv.id, "hi", author=Author.bot())
    assert sent.channel is Channel.WHATSAPP


async def test_sequence_numbers_are_gapless_from_one(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    authors = [Author.customer(conv.contact_id), Author.agent(mia.id), Author.bot()]
    sent = [await kit.messages.send(conv.id, f"m{n}", author=authors[n % 3]) for n in range(9)]
    await kit.messages.note(conv.id, "a note counts too", agent_id=mia.id)
    assert [m.seq for m in sent] == list(range(1, 10))
    assert [m.seq for m in await _history(kit, conv.id)] == list(range(1, 11))


async def test_concurrent_sends_get_gapless_sequence_numbers_and_are_stored_once(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    before = await kit.store.last_position()
    sent = await asyncio.gather(
        *(kit.messages.send(conv.id, f"message {n}", author=who) for n in range(20))
    )
    assert sorted(m.seq for m in sent) == list(range(1, 21))
    stored = await _history(kit, conv.id)
    assert [m.seq for m in stored] == list(range(1, 21))
    assert sorted(m.text for m in stored) == sorted(f"message {n}" for n in range(20))
    assert {m.id for m in stored} == {m.id for m in sent}
    # What each send returned is exactly what was stored.
    by_id = {m.id: m for m in stored}
    assert all(by_id[m.id] == m for m in sent)
    assert (await kit.conversations.get(conv.id)).last_seq == 20
    events = await _events_after(kit, before)
    assert len(events) == 20
    assert {e.message.id for e in events if isinstance(e, MessageCreated)} == by_id.keys()


async def test_concurrent_sends_to_different_conversations_number_independently(
    kit: AsyncChatKit,
) -> None:
    a = await _conversation(kit)
    b = await _conversation(kit)
    await asyncio.gather(
        *(
            kit.messages.send(conv.id, f"m{n}", author=Author.bot())
            for n in range(8)
            for conv in (a, b)
        )
    )
    assert [m.seq for m in await _history(kit, a.id)] == list(range(1, 9))
    assert [m.seq for m in await _history(kit, b.id)] == list(range(1, 9))


# -- idempotency ------------------------------------------------------------------------------


async def test_same_idempotency_key_returns_the_first_message_without_writing(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    first = await kit.messages.send(conv.id, "hello", author=who, idempotency_key="wamid.1")
    before = await kit.store.last_position()
    again = await kit.messages.send(conv.id, "hello", author=who, idempotency_key="wamid.1")
    assert again == first
    assert await kit.store.last_position() == before
    assert [m.id for m in await _history(kit, conv.id)] == [first.id]
    assert (await kit.conversations.get(conv.id)).last_seq == 1


async def test_concurrent_retries_with_one_key_write_one_message(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    before = await kit.store.last_position()
    results = await asyncio.gather(
        *(
            kit.messages.send(conv.id, "retry me", author=who, idempotency_key="k")
            for _ in range(10)
        )
    )
    assert len({m.id for m in results}) == 1
    assert all(m == results[0] for m in results)
    assert [m.id for m in await _history(kit, conv.id)] == [results[0].id]
    assert [e.type for e in await _events_after(kit, before)] == ["message.created"]


async def test_concurrent_retries_mixed_with_other_sends(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    jobs = [kit.messages.send(conv.id, "keyed", author=who, idempotency_key="k") for _ in range(5)]
    jobs += [kit.messages.send(conv.id, f"plain {n}", author=who) for n in range(5)]
    await asyncio.gather(*jobs)
    stored = await _history(kit, conv.id)
    assert [m.seq for m in stored] == list(range(1, 7))
    assert sorted(m.text for m in stored) == ["keyed"] + [f"plain {n}" for n in range(5)]


async def test_reused_key_with_different_text_is_invalid_and_writes_nothing(
    kit: AsyncChatKit,
) -> None:
    conv = await _conversation(kit)
    who = Author.customer(conv.contact_id)
    first = await kit.messages.send(conv.id, "hello", author=who, idempotency_key="wamid.1")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError) as caught:
        await kit.messages.send(conv.id, "something else", author=who, idempotency_key="wamid.1")
    assert caught.value.field == "idempotency_key"
    assert await kit.store.last_position() == before
    assert [m.id for m in await _history(kit, conv.id)] == [first.id]


async def test_idempotency_keys_are_per_conversation(kit: AsyncChatKit) -> None:
    a = await _conversation(kit)
    b = await _conversation(kit)
    in_a = await kit.messages.send(a.id, "hi", author=Author.bot(), idempotency_key="k")
    in_b = await kit.messages.send(b.id, "hi", author=Author.bot(), idempotency_key="k")
    assert in_a.id != in_b.id
    assert in_b.conversation_id == b.id


async def test_redelivered_inbound_message_is_stored_once(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(
        channel="sms", sender="+15550100000", text="hi", idempotency_key="SM123"
    )
    before = await kit.store.last_position()
    again = await kit.messages.receive(
        channel="sms", sender="+1 555 010 0000", text="hi", idempotency_key="SM123"
    )
    assert again.message == first.message
    assert again.conversation.id == first.conversation.id
    assert await kit.store.last_position() == before


# -- notes and authors ------------------------------------------------------------------------


async def test_agent_note_is_stored_as_a_note(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    mia = await kit.agents.create(name="Mia")
    note = await kit.messages.note(conv.id, "Customer is a VIP", agent_id=mia.id)
    stored = await kit.messages.get(note.id)
    assert stored.kind is MessageKind.NOTE
    assert stored.author == Author.agent(mia.id)
    assert stored.text == "Customer is a VIP"


@pytest.mark.parametrize("who", ["customer", "system"])
async def test_only_agents_and_bots_write_notes(kit: AsyncChatKit, who: str) -> None:
    conv = await _conversation(kit)
    author = {
        "customer": Author.customer(conv.contact_id),
        "system": Author.system(),
    }[who]
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.messages.send(conv.id, "psst", author=author, kind="note")
    assert await kit.store.last_position() == before
    assert await _history(kit, conv.id) == []


async def test_a_bot_leaves_agents_a_note_the_customer_never_sees(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    note = await kit.messages.send(conv.id, "Wants a refund", author=Author.bot(), kind="note")
    assert note.kind.value == "note"
    assert [m.text for m in await _history(kit, conv.id)] == ["Wants a refund"]
    transcript = await kit.transcripts.render(conv.id, format="text")
    assert "Wants a refund" not in transcript


async def test_note_by_an_unknown_agent_raises_not_found(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(NotFoundError):
        await kit.messages.note(conv.id, "psst", agent_id="ag_missing")
    assert await _history(kit, conv.id) == []


async def test_customer_author_must_be_the_conversations_contact(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    stranger = await kit.contacts.create(name="Stranger")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError) as caught:
        await kit.messages.send(conv.id, "hi", author=Author.customer(stranger.id))
    assert caught.value.field == "author"
    assert await kit.store.last_position() == before
    assert await _history(kit, conv.id) == []


async def test_customer_author_that_does_not_exist_is_refused(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(NotFoundError):
        await kit.messages.send(conv.id, "hi", author=Author.customer("ct_missing"))
    assert await _history(kit, conv.id) == []


async def test_send_to_an_unknown_conversation_raises_not_found(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError):
        await kit.messages.send("conv_missing", "hi", author=Author.bot())
    assert await kit.store.last_position() == before


# -- reading ------------------------------------------------------------------------------


async def test_get_unknown_message_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.messages.get("msg_missing")
    assert (caught.value.resource, caught.value.resource_id) == ("message", "msg_missing")


async def test_first_page_is_the_latest_messages_oldest_first(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    for n in range(1, 13):
        await kit.messages.send(conv.id, f"m{n}", author=Author.bot())
    page = await kit.messages.list(conv.id, limit=5)
    assert [m.text for m in page.items] == ["m8", "m9", "m10", "m11", "m12"]
    assert page.next_cursor is not None


async def test_paging_backwards_covers_every_message_once_in_order(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    sent = [await kit.messages.send(conv.id, f"m{n}", author=Author.bot()) for n in range(23)]
    pages: list[list[Message]] = []
    cursor = None
    while True:
        page = await kit.messages.list(conv.id, limit=5, cursor=cursor)
        assert 1 <= len(page.items) <= 5
        pages.append(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    history = [m for page in reversed(pages) for m in page]
    assert history == sent


async def test_page_exactly_the_size_of_the_history_has_no_next_cursor(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    for n in range(5):
        await kit.messages.send(conv.id, f"m{n}", author=Author.bot())
    page = await kit.messages.list(conv.id, limit=5)
    assert len(page.items) == 5
    assert page.next_cursor is None


async def test_list_of_an_empty_conversation_is_empty(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    page = await kit.messages.list(conv.id)
    assert page.items == []
    assert page.next_cursor is None


async def test_list_of_an_unknown_conversation_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError):
        await kit.messages.list("conv_missing")


async def test_list_with_a_forged_cursor_is_invalid(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.messages.send(conv.id, "hi", author=Author.bot())
    for cursor in ("not base64 !", "YWJj"):  # the second decodes to "abc"
        with pytest.raises(InvalidInputError):
            await kit.messages.list(conv.id, cursor=cursor)


# -- receive and acknowledgements -----------------------------------------------------------


async def test_receive_from_a_new_sender_creates_contact_and_conversation(
    kit: AsyncChatKit,
) -> None:
    inbound = await kit.messages.receive(
        channel="email", sender="Ada@Example.com", text="Hello", name="Ada"
    )
    assert inbound.new_conversation
    assert inbound.contact.name == "Ada"
    assert [i.key for i in inbound.contact.identities] == ["email:ada@example.com"]
    assert inbound.conversation.contact_id == inbound.contact.id
    assert inbound.conversation.channel is Channel.EMAIL
    assert inbound.message.author == Author.customer(inbound.contact.id)
    assert inbound.message.channel is Channel.EMAIL
    assert inbound.acknowledgement is None
    assert await _history(kit, inbound.conversation.id) == [inbound.message]


async def test_receive_from_a_known_sender_continues_the_conversation(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="visitor-1", text="one", verified=True)
    second = await kit.messages.receive(
        channel="web", sender="visitor-1", text="two", verified=True
    )
    assert not second.new_conversation
    assert second.conversation.id == first.conversation.id
    assert second.message.seq == 2
    assert second.conversation.last_seq == 2


async def test_concurrent_first_messages_from_one_sender_share_a_conversation(
    kit: AsyncChatKit,
) -> None:
    results = await asyncio.gather(
        *(
            kit.messages.receive(channel="sms", sender="+1 555 010 0000", text=f"part {n}")
            for n in range(5)
        )
    )
    assert len({r.contact.id for r in results}) == 1
    assert len({r.conversation.id for r in results}) == 1
    assert sum(r.new_conversation for r in results) == 1
    history = await _history(kit, results[0].conversation.id)
    assert sorted(m.text for m in history) == [f"part {n}" for n in range(5)]
    listed = (await kit.conversations.list(contact_id=results[0].contact.id)).items
    assert len(listed) == 1


@pytest.fixture
async def greeting_kit(store_url: str) -> AsyncChatKit:  # type: ignore[misc]
    async with AsyncChatKit(
        store_url, settings=ChatKitSettings(acknowledgement="Thanks! An agent will reply soon.")
    ) as k:
        yield k


async def test_acknowledgement_is_sent_once_for_a_new_conversation(
    greeting_kit: AsyncChatKit,
) -> None:
    kit = greeting_kit
    first = await kit.messages.receive(channel="sms", sender="+15550100000", text="Hi")
    ack = first.acknowledgement
    assert ack is not None
    assert ack.text == "Thanks! An agent will reply soon."
    assert ack.author.role is AuthorRole.BOT
    assert ack.channel is Channel.SMS
    assert ack.seq == 2
    second = await kit.messages.receive(channel="sms", sender="+15550100000", text="Hello?")
    assert second.acknowledgement is None
    history = await _history(kit, first.conversation.id)
    assert [(m.author.role, m.text) for m in history] == [
        (AuthorRole.CUSTOMER, "Hi"),
        (AuthorRole.BOT, "Thanks! An agent will reply soon."),
        (AuthorRole.CUSTOMER, "Hello?"),
    ]


async def test_acknowledgement_is_sent_again_for_a_conversation_after_a_closed_one(
    greeting_kit: AsyncChatKit,
) -> None:
    kit = greeting_kit
    first = await kit.messages.receive(channel="web", sender="v1", text="Hi")
    await kit.conversations.close(first.conversation.id)
    second = await kit.messages.receive(channel="web", sender="v1", text="Me again")
    assert second.new_conversation
    assert second.acknowledgement is not None
    assert second.acknowledgement.conversation_id == second.conversation.id


async def test_acknowledgement_is_not_sent_into_a_reopened_conversation(
    greeting_kit: AsyncChatKit,
) -> None:
    kit = greeting_kit
    first = await kit.messages.receive(channel="web", sender="v1", text="Hi", verified=True)
    await kit.conversations.resolve(first.conversation.id)
    second = await kit.messages.receive(channel="web", sender="v1", text="Me again", verified=True)
    assert second.acknowledgement is None
    assert len(await _history(kit, first.conversation.id)) == 3


async def test_no_acknowledgement_by_default(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text="Hi")
    assert inbound.acknowledgement is None
    assert len(await _history(kit, inbound.conversation.id)) == 1


# -- length limit ----------------------------------------------------------------------------


async def test_default_limit_is_ten_thousand_characters(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    longest = await kit.messages.send(conv.id, "x" * 10_000, author=Author.bot())
    assert len((await kit.messages.get(longest.id)).text) == 10_000
    before = await kit.store.last_position()
    with pytest.raises(MessageTooLargeError) as caught:
        await kit.messages.send(conv.id, "x" * 10_001, author=Author.bot())
    assert (caught.value.length, caught.value.limit) == (10_001, 10_000)
    assert caught.value.field == "text"
    assert await kit.store.last_position() == before
    assert len(await _history(kit, conv.id)) == 1


async def test_limit_counts_characters_not_bytes(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    sent = await kit.messages.send(conv.id, "🙂" * 10_000, author=Author.bot())
    assert (await kit.messages.get(sent.id)).text == "🙂" * 10_000


async def test_custom_limit_applies_to_send_and_receive(store_url: str) -> None:
    async with AsyncChatKit(store_url, settings=ChatKitSettings(max_message_length=20)) as kit:
        conv = await _conversation(kit)
        await kit.messages.send(conv.id, "y" * 20, author=Author.bot())
        before = await kit.store.last_position()
        with pytest.raises(MessageTooLargeError) as caught:
            await kit.messages.send(conv.id, "y" * 21, author=Author.bot())
        assert (caught.value.length, caught.value.limit) == (21, 20)
        with pytest.raises(MessageTooLargeError):
            await kit.messages.receive(channel="web", sender="v1", text="z" * 21)
        assert await kit.store.last_position() == before
        assert await kit.contacts.find(("web", "v1")) is None
