"""CSAT surveys end to end: sent once per resolution, answered once, expiring, followed up."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, ChatKitSettings, InvalidInputError, InvalidTransitionError
from chatkit.automation import RuleSet
from chatkit.automation.rules import trigger_of
from chatkit.events import Event, SurveyAnswered, SurveyExpired, SurveyFollowUp, SurveySent
from chatkit.models import (
    Author,
    Conversation,
    Priority,
    SurveyForm,
    SurveySettings,
    SurveyStatus,
    utcnow,
)
from chatkit.services.surveys import Surveys

pytestmark = pytest.mark.anyio

GOOD = {"overall": 5, "time_to_resolve": 4, "agent_helped": "strongly_agree", "use_again": 5}
BAD = {"overall": 1, "time_to_resolve": 2, "agent_helped": "disagree", "use_again": 1}


async def resolved(kit: AsyncChatKit, sender: str = "visitor-1") -> Conversation:
    """A customer asks, an agent answers, the conversation is resolved."""
    inbound = await kit.messages.receive(
        channel="web", sender=sender, text="Where is my order?", verified=True
    )
    mia = await kit.agents.create(name=f"Mia {sender}", max_concurrent_chats=5)
    conv = inbound.conversation
    await kit.conversations.assign(conv.id, mia.id)
    await kit.messages.send(conv.id, "It ships today.", author=Author.agent(mia.id))
    return await kit.conversations.resolve(conv.id)


async def events(kit: AsyncChatKit) -> list[Event]:
    return await kit.store.read_events(0, 10_000)


async def test_a_low_rating_opens_a_supervisor_ticket_with_the_transcript(
    kit: AsyncChatKit,
) -> None:
    surveys = Surveys(kit._core, SurveySettings(follow_up_team="supervisors"))
    conv = await resolved(kit)

    survey = await surveys.send(conv.id)
    assert survey.status is SurveyStatus.SENT
    assert survey.agent_id == conv.assignee_id
    message = await kit.messages.get(survey.message_id or "")
    assert message.metadata["survey_id"] == survey.id
    assert "Overall, how satisfied" in message.text
    assert message.author.role.value == "bot"
    assert (await kit.conversations.get(conv.id)).status.value == "resolved"

    answered = await surveys.answer(survey.id, BAD, "Took far too long")
    assert answered.status is SurveyStatus.ANSWERED
    assert answered.low_rating
    assert answered.score is not None
    assert answered.score < 0.2
    assert answered.follow_up_ticket_id is not None

    ticket = await kit.tickets.get(answered.follow_up_ticket_id)
    assert ticket.priority is Priority.HIGH
    assert ticket.team == "supervisors"
    assert ticket.conversation_id == conv.id
    assert survey.id in ticket.subject
    note = ticket.notes[0].text
    assert "Where is my order?" in note
    assert "It ships today." in note
    assert "Took far too long" in note

    kinds = [e.type for e in await events(kit)]
    assert kinds.index("survey.sent") < kinds.index("survey.answered")
    assert kinds.index("survey.answered") < kinds.index("ticket.created")
    assert kinds.index("ticket.created") < kinds.index("survey.follow_up")
    follow = [e for e in await events(kit) if isinstance(e, SurveyFollowUp)]
    assert follow[0].ticket_id == ticket.id
    assert follow[0].survey_id == survey.id
    rated = [e for e in await events(kit) if isinstance(e, SurveyAnswered)]
    assert rated[0].low_rating
    assert trigger_of(rated[0]) == "rating.received"


async def test_a_good_rating_opens_nothing(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core)
    conv = await resolved(kit)
    survey = await surveys.send(conv.id)
    answered = await surveys.answer(survey.id, GOOD)
    assert answered.score == 0.9375
    assert not answered.low_rating
    assert answered.follow_up_ticket_id is None
    assert (await kit.tickets.list(conversation_id=conv.id)).items == []


async def test_sent_once_per_resolution(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core)
    conv = await resolved(kit)
    first = await surveys.send(conv.id)
    again = await surveys.send(conv.id)
    assert again == first
    assert len(await surveys.for_conversation(conv.id)) == 1
    assert sum(isinstance(e, SurveySent) for e in await events(kit)) == 1
    history = (await kit.messages.list(conv.id)).items
    assert sum("survey_id" in m.metadata for m in history) == 1

    # The customer writes again, it is resolved again: a new resolution, a new survey.
    await kit.messages.receive(
        channel="web", sender="visitor-1", text="One more thing", verified=True
    )
    await kit.conversations.resolve(conv.id)
    second = await surveys.send(conv.id)
    assert second.id != first.id
    assert [s.id for s in await surveys.for_conversation(conv.id)] == [first.id, second.id]


async def test_only_resolved_conversations_get_a_survey(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="v2", text="hello")
    with pytest.raises(InvalidInputError, match="after resolution"):
        await Surveys(kit._core).send(inbound.conversation.id)


async def test_a_second_answer_is_rejected_and_changes_nothing(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core)
    survey = await surveys.send((await resolved(kit)).id)
    first = await surveys.answer(survey.id, GOOD, "Great")
    before = len(await events(kit))
    with pytest.raises(InvalidTransitionError) as caught:
        await surveys.answer(survey.id, BAD, "Changed my mind")
    assert caught.value.from_status == "answered"
    assert await surveys.get(survey.id) == first
    assert len(await events(kit)) == before


async def test_a_late_answer_is_rejected_and_changes_nothing(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core, SurveySettings(expire_after=timedelta(hours=1)))
    survey = await surveys.send((await resolved(kit)).id)
    later = utcnow() + timedelta(hours=2)
    with pytest.raises(InvalidTransitionError) as caught:
        await surveys.answer(survey.id, BAD, now=later)
    assert caught.value.from_status == "expired"
    assert await surveys.get(survey.id) == survey

    assert await surveys.expire_due(utcnow()) == []  # not due yet
    expired = await surveys.expire_due(later)
    assert [s.id for s in expired] == [survey.id]
    assert (await surveys.get(survey.id)).status is SurveyStatus.EXPIRED
    assert await surveys.expire_due(later) == []  # once
    assert sum(isinstance(e, SurveyExpired) for e in await events(kit)) == 1
    with pytest.raises(InvalidTransitionError):
        await surveys.answer(survey.id, GOOD)
    assert (await kit.tickets.list(conversation_id=survey.conversation_id)).items == []


@pytest.mark.parametrize(
    ("answers", "comment", "field"),
    [
        ({**GOOD, "overall": 6}, None, "answers.overall"),
        ({**GOOD, "overall": 0}, None, "answers.overall"),
        ({**GOOD, "overall": True}, None, "answers.overall"),
        ({**GOOD, "overall": "5"}, None, "answers.overall"),
        ({**GOOD, "agent_helped": "maybe"}, None, "answers.agent_helped"),
        ({**GOOD, "nps": 9}, None, "answers"),
        ({k: v for k, v in GOOD.items() if k != "overall"}, None, "answers.overall"),
        (GOOD, "x" * 1001, "comment"),
    ],
)
async def test_out_of_range_answers_are_rejected_and_change_nothing(
    kit: AsyncChatKit, answers: dict[str, object], comment: str | None, field: str
) -> None:
    surveys = Surveys(kit._core)
    survey = await surveys.send((await resolved(kit)).id)
    before = len(await events(kit))
    with pytest.raises(InvalidInputError) as caught:
        await surveys.answer(survey.id, answers, comment)
    assert caught.value.field == field
    assert await surveys.get(survey.id) == survey
    assert len(await events(kit)) == before
    assert (await surveys.answer(survey.id, GOOD)).status is SurveyStatus.ANSWERED


async def test_star_rating_with_a_comment(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core, SurveySettings(form=SurveyForm.stars()))
    survey = await surveys.send((await resolved(kit)).id)
    posted = await kit.messages.get(survey.message_id or "")
    assert "How many stars? (0 to 5 stars)" in posted.text
    with pytest.raises(InvalidInputError):
        await surveys.answer(survey.id, {"stars": 6})
    answered = await surveys.answer(survey.id, {"stars": 2}, "  Slow  ")
    assert answered.score == 0.4
    assert answered.low_rating
    assert answered.comment == "Slow"


async def test_a_form_given_per_call(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core)
    form = {
        "name": "nps",
        "questions": [
            {"id": "recommend", "kind": "scale", "low": 0, "high": 10, "text": "Recommend us?"}
        ],
        "comment_prompt": None,
    }
    survey = await surveys.send((await resolved(kit)).id, form=form)
    assert survey.form.name == "nps"
    with pytest.raises(InvalidInputError, match="no comment"):
        await surveys.answer(survey.id, {"recommend": 10}, "hi")
    assert (await surveys.answer(survey.id, {"recommend": 7})).score == 0.7


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"questions": []}, "survey form questions"),
        ({"questions": [{"id": "a", "kind": "slider", "text": "?"}]}, "questions[0].kind"),
        ({"questions": [{"id": "A b", "kind": "scale", "text": "?"}]}, "questions[0].id"),
        (
            {"questions": [{"id": "a", "kind": "scale", "text": "?", "low": 5, "high": 1}]},
            "below high",
        ),
        (
            {"questions": [{"id": "a", "kind": "agreement", "text": "?", "high": 3}]},
            "no low/high",
        ),
        (
            {
                "questions": [
                    {"id": "a", "kind": "stars", "text": "?"},
                    {"id": "a", "kind": "scale", "text": "?"},
                ]
            },
            "repeated: a",
        ),
        ({"questions": [{"id": "a", "kind": "stars", "text": "?", "scored": False}]}, "scored"),
        ({"questions": [{"id": "a", "kind": "stars", "text": "?", "colour": 1}]}, "colour"),
        (["not", "a", "form"], "mapping"),
    ],
)
async def test_malformed_forms_are_rejected_on_load(form: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SurveyForm.from_data(form)
    if isinstance(form, dict):
        with pytest.raises(InvalidInputError):
            SurveyForm.from_json(json.dumps(form))
        with pytest.raises(InvalidInputError):
            SurveySettings(form=form)  # type: ignore[arg-type]


async def test_malformed_form_text_is_rejected_with_its_place() -> None:
    with pytest.raises(InvalidInputError, match="line 1, column"):
        SurveyForm.from_json("{questions: ")
    with pytest.raises(InvalidInputError, match="survey form YAML is malformed"):
        SurveyForm.from_yaml("questions: [")
    loaded = SurveyForm.from_yaml(
        "name: quick\nquestions:\n  - {id: stars, kind: stars, text: 'Stars?'}\n"
    )
    assert loaded.questions[0].high == 5
    assert loaded.questions[0].low == 0


async def test_a_bad_form_sent_per_call_writes_nothing(kit: AsyncChatKit) -> None:
    conv = await resolved(kit)
    before = len(await events(kit))
    with pytest.raises(InvalidInputError, match=r"questions\[0\].kind"):
        await Surveys(kit._core).send(conv.id, form={"questions": [{"id": "a", "kind": "x"}]})
    assert len(await events(kit)) == before
    assert (await kit.messages.list(conv.id)).items[-1].text == "It ships today."


async def test_an_unfinished_follow_up_is_resumed_once(kit: AsyncChatKit) -> None:
    surveys = Surveys(kit._core)
    survey = await surveys.send((await resolved(kit)).id)
    answered = await surveys.answer(survey.id, BAD)
    # Simulate a crash after the ticket was opened but before the survey was marked.
    from chatkit.services._core import bump
    from chatkit.stores.base import Update

    current = await surveys.get(survey.id)
    await kit._core.commit([Update(bump(current, follow_up_ticket_id=None))])
    resumed = await surveys.resume_follow_ups()
    assert [s.follow_up_ticket_id for s in resumed] == [answered.follow_up_ticket_id]
    assert len((await kit.tickets.list(conversation_id=survey.conversation_id)).items) == 1
    assert await surveys.resume_follow_ups() == []


async def test_an_answer_fires_rating_received_rules(tmp_path: Path) -> None:
    rules = RuleSet.from_list(
        [
            {
                "name": "rated",
                "on": "rating.received",
                "then": [{"type": "tag", "add": ["rated"]}],
            }
        ]
    )
    settings = ChatKitSettings(automation_rules=rules, event_poll_interval=0.05)
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'rules.db'}", settings=settings) as kit:
        surveys = Surveys(kit._core)
        survey = await surveys.send((await resolved(kit)).id)
        await surveys.answer(survey.id, GOOD)
        await kit.automation.drain()
        assert "rated" in (await kit.conversations.get(survey.conversation_id)).tags
