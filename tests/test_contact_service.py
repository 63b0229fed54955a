"""Contacts: identities, one history across channels, attributes, merging."""

from __future__ import annotations

import asyncio

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    DuplicateIdentityError,
    Identity,
    InvalidInputError,
    NotFoundError,
)
from chatkit.models import Channel

pytestmark = pytest.mark.anyio


async def test_identities_are_normalised_and_found(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(
        name="Ada", identities=[("email", "Ada@Example.COM"), ("phone", "+1 (555) 010-0000")]
    )
    assert [i.value for i in ada.identities] == ["ada@example.com", "+15550100000"]
    assert (await kit.contacts.find(("email", "ada@example.com"))) == ada
    assert (await kit.contacts.find(("phone", "+1.555.010.0000"))) == ada
    assert await kit.contacts.find(("email", "nobody@example.com")) is None


async def test_identity_of_another_contact_is_refused_and_nothing_written(
    kit: AsyncChatKit,
) -> None:
    ada = await kit.contacts.create(identities=[("email", "ada@example.com")])
    before = await kit.store.last_position()
    with pytest.raises(DuplicateIdentityError) as caught:
        await kit.contacts.create(name="Imposter", identities=[("email", "ADA@example.com")])
    assert caught.value.contact_id == ada.id
    assert await kit.store.last_position() == before
    assert len((await kit.contacts.list()).items) == 1
    bob = await kit.contacts.create(name="Bob")
    with pytest.raises(DuplicateIdentityError):
        await kit.contacts.add_identity(bob.id, ("email", "ada@example.com"))
    assert (await kit.contacts.get(bob.id)).identities == []


async def test_concurrent_identify_yields_one_contact(kit: AsyncChatKit) -> None:
    found = await asyncio.gather(
        *(kit.contacts.identify(("web", "visitor-1"), name="V", verified=True) for _ in range(8))
    )
    assert len({c.id for c in found}) == 1
    assert len((await kit.contacts.list()).items) == 1


async def test_attributes_merge_and_none_deletes(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(attributes={"plan": "free", "seats": 1})
    updated = await kit.contacts.update(ada.id, attributes={"plan": "pro", "seats": None})
    assert updated.attributes == {"plan": "pro"}
    assert updated.version == ada.version + 1
    same = await kit.contacts.update(ada.id, attributes={"plan": "pro"})
    assert same.version == updated.version  # no change, no write


async def test_list_pages_without_gaps_or_repeats(kit: AsyncChatKit) -> None:
    created = {(await kit.contacts.create(name=f"c{n}")).id for n in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = await kit.contacts.list(limit=3, cursor=cursor)
        seen += [c.id for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


async def test_customer_keeps_one_history_across_web_sms_and_whatsapp(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="visitor-9", text="Hi from the site")
    await kit.contacts.add_identity(first.contact.id, ("phone", "+90 555 010 0000"))
    sms = await kit.messages.receive(channel="sms", sender="0090-555-010-0000", text="by SMS")
    wa = await kit.messages.receive(channel="whatsapp", sender="+905550100000", text="by WhatsApp")
    assert sms.contact.id == wa.contact.id == first.contact.id
    assert sms.conversation.id == wa.conversation.id == first.conversation.id
    conversation = await kit.conversations.get(first.conversation.id)
    assert conversation.channels == [Channel.WEB, Channel.SMS, Channel.WHATSAPP]
    context = await kit.conversations.context(conversation.id)
    assert [(m.channel.value, m.text) for m in context.history] == [
        ("web", "Hi from the site"),
        ("sms", "by SMS"),
        ("whatsapp", "by WhatsApp"),
    ]


async def test_merge_keeps_every_conversation_and_message(kit: AsyncChatKit) -> None:
    web = await kit.messages.receive(channel="web", sender="visitor-1", text="web chat")
    mail = await kit.messages.receive(channel="email", sender="ada@example.com", text="e-mail")
    await kit.tickets.create(conversation_id=mail.conversation.id, subject="follow up")
    await kit.contacts.update(web.contact.id, attributes={"plan": "pro"})
    await kit.contacts.update(mail.contact.id, attributes={"plan": "free", "city": "Izmir"})
    kept = await kit.contacts.merge(web.contact.id, mail.contact.id)
    assert {i.key for i in kept.identities} == {"web:visitor-1", "email:ada@example.com"}
    assert kept.attributes == {"plan": "pro", "city": "Izmir"}
    assert (await kit.contacts.get(mail.contact.id)).id == kept.id
    conversations = (await kit.conversations.list(contact_id=kept.id)).items
    assert {c.id for c in conversations} == {web.conversation.id, mail.conversation.id}
    tickets = (await kit.tickets.list(contact_id=kept.id)).items
    assert [t.subject for t in tickets] == ["follow up"]
    context = await kit.conversations.context(web.conversation.id)
    assert [m.text for m in context.history] == ["web chat", "e-mail"]
    again = await kit.messages.receive(
        channel="email", sender="ada@example.com", text="again", verified=True
    )
    assert again.contact.id == kept.id
    # The merged id still writes into its (moved) conversation.
    await kit.messages.send(mail.conversation.id, "old id", author=Author.customer(mail.contact.id))
    merged = [e for e in (await kit.events.list(limit=500)).items if e.type == "contact.merged"]
    assert len(merged) == 1


async def test_merge_errors(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada")
    with pytest.raises(InvalidInputError):
        await kit.contacts.merge(ada.id, ada.id)
    with pytest.raises(NotFoundError):
        await kit.contacts.merge(ada.id, "ct_missing")


def test_identity_model_rejects_bad_values() -> None:
    for kind, value in [("email", "not-an-address"), ("phone", "12"), ("external", "no-colon")]:
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError
            Identity(kind=kind, value=value)  # type: ignore[arg-type]
