"""Understanding inside the kit: analysis on each customer message, mood, automatic replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    AutoReplySettings,
    BusinessHours,
    ChatKit,
    ChatKitSettings,
    InvalidInputError,
    Priority,
    UnderstandingSettings,
)
from chatkit.events import ConversationMoodChanged

pytestmark = pytest.mark.anyio

LATE = "I ordered on August 1st, it's 4 days late, my order number is 245-12784"
ANGRY = "Nobody answered for two days and your team is terrible. This is unacceptable!"


async def _kit(store_url: str, tmp_path: Path, **settings: Any) -> AsyncChatKit:
    blobs = None
    if store_url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    kit = AsyncChatKit(store_url, settings=ChatKitSettings(**settings), blobs=blobs)
    await kit.open()
    return kit


@pytest.fixture
async def replying(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """A kit with automatic replies on."""
    kit = await _kit(store_url, tmp_path, auto_replies=AutoReplySettings(enabled=True))
    try:
        yield kit
    finally:
        await kit.close()


async def test_each_customer_message_carries_its_analysis(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v1", text=LATE)
    analysis = inbound.message.analysis
    assert analysis is not None
    assert (analysis.language, analysis.intent) == ("en", "order_status")
    assert analysis.entity_values("order_number") == ["245-12784"]
    conversation = inbound.conversation
    assert conversation.intent == "order_status"
    assert conversation.language == "en"
    assert conversation.mood is not None
    stored = (await kit.messages.list(conversation.id)).items[0]
    assert stored.analysis == analysis  # written with the message
    # Agents' messages and notes are not analysed.
    mia = await kit.agents.create(name="Mia")
    reply = await kit.messages.send(conversation.id, "On it!", author=Author.agent(mia.id))
    assert reply.analysis is None


async def test_korean_and_turkish_messages_are_understood(kit: AsyncChatKit) -> None:
    tr = await kit.messages.receive(channel="web", sender="t1", text="Siparişim hâlâ gelmedi!")
    assert tr.message.analysis is not None
    assert tr.message.analysis.language == "tr"
    assert tr.conversation.language == "tr"
    ko = await kit.messages.receive(channel="web", sender="k1", text="배송이 너무 늦어요")
    assert ko.message.analysis is not None
    assert ko.message.analysis.language == "ko"


async def test_the_mood_follows_the_customer_and_worsening_is_an_event(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="v1", text="Hi, thanks, great app!")
    conv = first.conversation
    assert conv.mood is not None
    assert conv.mood > 0
    contact = Author.customer(first.contact.id)
    await kit.messages.send(conv.id, "It still does not work, this is bad", author=contact)
    await kit.messages.send(conv.id, "Terrible. I am furious, worst service ever!", author=contact)
    angry = await kit.conversations.get(conv.id)
    assert angry.mood is not None
    assert angry.mood < 0
    assert angry.mood_trend is not None
    assert angry.mood_trend < 0
    events = (await kit.events.list(limit=500)).items
    changes = [e for e in events if isinstance(e, ConversationMoodChanged)]
    assert changes
    assert changes[-1].label == "negative"
    assert any(e.worsening for e in changes)


async def test_understanding_can_be_turned_off(store_url: str, tmp_path: Path) -> None:
    kit = await _kit(store_url, tmp_path, understanding=UnderstandingSettings(enabled=False))
    try:
        inbound = await kit.messages.receive(channel="web", sender="v1", text=LATE)
        assert inbound.message.analysis is None
        assert inbound.conversation.mood is None
    finally:
        await kit.close()


async def test_your_own_intents_join_the_built_in_ones(store_url: str, tmp_path: Path) -> None:
    warranty = {
        "name": "warranty_claim",
        "languages": {
            "en": {"keywords": {"warranty": 3, "guarantee": 3}},
            "tr": {"keywords": {"garanti": 3}},
        },
    }
    kit = await _kit(
        store_url,
        tmp_path,
        understanding=UnderstandingSettings.model_validate({"intents": [warranty]}),
    )
    try:
        found = await kit.understanding.analyze("Is my blender still under warranty?")
        assert found.intent == "warranty_claim"
        tr = await kit.understanding.analyze("Blenderim garanti kapsamında mı?")
        assert tr.intent == "warranty_claim"
        late = await kit.understanding.analyze("Where is my order 245-12784?")
        assert late.intent == "order_status"  # the built-in ones stay
        with pytest.raises(InvalidInputError):
            UnderstandingSettings.model_validate(
                {"intents": [{"name": "Bad Name!", "languages": {}}]}
            )
    finally:
        await kit.close()


async def test_analyze_rejects_empty_text(kit: AsyncChatKit) -> None:
    with pytest.raises(InvalidInputError):
        await kit.understanding.analyze("  ")
    found = await kit.understanding.analyze("Where is my parcel 245-12784?")
    assert found.intent == "order_status"


async def test_question_patterns_and_negative_words_over_a_period(kit: AsyncChatKit) -> None:
    texts = [
        "My delivery hasn't arrived yet",
        "Where is my parcel? It has not arrived",
        "my package has not arrived, where is it",
        "I can't log in to my account",
        "I cannot sign in to my account, password reset fails",
    ]
    since = datetime.now(UTC) - timedelta(seconds=1)
    for n, text in enumerate(texts):
        await kit.messages.receive(channel="web", sender=f"p{n}", text=text)
    patterns = await kit.understanding.patterns(since=since)
    assert patterns
    top = patterns[0]
    assert top.count >= 2
    assert top.intent == "order_status"
    assert len(top.conversation_ids) == top.count
    later = await kit.understanding.patterns(since=datetime.now(UTC) + timedelta(hours=1))
    assert later == []
    terms = await kit.understanding.negative_terms(since=since)
    assert terms
    with pytest.raises(InvalidInputError):
        await kit.understanding.patterns(since=datetime(2026, 1, 1))  # naive


# -- automatic replies -------------------------------------------------------------


async def test_the_late_order_is_answered_to_the_point(replying: AsyncChatKit) -> None:
    inbound = await replying.messages.receive(channel="web", sender="v1", text=LATE, verified=True)
    ack = inbound.acknowledgement
    assert ack is not None
    assert ack.text == "Sorry your order 245-12784 is late — I'm checking its status now."
    assert ack.author.role.value == "bot"
    assert "how can we help" not in ack.text.lower()
    # The next message of the same conversation gets no second automatic reply.
    again = await replying.messages.receive(
        channel="web", sender="v1", text="hello?", verified=True
    )
    assert again.acknowledgement is None


async def test_an_angry_customer_gets_an_apology_and_goes_first(replying: AsyncChatKit) -> None:
    inbound = await replying.messages.receive(channel="web", sender="v2", text=ANGRY)
    ack = inbound.acknowledgement
    assert ack is not None
    assert ack.text.startswith("I'm really sorry")
    assert "!" not in ack.text.split(".")[0]  # no cheerful greeting
    conversation = await replying.conversations.get(inbound.conversation.id)
    assert conversation.priority is Priority.HIGH


async def test_greetings_in_the_customers_language(replying: AsyncChatKit) -> None:
    tr = await replying.messages.receive(channel="web", sender="t1", text="Merhaba, iyi günler")
    assert tr.acknowledgement is not None
    assert tr.acknowledgement.text.startswith("Merhaba!")
    en = await replying.messages.receive(channel="web", sender="e1", text="Hello there")
    assert en.acknowledgement is not None
    assert en.acknowledgement.text.startswith("Hi there!")


async def test_a_waiting_customer_is_told_their_place_once(replying: AsyncChatKit) -> None:
    await replying.teams.create("support")
    first = await replying.messages.receive(channel="web", sender="q1", text="Hello")
    second = await replying.messages.receive(channel="web", sender="q2", text="Hello")
    await replying.routing.route(first.conversation.id, team="support")
    result = await replying.routing.route(second.conversation.id, team="support")
    assert result.queued
    assert result.position == 2
    messages = (await replying.messages.list(second.conversation.id)).items
    told = [m.text for m in messages if m.metadata.get("auto_reply") == "queued"]
    assert len(told) == 1
    assert told[0].startswith("You are number 2 in line.")
    assert "minutes" in told[0]
    await replying.routing.route(second.conversation.id, team="support")  # asked again
    messages = (await replying.messages.list(second.conversation.id)).items
    assert len([m for m in messages if m.metadata.get("auto_reply") == "queued"]) == 1


async def test_a_closed_team_says_when_it_opens_in_the_customers_zone(
    replying: AsyncChatKit,
) -> None:
    now = datetime.now(UTC)
    opens = (now + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][opens.weekday()]
    hours = BusinessHours.weekly(
        "UTC", {day: f"{opens:%H}:00-{opens.hour + 1 if opens.hour < 23 else 23}:59"}
    )
    if hours.is_open(now):
        pytest.skip("the window happens to be open right now")
    await replying.teams.create("night", hours=hours)
    contact = await replying.contacts.create(
        name="Ece", attributes={"time_zone": "Europe/Istanbul"}
    )
    conv = await replying.conversations.create(contact_id=contact.id)
    result = await replying.routing.route(conv.id, team="night", language="tr")
    assert result.queued
    assert not result.open_now
    messages = (await replying.messages.list(conv.id)).items
    notice = [m.text for m in messages if m.metadata.get("auto_reply") == "closed"]
    assert len(notice) == 1
    local = result.opens_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Istanbul"))  # type: ignore[union-attr]
    assert f"{local:%H:%M}" in notice[0]
    assert notice[0].startswith("Şu anda kapal")  # Turkish, the contact's language


async def test_replies_are_rate_limited_per_conversation(store_url: str, tmp_path: Path) -> None:
    kit = await _kit(
        store_url, tmp_path, auto_replies=AutoReplySettings(enabled=True, max_replies=1)
    )
    try:
        await kit.teams.create("support")
        inbound = await kit.messages.receive(channel="web", sender="r1", text="Hello")
        assert inbound.acknowledgement is not None
        result = await kit.routing.route(inbound.conversation.id, team="support")
        assert result.queued
        messages = (await kit.messages.list(inbound.conversation.id)).items
        assert [m.metadata.get("auto_reply") for m in messages if m.author.role.value == "bot"] == [
            "greeting"
        ]
    finally:
        await kit.close()


def test_bad_reply_settings_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        ChatKitSettings.model_validate({"auto_replies": {"greeting": {"en": "Hi {{ nope.x }}"}}})
    with pytest.raises(InvalidInputError):
        ChatKitSettings.model_validate({"auto_replies": {"greeting": {}}})


def test_the_sync_kit_understands_too() -> None:
    with ChatKit("memory://") as kit:
        found = kit.understanding.analyze("배송이 너무 늦어요")
        assert found.language == "ko"
