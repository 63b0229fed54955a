"""Canned replies: stored, found by shortcut and language, suggested, rendered, sent,
counted under concurrency and reviewed monthly, on every store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from chatkit import AsyncChatKit, AuthorRole, InvalidInputError, NotFoundError
from chatkit.automation import CannedResponse
from chatkit.errors import TemplateError
from chatkit.events import (
    CannedReplyCreated,
    CannedReplyDeleted,
    CannedReplyUpdated,
    CannedReplyUsed,
    Event,
)
from chatkit.models import CannedReply
from chatkit.services.canned import CannedReplies

pytestmark = pytest.mark.anyio

LATE = "Sorry {{ contact.first_name | there }}, order {{ order.number }} is late."


def _canned(kit: AsyncChatKit) -> CannedReplies:
    return kit.canned


async def _events(kit: AsyncChatKit) -> list[Event]:
    return (await kit.events.list(limit=1000)).items


async def test_create_get_and_find_with_language_fallback(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    en = await canned.create(
        "/late-order", " Late order ", LATE, intents=["Order_Status"], tags=["Orders"]
    )
    us = await canned.create("/late-order", "Late order (US)", LATE, language="en_us")
    assert en.id.startswith("canned_")
    assert en.title == "Late order"
    assert (en.intents, en.tags, us.language) == (("order_status",), ("orders",), "en-US")
    assert await canned.get(en.id) == en
    assert (await canned.find("/late-order", "en-US")).id == us.id  # exact first
    assert (await canned.find("/late-order", "en-GB")).id == en.id  # then the base language
    assert (await canned.find("/late-order")).id == en.id
    with pytest.raises(NotFoundError):
        await canned.find("/late-order", "tr")
    with pytest.raises(NotFoundError):
        await canned.find("/missing", "en")
    with pytest.raises(NotFoundError):
        await canned.get("canned_nope")
    with pytest.raises(InvalidInputError) as caught:
        await canned.find("/late-order", "english")
    assert caught.value.field == "language"
    assert en.response() == CannedResponse(
        shortcut="/late-order", title="Late order", body=LATE, language="en",
        intents=["order_status"], tags=["orders"],
    )  # fmt: skip
    assert CannedReply.from_response(en.response(), id=en.id).response() == en.response()


async def test_duplicates_and_bad_input_write_nothing(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    await canned.create("/hello", "Hello", "Hi!")
    await canned.create("/hello", "Merhaba", "Merhaba!", language="tr")  # another language
    with pytest.raises(InvalidInputError) as caught:
        await canned.create("/hello", "Hello again", "Hi again!")
    assert caught.value.field == "shortcut"
    with pytest.raises(TemplateError) as bad:
        await canned.create("/broken", "Broken", "Hi {{ contact.name")
    assert (bad.value.field, bad.value.line, bad.value.column) == ("body", 1, 4)
    with pytest.raises(TemplateError):
        await canned.create("/secret", "Secret", "{{ settings.api_key }}")
    for shortcut, title, body, language in (
        ("hello", "Ok", "Ok", "en"),
        ("/Hello", "Ok", "Ok", "en"),
        ("/ok", "  ", "Ok", "en"),
        ("/ok", "Ok", "Ok", "english"),
        ("/ok", "Ok", "x" * 10_001, "en"),
        ("/ok", "Ok", "Ok\x00", "en"),
    ):
        with pytest.raises(InvalidInputError):
            await canned.create(shortcut, title, body, language=language)
    with pytest.raises(InvalidInputError) as labels:
        await canned.create("/ok", "Ok", "Ok", intents="order_status")  # not a list
    assert labels.value.field == "intents"
    page = await canned.list()
    assert [(r.shortcut, r.language) for r in page.items] == [("/hello", "en"), ("/hello", "tr")]
    created = [e for e in await _events(kit) if isinstance(e, CannedReplyCreated)]
    assert len(created) == 2


async def test_update_changes_only_what_is_given(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    reply = await canned.create("/late-order", "Late", LATE, intents=["order_status"])
    other = await canned.create("/refund", "Refund", "Refund on its way.")
    same = await canned.update(reply.id, title="Late")
    assert same == reply  # nothing differs: no write
    new = await canned.update(reply.id, body="Order {{ order.number }} is late.", tags=["Ops"])
    assert (new.version, new.title, new.tags, new.intents) == (
        2,
        "Late",
        ("ops",),
        ("order_status",),
    )
    with pytest.raises(TemplateError):
        await canned.update(reply.id, body="{{ order.number")
    with pytest.raises(InvalidInputError) as caught:
        await canned.update(other.id, shortcut="/late-order")
    assert caught.value.field == "shortcut"
    moved = await canned.update(other.id, shortcut="/late-order", language="de")
    assert (await canned.find("/late-order", "de-AT")).id == moved.id
    assert await canned.get(reply.id) == new
    with pytest.raises(NotFoundError):
        await canned.update("canned_nope", title="x")
    updates = [e for e in await _events(kit) if isinstance(e, CannedReplyUpdated)]
    assert [e.changed for e in updates] == [["body", "tags"], ["language", "shortcut"]]


async def test_delete_is_idempotent(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    reply = await canned.create("/bye", "Bye", "Bye!")
    await asyncio.gather(canned.delete(reply.id), canned.delete(reply.id))
    await canned.delete(reply.id)
    with pytest.raises(NotFoundError):
        await canned.get(reply.id)
    deleted = [e for e in await _events(kit) if isinstance(e, CannedReplyDeleted)]
    assert [(e.reply_id, e.shortcut, e.language) for e in deleted] == [(reply.id, "/bye", "en")]
    again = await canned.create("/bye", "Bye", "Bye again!")  # the shortcut is free again
    assert again.id != reply.id


async def test_list_pages_by_shortcut_then_language(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    for n in range(7):
        await canned.create(f"/s{n}", f"S{n}", "Hi", language="en")
        await canned.create(f"/s{n}", f"S{n}", "Hola", language="es")
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = await canned.list(limit=3, cursor=cursor)
        seen += [(r.shortcut, r.language) for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [(f"/s{n}", lang) for n in range(7) for lang in ("en", "es")]
    spanish = await canned.list(language="es", limit=100)
    assert [r.shortcut for r in spanish.items] == [f"/s{n}" for n in range(7)]
    with pytest.raises(InvalidInputError):
        await canned.list(limit=0)


async def test_suggest_puts_the_intent_first_within_the_language_family(
    kit: AsyncChatKit,
) -> None:
    canned = _canned(kit)
    popular = await canned.create("/greeting", "Greeting", "Hello!")
    late = await canned.create("/late", "Late", LATE, intents=["order_status"])
    late_us = await canned.create("/late", "Late", LATE, language="en-US", intents=["order_status"])
    billing = await canned.create("/invoice", "Invoice", "Invoice", topics=["billing"])
    await canned.create("/late", "Geç", "Gecikme", language="tr", intents=["order_status"])
    for _ in range(3):
        await canned.use(popular.id)
    found = await canned.suggest(intent="order_status", language="en-US", limit=10)
    assert [r.id for r in found] == [late_us.id, late.id, popular.id, billing.id]
    found = await canned.suggest(intent="order_status", language="en-GB", topic="billing")
    assert [r.id for r in found][:3] == [late.id, late_us.id, billing.id]
    assert [r.id for r in await canned.suggest(language="en", limit=1)] == [popular.id]
    assert await canned.suggest(language="ko") == []


async def test_render_fills_values_literally_and_never_leaves_braces(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    reply = await canned.create("/late-order", "Late", LATE)
    await canned.create(
        "/late-order", "Geç", "Siparişiniz {{ order.number }} gecikti.", language="tr"
    )
    context = {"contact": {"first_name": "Ada"}, "order": {"number": "A-17"}}
    assert await canned.render("/late-order", context) == "Sorry Ada, order A-17 is late."
    by_id = await canned.render(reply.id, {"order": {"number": 5}})
    assert by_id == "Sorry there, order 5 is late."
    assert await canned.render("/late-order", context, language="tr-TR") == (
        "Siparişiniz A-17 gecikti."
    )
    with pytest.raises(TemplateError) as missing:
        await canned.render("/late-order", {"contact": {"first_name": "Ada"}})
    assert missing.value.variable == "order.number"
    evil = {"contact": {"first_name": "{{agent.name}}"}, "order": {"number": "}}{{"}}
    text = await canned.render("/late-order", evil)
    assert text == "Sorry {{agent.name}}, order }}{{ is late."
    with pytest.raises(NotFoundError):
        await canned.render("/nope", context)


async def test_concurrent_uses_are_all_counted(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    reply = await canned.create("/thanks", "Thanks", "Thank you!")
    before = datetime.now(UTC)
    results = await asyncio.gather(*(canned.use(reply.id) for _ in range(20)))
    stored = await canned.get(reply.id)
    assert stored.usage_count == 20
    assert sorted(r.usage_count for r in results) == list(range(1, 21))
    assert stored.last_used_at is not None
    assert stored.last_used_at >= before
    used = [e for e in await _events(kit) if isinstance(e, CannedReplyUsed)]
    assert sorted(e.usage_count for e in used) == list(range(1, 21))
    with pytest.raises(NotFoundError):
        await canned.use("canned_nope")


async def test_due_for_review_lists_the_oldest_first(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    now = datetime.now(UTC)
    never = await canned.create("/never", "Never", "Never reviewed")
    old = await canned.create("/old", "Old", "Reviewed long ago")
    older = await canned.create("/older", "Older", "Reviewed longer ago")
    fresh = await canned.create("/fresh", "Fresh", "Reviewed yesterday")
    await canned.mark_reviewed(old.id, at=now - timedelta(days=40))
    await canned.mark_reviewed(older.id, at=now - timedelta(days=90))
    reviewed = await canned.mark_reviewed(fresh.id, at=now - timedelta(days=1))
    assert reviewed.last_reviewed_at == now - timedelta(days=1)
    assert reviewed.response().needs_review(now) is False
    due = await canned.due_for_review(now=now)
    assert [r.id for r in due] == [never.id, older.id, old.id]
    assert [r.id for r in await canned.due_for_review(timedelta(days=60), now=now)] == [
        never.id,
        older.id,
    ]
    assert [r.id for r in await canned.due_for_review(now=now, limit=1)] == [never.id]
    exactly = await canned.due_for_review(timedelta(days=1), now=now)
    assert fresh.id in [r.id for r in exactly]  # reviewed exactly `every` ago: due
    await canned.mark_reviewed(never.id)
    assert [r.id for r in await canned.due_for_review()] == [older.id, old.id]
    with pytest.raises(InvalidInputError):
        await canned.mark_reviewed(old.id, at=datetime(2024, 1, 1))  # naive
    with pytest.raises(InvalidInputError):
        await canned.due_for_review(timedelta(days=-1))
    updated = [e for e in await _events(kit) if isinstance(e, CannedReplyUpdated)]
    assert {tuple(e.changed) for e in updated} == {("last_reviewed_at",)}


async def test_send_renders_for_the_conversation_and_counts_the_use(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    agent = await kit.agents.create(name="Mia Wong")
    contact = await kit.contacts.create(name="{{agent.name}} Lovelace", attributes={"plan": "pro"})
    conv = await kit.conversations.create(contact_id=contact.id, subject="Order A-17")
    reply = await canned.create(
        "/late-order",
        "Late",
        "Hi {{ contact.first_name }} ({{ contact.plan }}), order {{ order.number }} "
        "({{ conversation.subject }}) is late. -- {{ agent.name }}",
    )
    message = await canned.send(
        conv.id, "/late-order", agent_id=agent.id, context={"order": {"number": "A-17"}}
    )
    assert message.text == ("Hi {{agent.name}} (pro), order A-17 (Order A-17) is late. -- Mia Wong")
    assert (message.author.role, message.author.id) == (AuthorRole.AGENT, agent.id)
    assert message.conversation_id == conv.id
    assert (await canned.get(reply.id)).usage_count == 1
    used = [e for e in await _events(kit) if isinstance(e, CannedReplyUsed)]
    assert [(e.conversation_id, e.message_id, e.usage_count) for e in used] == [
        (conv.id, message.id, 1)
    ]
    # Extra context wins over what the kit knows; nested values are merged.
    again = await canned.send(
        conv.id,
        reply.id,
        agent_id=agent.id,
        context={"contact": {"first_name": "Ms Lovelace"}, "order": {"number": 9}},
    )
    assert again.text.startswith("Hi Ms Lovelace (pro), order 9 ")
    assert (await canned.get(reply.id)).usage_count == 2


async def test_send_that_fails_sends_and_counts_nothing(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    agent = await kit.agents.create(name="Mia")
    contact = await kit.contacts.create()
    conv = await kit.conversations.create(contact_id=contact.id)
    reply = await canned.create("/late-order", "Late", LATE)
    with pytest.raises(TemplateError):  # no order number and no fallback
        await canned.send(conv.id, "/late-order", agent_id=agent.id)
    with pytest.raises(NotFoundError):
        await canned.send(conv.id, "/late-order", agent_id="agt_nope")
    with pytest.raises(NotFoundError):
        await canned.send("conv_nope", "/late-order", agent_id=agent.id)
    long = await canned.create("/long", "Long", "{{ order.number }}")
    with pytest.raises(InvalidInputError):  # the rendered text is over the message limit
        await canned.send(
            conv.id, "/long", agent_id=agent.id, context={"order": {"number": "x" * 20_000}}
        )
    assert (await kit.messages.list(conv.id)).items == []
    assert (await canned.get(reply.id)).usage_count == 0
    assert (await canned.get(long.id)).usage_count == 0
    assert not [e for e in await _events(kit) if isinstance(e, CannedReplyUsed)]


async def test_send_uses_the_conversation_language(kit: AsyncChatKit) -> None:
    canned = _canned(kit)
    agent = await kit.agents.create(name="Mia", languages=["tr"])
    conv = (await kit.messages.receive(channel="web", sender="v1", text="Merhaba")).conversation
    await kit.routing.route(conv.id, language="tr-TR")
    await canned.create("/hi", "Hi", "Hi {{ contact.first_name | there }}!")
    await canned.create(
        "/hi", "Merhaba", "Merhaba {{ contact.first_name | efendim }}!", language="tr"
    )
    message = await canned.send(conv.id, "/hi", agent_id=agent.id)
    assert message.text == "Merhaba efendim!"
    english = await canned.send(conv.id, "/hi", agent_id=agent.id, language="en")
    assert english.text == "Hi there!"
