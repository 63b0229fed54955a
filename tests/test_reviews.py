"""The review loop: best, worst and angriest chats in order, with reviewers' notes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatkit import AsyncChatKit, InvalidInputError, NotFoundError
from chatkit.events import ReviewNoteAdded
from chatkit.models import Conversation, utcnow
from chatkit.services.reviews import Reviews
from chatkit.services.surveys import Surveys

pytestmark = pytest.mark.anyio


async def rated(kit: AsyncChatKit, sender: str, overall: int) -> Conversation:
    """A resolved conversation whose survey got ``overall`` on every 1-5 question."""
    inbound = await kit.messages.receive(channel="web", sender=sender, text="help")
    conv = await kit.conversations.resolve(inbound.conversation.id)
    surveys = Surveys(kit._core)
    survey = await surveys.send(conv.id)
    agreement = ["strongly_disagree", "disagree", "neutral", "agree", "strongly_agree"]
    await surveys.answer(
        survey.id,
        {
            "overall": overall,
            "time_to_resolve": overall,
            "agent_helped": agreement[overall - 1],
            "use_again": overall,
        },
    )
    return conv


async def test_worst_and_best_queues_in_score_order_with_notes(kit: AsyncChatKit) -> None:
    reviews = Reviews(kit._core)
    lead = await kit.agents.create(name="Lead")
    convs = {n: await rated(kit, f"v{n}", n) for n in (3, 1, 5, 2, 4)}

    worst = await reviews.queue("worst", limit=3)
    assert [i.conversation.id for i in worst] == [convs[1].id, convs[2].id, convs[3].id]
    assert [i.survey.score for i in worst if i.survey] == [0.0, 0.25, 0.5]
    best = await reviews.queue("best", limit=2)
    assert [i.conversation.id for i in best] == [convs[5].id, convs[4].id]

    first = await reviews.add_note(convs[1].id, lead.id, "Never promise a date you cannot keep.")
    second = await reviews.add_note(convs[1].id, lead.id, "Good apology at the end.")
    assert first.reviewer_id == lead.id
    assert first.created_at <= second.created_at
    again = await reviews.queue("worst", limit=1)
    assert [n.text for n in again[0].notes] == [first.text, second.text]
    assert await reviews.notes(convs[2].id) == []
    added = [e for e in await kit.store.read_events(0, 10_000) if isinstance(e, ReviewNoteAdded)]
    assert [e.note.id for e in added] == [first.id, second.id]
    assert added[0].conversation_id == convs[1].id


async def test_the_queue_keeps_to_the_period(kit: AsyncChatKit) -> None:
    reviews = Reviews(kit._core)
    await rated(kit, "old", 1)
    cut = utcnow()
    recent = await rated(kit, "new", 2)
    assert [i.conversation.id for i in await reviews.queue("worst", since=cut)] == [recent.id]
    later = cut + timedelta(days=1)
    assert await reviews.queue("worst", since=later) == []


async def test_angriest_by_mood(kit: AsyncChatKit) -> None:
    reviews = Reviews(kit._core)
    moods = {"calm": 0.6, "furious": -0.9, "cross": -0.4, "unmeasured": None}
    ids = {}
    for sender, mood in moods.items():
        inbound = await kit.messages.receive(channel="web", sender=sender, text="ok")
        ids[sender] = inbound.conversation.id
        if mood is not None:
            await kit.routing.set_mood(inbound.conversation.id, mood)
    angriest = await reviews.queue("angriest", limit=2)
    assert [i.conversation.id for i in angriest] == [ids["furious"], ids["cross"]]
    assert [i.mood for i in angriest] == [-0.9, -0.4]
    assert all(i.survey is None for i in angriest)


async def test_bad_review_input(kit: AsyncChatKit) -> None:
    reviews = Reviews(kit._core)
    lead = await kit.agents.create(name="Lead")
    inbound = await kit.messages.receive(channel="web", sender="v", text="hi")
    with pytest.raises(InvalidInputError, match="unknown review queue"):
        await reviews.queue("loudest")
    with pytest.raises(InvalidInputError):
        await reviews.queue("worst", limit=0)
    with pytest.raises(InvalidInputError, match="since"):
        await reviews.queue("worst", since="last week")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await reviews.add_note("conv_missing", lead.id, "x")
    with pytest.raises(NotFoundError):
        await reviews.add_note(inbound.conversation.id, "ag_missing", "x")
    with pytest.raises(InvalidInputError):
        await reviews.add_note(inbound.conversation.id, lead.id, "   ")
    assert await reviews.notes(inbound.conversation.id) == []
