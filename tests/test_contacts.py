"""Contacts: identities and their normalisation, identify, attributes, listing, merging,
and one customer history across web, SMS and WhatsApp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    Channel,
    ConversationStatus,
    DuplicateIdentityError,
    Identity,
    IdentityKind,
    Inbound,
    InvalidInputError,
    NotFoundError,
)
from chatkit.events import (
    ContactCreated,
    ContactIdentityAdded,
    ContactMerged,
    ContactUpdated,
    Event,
)

pytestmark = pytest.mark.anyio


async def _events_after(kit: AsyncChatKit, position: int) -> list[Event]:
    return (await kit.events.list(after=position, limit=1000)).items


async def _all_contact_ids(kit: AsyncChatKit) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await kit.contacts.list(limit=100, cursor=cursor)
        ids += [c.id for c in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


# -- creating and finding ------------------------------------------------------


async def test_create_stores_name_identities_and_attributes(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(
        name="Ada",
        identities=[("email", "ada@example.com"), Identity(kind="web", value="visitor-1")],
        attributes={"plan": "pro", "seats": 3},
    )
    stored = await kit.contacts.get(ada.id)
    assert stored == ada
    assert stored.name == "Ada"
    assert [(i.kind, i.value) for i in stored.identities] == [
        (IdentityKind.EMAIL, "ada@example.com"),
        (IdentityKind.WEB, "visitor-1"),
    ]
    assert stored.attributes == {"plan": "pro", "seats": 3}
    assert stored.merged_into is None


async def test_create_emits_contact_created(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    [event] = await _events_after(kit, before)
    assert isinstance(event, ContactCreated)
    assert event.contact_id == ada.id
    assert event.contact == ada


async def test_phone_numbers_in_any_format_are_one_identity(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("phone", "+1 (555) 010-0000")])
    assert ada.identities[0].value == "+15550100000"
    for spelling in ("+15550100000", "+1.555.010.0000", "+1 555 010 0000", "001-555-010-0000"):
        found = await kit.contacts.find(("phone", spelling))
        assert found is not None, spelling
        assert found.id == ada.id


async def test_email_is_matched_case_insensitively(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("email", "  Ada.Lovelace@Example.COM ")])
    assert ada.identities[0].value == "ada.lovelace@example.com"
    found = await kit.contacts.find(("email", "ADA.LOVELACE@EXAMPLE.COM"))
    assert found is not None
    assert found.id == ada.id


async def test_find_unknown_identity_returns_none(kit: AsyncChatKit) -> None:
    await kit.contacts.create(identities=[("email", "ada@example.com")])
    assert await kit.contacts.find(("email", "bob@example.com")) is None
    # Same value, other kind: not the same identity.
    assert await kit.contacts.find(("web", "ada@example.com")) is None


async def test_identities_given_twice_in_two_spellings_are_stored_once(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(
        identities=[("phone", "+1 555 010 0000"), ("phone", "+1-555-010-0000")]
    )
    assert [i.value for i in ada.identities] == ["+15550100000"]
    assert (await kit.contacts.get(ada.id)).identities == ada.identities


async def test_get_unknown_contact_raises_not_found(kit: AsyncChatKit) -> None:
    with pytest.raises(NotFoundError) as caught:
        await kit.contacts.get("ct_does_not_exist")
    assert caught.value.resource == "contact"
    assert caught.value.resource_id == "ct_does_not_exist"


# -- identify --------------------------------------------------------------------


async def test_identify_creates_a_contact_for_a_new_identity(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    ada = await kit.contacts.identify(("email", "ada@example.com"), name="Ada")
    assert ada.name == "Ada"
    assert [i.key for i in ada.identities] == ["email:ada@example.com"]
    assert await kit.contacts.get(ada.id) == ada
    assert [e.type for e in await _events_after(kit, before)] == ["contact.created"]


async def test_identify_returns_the_existing_contact_without_writing(kit: AsyncChatKit) -> None:
    phone = Identity(kind="phone", value="+1 (555) 010-0000", verified=True)
    ada = await kit.contacts.create(name="Ada", identities=[phone])
    before = await kit.store.last_position()
    again = await kit.contacts.identify(("phone", "+15550100000"), name="Other", verified=True)
    assert again == ada
    assert await kit.store.last_position() == before
    assert await _all_contact_ids(kit) == [ada.id]


async def test_concurrent_identify_of_one_identity_returns_one_contact(kit: AsyncChatKit) -> None:
    spellings = ["+1 555 010 0000", "+15550100000", "+1 (555) 010-0000", "001 555 010 0000"] * 2
    before = await kit.store.last_position()
    found = await asyncio.gather(
        *(kit.contacts.identify(("phone", s), verified=True) for s in spellings)
    )
    assert len({c.id for c in found}) == 1
    assert await _all_contact_ids(kit) == [found[0].id]
    created = [e for e in await _events_after(kit, before) if e.type == "contact.created"]
    assert len(created) == 1


# -- identities --------------------------------------------------------------------


async def test_add_identity_makes_it_lead_to_the_contact(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    before = await kit.store.last_position()
    updated = await kit.contacts.add_identity(ada.id, ("phone", "+44 20 7946 0000"))
    assert [i.key for i in updated.identities] == ["email:ada@example.com", "phone:+442079460000"]
    found = await kit.contacts.find(("phone", "+442079460000"))
    assert found is not None
    assert found.id == ada.id
    assert (await kit.contacts.get(ada.id)).identities == updated.identities
    [event] = await _events_after(kit, before)
    assert isinstance(event, ContactIdentityAdded)
    assert event.contact_id == ada.id
    assert event.identity == Identity(kind="phone", value="+442079460000")


async def test_add_identity_already_owned_is_a_no_op(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    before = await kit.store.last_position()
    same = await kit.contacts.add_identity(ada.id, ("email", "ADA@example.com"))
    assert same == ada
    assert await kit.store.last_position() == before


async def test_create_with_someone_elses_identity_raises_and_writes_nothing(
    kit: AsyncChatKit,
) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    before = await kit.store.last_position()
    with pytest.raises(DuplicateIdentityError) as caught:
        await kit.contacts.create(
            name="Imposter", identities=[("web", "visitor-7"), ("email", "ADA@EXAMPLE.com")]
        )
    assert caught.value.contact_id == ada.id
    assert caught.value.kind == "email"
    assert caught.value.value == "ada@example.com"
    assert await kit.store.last_position() == before
    assert await _all_contact_ids(kit) == [ada.id]
    # The other identity of the failed create was not claimed either.
    assert await kit.contacts.find(("web", "visitor-7")) is None


async def test_add_identity_of_someone_else_raises_and_writes_nothing(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("phone", "+15550100000")])
    bob = await kit.contacts.create(name="Bob", identities=[("web", "visitor-2")])
    before = await kit.store.last_position()
    with pytest.raises(DuplicateIdentityError) as caught:
        await kit.contacts.add_identity(bob.id, ("phone", "+1 (555) 010-0000"))
    assert caught.value.contact_id == ada.id
    assert await kit.store.last_position() == before
    assert await kit.contacts.get(bob.id) == bob
    found = await kit.contacts.find(("phone", "+15550100000"))
    assert found is not None
    assert found.id == ada.id


async def test_refusing_someone_elses_identity_is_immediate(kit: AsyncChatKit) -> None:
    # A duplicate is a final answer, not a lost race: it must not be retried (50 times).
    await kit.contacts.create(identities=[("email", "ada@example.com")])
    bob = await kit.contacts.create(name="Bob")
    started = time.monotonic()
    with pytest.raises(DuplicateIdentityError):
        await kit.contacts.add_identity(bob.id, ("email", "ada@example.com"))
    assert time.monotonic() - started < 0.5


async def test_concurrent_add_of_one_identity_to_one_contact_succeeds_once(
    kit: AsyncChatKit,
) -> None:
    ada = await kit.contacts.create(name="Ada")
    before = await kit.store.last_position()
    results = await asyncio.gather(
        *(kit.contacts.add_identity(ada.id, ("phone", "+1 555 010 0000")) for _ in range(6))
    )
    assert all([i.key for i in r.identities] == ["phone:+15550100000"] for r in results)
    stored = await kit.contacts.get(ada.id)
    assert [i.key for i in stored.identities] == ["phone:+15550100000"]
    assert [e.type for e in await _events_after(kit, before)] == ["contact.identity_added"]


async def test_phone_digits_of_other_scripts_are_the_same_number(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(identities=[("phone", "+905550100000")])
    arabic_indic = "+\u0669\u0660\u0665\u0665\u0665\u0660\u0661\u0660\u0660\u0660\u0660\u0660"
    found = await kit.contacts.find(("phone", arabic_indic))
    assert found is not None
    assert found.id == ada.id


async def test_superscript_digits_are_not_a_phone_number(kit: AsyncChatKit) -> None:
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.contacts.create(identities=[("phone", "+\u00b2\u00b3\u00b2\u00b3\u00b2\u00b3")])
    assert await kit.store.last_position() == before


# -- updates -------------------------------------------------------------------------


async def test_update_merges_attributes_and_none_deletes_a_key(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(attributes={"plan": "free", "seats": 1, "city": "Izmir"})
    before = await kit.store.last_position()
    updated = await kit.contacts.update(
        ada.id, attributes={"plan": "pro", "seats": None, "vip": True}
    )
    assert updated.attributes == {"plan": "pro", "city": "Izmir", "vip": True}
    assert (await kit.contacts.get(ada.id)).attributes == updated.attributes
    [event] = await _events_after(kit, before)
    assert isinstance(event, ContactUpdated)
    assert event.changed == ["attributes"]
    assert event.contact.attributes == updated.attributes


async def test_update_without_a_change_writes_nothing(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada", attributes={"plan": "pro"})
    before = await kit.store.last_position()
    same = await kit.contacts.update(ada.id, name="Ada", attributes={"plan": "pro", "absent": None})
    assert same == ada
    assert (await kit.contacts.get(ada.id)).version == ada.version
    assert await kit.store.last_position() == before


async def test_update_name_and_flags_leaves_attributes_alone(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada", attributes={"plan": "pro"})
    before = await kit.store.last_position()
    updated = await kit.contacts.update(ada.id, name="Ada L.", share_typing=False)
    stored = await kit.contacts.get(ada.id)
    assert stored == updated
    assert (stored.name, stored.share_typing, stored.attributes) == (
        "Ada L.",
        False,
        {"plan": "pro"},
    )
    [event] = await _events_after(kit, before)
    assert isinstance(event, ContactUpdated)
    assert event.changed == ["name", "share_typing"]


async def test_update_name_none_clears_it(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    await kit.contacts.update(ada.id, name=None)
    assert (await kit.contacts.get(ada.id)).name is None


# -- listing ---------------------------------------------------------------------------


async def test_list_pages_through_every_contact_exactly_once(kit: AsyncChatKit) -> None:
    created = {(await kit.contacts.create(name=f"c{n}")).id for n in range(11)}
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        page = await kit.contacts.list(limit=4, cursor=cursor)
        pages += 1
        assert len(page.items) <= 4
        seen += [c.id for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == created
    assert seen == sorted(seen)  # documented order: by id


async def test_list_excludes_merged_contacts(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Ada (dup)")
    await kit.contacts.merge(ada.id, dup.id)
    assert await _all_contact_ids(kit) == [ada.id]


# -- merging ------------------------------------------------------------------------------


async def test_merge_moves_identities_to_the_survivor(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada", identities=[("web", "visitor-1")])
    dup = await kit.contacts.create(
        identities=[("email", "ada@example.com"), ("phone", "+15551234")]
    )
    kept = await kit.contacts.merge(ada.id, dup.id)
    assert {i.key for i in kept.identities} == {
        "web:visitor-1",
        "email:ada@example.com",
        "phone:+15551234",
    }
    for identity in (("email", "ada@example.com"), ("phone", "+15551234"), ("web", "visitor-1")):
        found = await kit.contacts.find(identity)
        assert found is not None
        assert found.id == ada.id
    assert await kit.contacts.get(ada.id) == kept


async def test_merged_id_resolves_to_the_survivor(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Dup")
    kept = await kit.contacts.merge(ada.id, dup.id)
    assert await kit.contacts.get(dup.id) == kept
    # Chains of merges resolve too.
    third = await kit.contacts.create(name="Third")
    final = await kit.contacts.merge(third.id, ada.id)
    assert (await kit.contacts.get(dup.id)).id == third.id
    assert await kit.contacts.get(ada.id) == final


async def test_merge_keeps_the_survivors_attributes_and_fills_gaps(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(attributes={"plan": "pro"})
    dup = await kit.contacts.create(name="Ada", attributes={"plan": "free", "city": "Izmir"})
    kept = await kit.contacts.merge(ada.id, dup.id)
    assert kept.attributes == {"plan": "pro", "city": "Izmir"}
    assert kept.name == "Ada"


async def test_merge_moves_conversations_and_tickets_and_keeps_every_message(
    kit: AsyncChatKit,
) -> None:
    def receive(channel: str, sender: str, text: str) -> Awaitable[Inbound]:
        # The same signed-in visitor and the same authenticated mailbox each time.
        return kit.messages.receive(channel=channel, sender=sender, text=text, verified=True)

    web = await receive("web", "visitor-1", "web 1")
    await receive("web", "visitor-1", "web 2")
    mail = await receive("email", "ada@example.com", "mail 1")
    await receive("email", "ada@example.com", "mail 2")
    await kit.conversations.close(mail.conversation.id)
    later = await receive("email", "ada@example.com", "mail 3")
    ticket = await kit.tickets.create(conversation_id=mail.conversation.id, subject="Refund")
    before = await kit.store.last_position()

    await kit.contacts.merge(web.contact.id, mail.contact.id)

    moved = {mail.conversation.id, later.conversation.id}
    conversations = (await kit.conversations.list(contact_id=web.contact.id)).items
    assert {c.id for c in conversations} == moved | {web.conversation.id}
    assert all(c.contact_id == web.contact.id for c in conversations)
    assert (await kit.tickets.get(ticket.id)).contact_id == web.contact.id
    texts = {
        conv_id: [m.text for m in (await kit.messages.list(conv_id)).items]
        for conv_id in (web.conversation.id, mail.conversation.id, later.conversation.id)
    }
    assert texts == {
        web.conversation.id: ["web 1", "web 2"],
        mail.conversation.id: ["mail 1", "mail 2"],
        later.conversation.id: ["mail 3"],
    }
    [event] = await _events_after(kit, before)
    assert isinstance(event, ContactMerged)
    assert event.contact_id == web.contact.id
    assert event.merged_contact_id == mail.contact.id
    assert set(event.moved_conversation_ids) == moved
    assert event.moved_ticket_ids == [ticket.id]


async def test_merged_contact_has_no_conversations_left(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Dup")
    conv = await kit.conversations.create(contact_id=dup.id)
    await kit.contacts.merge(ada.id, dup.id)
    # Listing by the old id resolves to the survivor and finds the moved conversation.
    assert [c.id for c in (await kit.conversations.list(contact_id=dup.id)).items] == [conv.id]
    assert (await kit.conversations.get(conv.id)).contact_id == ada.id


async def test_merged_customer_id_can_still_write_into_the_moved_conversation(
    kit: AsyncChatKit,
) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Dup")
    conv = await kit.conversations.create(contact_id=dup.id)
    await kit.contacts.merge(ada.id, dup.id)
    message = await kit.messages.send(conv.id, "still me", author=Author.customer(dup.id))
    assert (await kit.messages.get(message.id)).text == "still me"


async def test_messages_from_a_merged_identity_land_with_the_survivor(kit: AsyncChatKit) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-1", text="hello")
    mail = await kit.contacts.create(identities=[("email", "ada@example.com")])
    await kit.contacts.merge(web.contact.id, mail.id)
    again = await kit.messages.receive(
        channel="email", sender="Ada@Example.com", text="by mail", verified=True
    )
    assert again.contact.id == web.contact.id
    assert again.conversation.id == web.conversation.id


async def test_merge_into_itself_is_an_error_and_writes_nothing(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.contacts.merge(ada.id, ada.id)
    assert await kit.store.last_position() == before
    assert await kit.contacts.get(ada.id) == ada


async def test_merge_with_an_alias_of_itself_is_an_error(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    dup = await kit.contacts.create(name="Dup")
    await kit.contacts.merge(ada.id, dup.id)
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError):
        await kit.contacts.merge(ada.id, dup.id)
    with pytest.raises(InvalidInputError):
        await kit.contacts.merge(dup.id, ada.id)
    assert await kit.store.last_position() == before


async def test_merge_with_an_unknown_contact_raises_not_found(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    before = await kit.store.last_position()
    with pytest.raises(NotFoundError):
        await kit.contacts.merge(ada.id, "ct_missing")
    with pytest.raises(NotFoundError):
        await kit.contacts.merge("ct_missing", ada.id)
    assert await kit.store.last_position() == before


# -- one customer, many channels -------------------------------------------------------------


async def test_customer_writing_on_web_sms_and_whatsapp_stays_one_contact_and_conversation(
    kit: AsyncChatKit,
) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-42", text="Hi from the site")
    await kit.contacts.add_identity(web.contact.id, ("phone", "+1 (555) 010-0000"))
    sms = await kit.messages.receive(channel="sms", sender="+1.555.010.0000", text="by SMS")
    whatsapp = await kit.messages.receive(
        channel="whatsapp", sender="0015550100000", text="by WhatsApp"
    )
    assert sms.contact.id == whatsapp.contact.id == web.contact.id
    assert sms.conversation.id == whatsapp.conversation.id == web.conversation.id
    assert not sms.new_conversation
    assert not whatsapp.new_conversation
    assert await _all_contact_ids(kit) == [web.contact.id]
    listed = (await kit.conversations.list(contact_id=web.contact.id)).items
    assert [c.id for c in listed] == [web.conversation.id]


async def test_conversation_records_every_channel_it_used(kit: AsyncChatKit) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-42", text="Hi")
    await kit.contacts.add_identity(web.contact.id, ("phone", "+15550100000"))
    await kit.messages.receive(channel="sms", sender="+1 555 010 0000", text="by SMS")
    await kit.messages.receive(channel="whatsapp", sender="+1 555 010 0000", text="by WhatsApp")
    await kit.messages.receive(channel="sms", sender="+1 555 010 0000", text="SMS again")
    conversation = await kit.conversations.get(web.conversation.id)
    assert conversation.channels == [Channel.WEB, Channel.SMS, Channel.WHATSAPP]
    assert conversation.channel is Channel.SMS  # the latest message's channel
    assert conversation.status is ConversationStatus.OPEN


async def test_context_history_spans_every_channel_in_order(kit: AsyncChatKit) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-42", text="Hi from the site")
    await kit.contacts.add_identity(web.contact.id, ("phone", "+1 (555) 010-0000"))
    await kit.messages.receive(channel="sms", sender="+1 555 010 0000", text="by SMS")
    await kit.messages.receive(channel="whatsapp", sender="+15550100000", text="by WhatsApp")
    context = await kit.conversations.context(web.conversation.id)
    assert [(m.channel, m.text) for m in context.history] == [
        (Channel.WEB, "Hi from the site"),
        (Channel.SMS, "by SMS"),
        (Channel.WHATSAPP, "by WhatsApp"),
    ]
    assert [m.seq for m in context.history] == [1, 2, 3]
    assert context.contact.id == web.contact.id


async def test_customer_back_after_a_resolved_chat_reopens_it_on_another_channel(
    kit: AsyncChatKit,
) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-42", text="Hi")
    await kit.contacts.add_identity(web.contact.id, ("phone", "+15550100000"))
    await kit.conversations.resolve(web.conversation.id)
    sms = await kit.messages.receive(channel="sms", sender="+1 555 010 0000", text="Back again")
    assert sms.conversation.id == web.conversation.id
    assert sms.conversation.status is ConversationStatus.OPEN
