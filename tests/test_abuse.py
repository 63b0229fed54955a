"""Abuse: incidents with exact times, blocks that refuse (and count) a sender's messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from chatkit import AsyncChatKit, InvalidInputError, NotFoundError
from chatkit.errors import ContactBlockedError
from chatkit.events import (
    AbuseIncidentRecorded,
    ContactBlocked,
    ContactUnblocked,
    Event,
    MessageRefused,
)
from chatkit.models import Author, BlockKind, Contact, IncidentCategory
from chatkit.services.abuse import Abuse

pytestmark = pytest.mark.anyio


async def events(kit: AsyncChatKit) -> list[Event]:
    return await kit.store.read_events(0, 10_000)


async def counts(kit: AsyncChatKit) -> tuple[int, int, int]:
    """Contacts, conversations and messages in the store."""
    store = kit.store
    from chatkit.models import Conversation, Message

    return (
        await store.count(Contact),
        await store.count(Conversation),
        await store.count(Message),
    )


async def test_an_incident_keeps_who_when_what_and_which_messages(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    inbound = await kit.messages.receive(
        channel="web", sender="troll", text="you are useless", verified=True
    )
    second = await kit.messages.receive(channel="web", sender="troll", text="!!!", verified=True)
    mia = await kit.agents.create(name="Mia")
    at = datetime(2025, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)
    incident = await abuse.record(
        inbound.contact.id,
        category="harassment",
        reported_by=Author.agent(mia.id),
        conversation_id=inbound.conversation.id,
        message_ids=[inbound.message.id, second.message.id],
        note="insults after a refund was refused",
        occurred_at=at,
    )
    assert incident.category is IncidentCategory.HARASSMENT
    assert incident.occurred_at == at  # to the microsecond, on every store
    assert incident.occurred_key.startswith("2025-05-01T09:30:00.123456Z|inc_")
    page = await abuse.incidents(contact_id=inbound.contact.id)
    assert page.items == [incident]
    recorded = [e for e in await events(kit) if isinstance(e, AbuseIncidentRecorded)]
    assert recorded[0].incident == incident
    assert recorded[0].contact_id == inbound.contact.id


async def test_a_rule_can_report_and_bad_reports_change_nothing(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    a = await kit.messages.receive(channel="web", sender="a", text="buy cheap pills")
    b = await kit.messages.receive(channel="web", sender="b", text="hello")
    by_rule = await abuse.record(
        a.contact.id, category="spam", reported_by=Author.bot("rule:spam-words")
    )
    assert by_rule.reported_by.id == "rule:spam-words"
    before = len(await events(kit))
    with pytest.raises(InvalidInputError, match="category"):
        await abuse.record(a.contact.id, category="rude", reported_by=Author.bot())
    with pytest.raises(InvalidInputError, match="reported_by"):
        await abuse.record(a.contact.id, category="spam", reported_by=Author.customer(b.contact.id))
    with pytest.raises(NotFoundError):
        await abuse.record(a.contact.id, category="spam", reported_by=Author.agent("ag_missing"))
    with pytest.raises(InvalidInputError, match="not the contact's"):
        await abuse.record(
            a.contact.id,
            category="spam",
            reported_by=Author.bot(),
            conversation_id=b.conversation.id,
        )
    with pytest.raises(InvalidInputError, match="messages of the conversation"):
        await abuse.record(
            a.contact.id,
            category="spam",
            reported_by=Author.bot(),
            conversation_id=a.conversation.id,
            message_ids=[b.message.id],
        )
    with pytest.raises(NotFoundError):
        await abuse.record(
            a.contact.id,
            category="spam",
            reported_by=Author.bot(),
            conversation_id=a.conversation.id,
            message_ids=["msg_missing"],
        )
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        await abuse.record(
            a.contact.id,
            category="spam",
            reported_by=Author.bot(),
            occurred_at=datetime(2025, 1, 1),
        )
    assert len(await events(kit)) == before


async def test_incidents_by_contact_and_period_in_time_order(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    a = (await kit.messages.receive(channel="web", sender="a", text="x")).contact
    b = (await kit.messages.receive(channel="web", sender="b", text="y")).contact
    start = datetime(2025, 3, 1, tzinfo=UTC)
    made = []
    for day, who in [(5, a), (1, b), (3, a), (9, a), (7, b)]:
        made.append(
            await abuse.record(
                who.id,
                category="spam",
                reported_by=Author.bot(),
                occurred_at=start + timedelta(days=day),
            )
        )
    days = lambda page: [(i.occurred_at - start).days for i in page.items]  # noqa: E731
    assert days(await abuse.incidents()) == [1, 3, 5, 7, 9]
    assert days(await abuse.incidents(contact_id=a.id)) == [3, 5, 9]
    week = await abuse.incidents(since=start + timedelta(days=3), until=start + timedelta(days=8))
    assert days(week) == [3, 5, 7]
    assert days(await abuse.incidents(contact_id=b.id, since=start + timedelta(days=2))) == [7]
    first = await abuse.incidents(limit=2, until=start + timedelta(days=8))
    assert days(first) == [1, 3]
    rest = await abuse.incidents(limit=2, cursor=first.next_cursor, until=start + timedelta(days=8))
    assert days(rest) == [5, 7]
    assert rest.next_cursor is None


async def test_a_blocked_contact_is_refused_stored_nowhere_and_counted(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    inbound = await kit.messages.receive(channel="sms", sender="+90 555 010 0000", text="hi")
    contact = inbound.contact
    [block] = await abuse.block(contact_id=contact.id, note="threats", blocked_by=Author.bot())
    assert block.kind is BlockKind.CONTACT
    assert (await kit.contacts.get(contact.id)).blocked  # typing previews dropped too
    before = await counts(kit)

    with pytest.raises(ContactBlockedError) as caught:
        await kit.messages.receive(channel="sms", sender="+905550100000", text="let me in")
    assert caught.value.block_id == block.id
    assert caught.value.contact_id == contact.id
    with pytest.raises(ContactBlockedError):
        await kit.messages.send(
            inbound.conversation.id, "direct", author=Author.customer(contact.id)
        )
    # Closed and written again: still no new conversation for a blocked contact.
    await kit.conversations.close(inbound.conversation.id)
    before = await counts(kit)
    with pytest.raises(ContactBlockedError):
        await kit.messages.receive(channel="whatsapp", sender="+905550100000", text="new chat")
    assert await counts(kit) == before
    assert (await abuse.get_block(block.id)).refused == 3
    refused = [e for e in await events(kit) if isinstance(e, MessageRefused)]
    assert [e.refused for e in refused] == [1, 2, 3]
    assert all("let me in" not in e.model_dump_json() for e in await events(kit))
    assert await abuse.is_blocked(contact_id=contact.id) == await abuse.get_block(block.id)

    # Agents can still write to the contact.
    [lifted] = await abuse.unblock(contact_id=contact.id)
    assert lifted.refused == 3
    assert not (await kit.contacts.get(contact.id)).blocked
    back = await kit.messages.receive(channel="sms", sender="+905550100000", text="sorry")
    assert back.message.text == "sorry"
    assert await abuse.unblock(contact_id=contact.id) == []  # idempotent
    kinds = [type(e) for e in await events(kit)]
    assert kinds.count(ContactBlocked) == 1
    assert kinds.count(ContactUnblocked) == 1


async def test_concurrent_refused_messages_are_all_counted(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    inbound = await kit.messages.receive(channel="web", sender="spammer", text="first")
    [block] = await abuse.block(contact_id=inbound.contact.id)
    refusals: list[ContactBlockedError] = []

    async def spam(n: int) -> None:
        try:
            await kit.messages.receive(channel="web", sender="spammer", text=f"spam {n}")
        except ContactBlockedError as exc:
            refusals.append(exc)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(spam, n)
    assert len(refusals) == 20
    assert (await abuse.get_block(block.id)).refused == 20
    refused = sorted(e.refused for e in await events(kit) if isinstance(e, MessageRefused))
    assert refused == list(range(1, 21))
    assert (await kit.messages.list(inbound.conversation.id)).items[-1].text == "first"


async def test_identity_ip_and_email_domain_blocks_in_receive(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    blocks = await abuse.block(
        identity=("email", "Troll@Example.com"),
        ip="203.0.113.7",
        email_domain="@Spam.Example",
        note="bot wave",
    )
    assert [(b.kind.value, b.value) for b in blocks] == [
        ("identity", "email:troll@example.com"),
        ("ip", "203.0.113.7"),
        ("email_domain", "spam.example"),
    ]
    before = await counts(kit)
    with pytest.raises(ContactBlockedError) as by_identity:
        await kit.messages.receive(channel="email", sender="troll@example.com", text="hi")
    assert by_identity.value.kind == "identity"
    assert by_identity.value.contact_id is None
    with pytest.raises(ContactBlockedError) as by_ip:
        await kit.messages.receive(channel="web", sender="visitor-9", text="hi", ip="203.0.113.7")
    assert by_ip.value.kind == "ip"
    with pytest.raises(ContactBlockedError) as by_domain:
        await kit.messages.receive(
            channel="web", sender="visitor-9", text="hi", email="x@mail.spam.example"
        )
    assert by_domain.value.kind == "email_domain"
    with pytest.raises(ContactBlockedError):
        await kit.messages.receive(channel="email", sender="anyone@spam.example", text="hi")
    assert await counts(kit) == before  # no contact, conversation or message

    ok = await kit.messages.receive(
        channel="web", sender="visitor-9", text="hi", ip="203.0.113.8", email="x@example.com"
    )
    assert ok.message.text == "hi"
    assert sorted(b.refused for b in (await abuse.blocks()).items) == [1, 1, 2]
    assert [b.kind for b in (await abuse.blocks(kind="ip")).items] == [BlockKind.IP]

    lifted = await abuse.unblock(ip="203.0.113.7")
    assert [b.kind for b in lifted] == [BlockKind.IP]
    assert await kit.messages.receive(channel="web", sender="v10", text="hi", ip="203.0.113.7")
    with pytest.raises(InvalidInputError, match="ip"):
        await kit.messages.receive(channel="web", sender="v11", text="hi", ip="not-an-ip")


async def test_blocking_twice_keeps_one_block(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    [first] = await abuse.block(ip="2001:db8::1")
    [again] = await abuse.block(ip="2001:0db8:0:0::1")
    assert again == first
    results = await abuse.block(ip="198.51.100.1"), await abuse.block(ip="198.51.100.1")
    assert results[0] == results[1]
    assert len((await abuse.blocks()).items) == 2


async def test_bad_blocks_are_refused(kit: AsyncChatKit) -> None:
    abuse = Abuse(kit._core)
    with pytest.raises(InvalidInputError, match="say what to block"):
        await abuse.block()
    with pytest.raises(InvalidInputError, match="ip"):
        await abuse.block(ip="999.1.1.1")
    with pytest.raises(InvalidInputError, match="email_domain"):
        await abuse.block(email_domain="not a domain")
    with pytest.raises(NotFoundError):
        await abuse.block(contact_id="ct_missing")
    with pytest.raises(InvalidInputError):
        await abuse.block(identity=("email", "nope"))
    assert (await abuse.blocks()).items == []
