"""Bot flows end to end through the public API: ask, check, answer, hand over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit import (
    AsyncChatKit,
    ChatKitSettings,
    InvalidInputError,
    NotFoundError,
    TemplateError,
)
from chatkit.bots import AskStep, BotSettings, Flow, HandoverSettings
from chatkit.events import BotAnswered, BotFieldCollected, BotFinished, BotHandoff, BotStarted
from chatkit.models import AuthorRole, Message, MessageKind, Priority
from chatkit.services.bots import Bots
from chatkit.services.kb import KnowledgeBase
from chatkit.understanding import label_for

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data" / "bots"
LATE = "Where is my order? It is two weeks late!"


LATE_ARTICLE = (
    "My order is late",
    "Most late orders arrive within two days of the estimated delivery date. "
    "Track yours on the order page.",
)


OTHER_ARTICLES = (
    ("Returns and refunds", "Send the item back within 30 days for a full refund."),
    ("Changing your password", "Open settings, choose security and pick a new password."),
    ("Payment methods", "We take cards, bank transfers and gift vouchers."),
    ("Opening hours", "Support answers chats from 9:00 to 18:00 on weekdays."),
    ("Gift wrapping", "Add gift wrapping at checkout for a small fee."),
    ("Invoices", "Download invoices from your account page."),
)
"""A knowledge base of a few articles: relevance scores need more than two (BM25)."""


async def _articles(kit: AsyncChatKit) -> str:
    """The knowledge base of the tests: the late-order article and one beside the point."""
    kb = KnowledgeBase(kit._core)
    late = await kb.create(*LATE_ARTICLE, published=True, tags=["delivery"])
    for title, body in OTHER_ARTICLES:
        await kb.create(title, body, published=True)
    return late.id


def _flow() -> Flow:
    return Flow.load(DATA / "late_order.yaml")


async def _bots(kit: AsyncChatKit, **handover: object) -> Bots:
    await kit.teams.create("orders", categories=["delivery"])
    settings = BotSettings(
        flows=(_flow(),), flow="late-order", handover=HandoverSettings(**handover)
    )
    bots = Bots(kit._core, settings=settings)
    bots.article_id = await _articles(kit)  # type: ignore[attr-defined]
    return bots


async def _history(kit: AsyncChatKit, conversation_id: str) -> list[Message]:
    return (await kit.messages.list(conversation_id, limit=200)).items


def _bot_texts(history: list[Message]) -> list[str]:
    return [
        m.text for m in history if m.author.role is AuthorRole.BOT and m.kind is MessageKind.TEXT
    ]


async def _events(kit: AsyncChatKit, conversation_id: str) -> list[object]:
    page = await kit.events.list(limit=1000)
    return [e for e in page.items if e.conversation_id == conversation_id]


async def test_late_order_flow_collects_answers_and_hands_over(kit: AsyncChatKit) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(
        channel="web", sender="v-1", text=LATE, name="Ada Lovelace", verified=True
    )
    conv = first.conversation
    assert first.acknowledgement is not None
    assert "order number" in first.acknowledgement.text
    state = await bots.state(conv.id)
    assert state is not None
    assert (state.step, state.waiting, state.request) == ("ask_order", "answer", LATE)

    wrong = await kit.messages.receive(channel="web", sender="v-1", text="no idea", verified=True)
    assert wrong.acknowledgement is not None
    assert wrong.acknowledgement.text.startswith("I could not find an order number")
    assert (await bots.state(conv.id)).attempts == 1  # type: ignore[union-attr]

    right = await kit.messages.receive(
        channel="web", sender="v-1", text="it's 245-12784", verified=True
    )
    assert right.acknowledgement is not None
    assert right.acknowledgement.text.startswith("My order is late")
    state = await bots.state(conv.id)
    assert state is not None
    assert state.fields == {"order_number": "245-12784"}
    assert (state.step, state.waiting) == ("answer", "feedback")
    assert [a.id for a in state.articles] == [bots.article_id]  # type: ignore[attr-defined]

    await kit.messages.receive(channel="web", sender="v-1", text="agent", verified=True)
    state = await bots.state(conv.id)
    assert state is not None
    assert state.status == "handed_over"
    summary = state.summary
    assert summary is not None
    assert summary.reason == "the customer asked for a person ('agent')"
    assert summary.request == LATE
    assert summary.intent == "order_status"
    assert summary.mood is not None
    assert summary.mood < 0
    assert summary.mood_label == label_for(summary.mood)
    assert summary.fields == {"order_number": "245-12784"}
    assert [(a.title, a.helped) for a in summary.articles] == [("My order is late", False)]

    conversation = await kit.conversations.get(conv.id)
    assert conversation.team == "orders"
    assert conversation.topic == "delivery"
    assert conversation.waiting
    assert conversation.bot == state
    queue = await kit.routing.queue(team="orders")
    assert [c.id for c in queue.items] == [conv.id]

    history = await _history(kit, conv.id)
    [note] = [m for m in history if m.metadata.get("bot_summary")]
    assert note.kind is MessageKind.NOTE  # for the agent, not the customer
    for part in (
        "Customer wants: " + LATE,
        "Intent: order_status",
        f"Mood: {summary.mood_label} ({summary.mood:+.2f})",
        "order_number = 245-12784",
        f"'My order is late' ({bots.article_id}",  # type: ignore[attr-defined]
        "asked for a person ('agent')",
        "team orders",
    ):
        assert part in note.text
    texts = _bot_texts(history)
    assert texts[-1].startswith("I'm connecting you with a person")
    # Later messages go to the person, not the bot.
    later = await kit.messages.receive(channel="web", sender="v-1", text="hello?", verified=True)
    assert later.acknowledgement is None
    assert _bot_texts(await _history(kit, conv.id)) == texts

    events = await _events(kit, conv.id)
    kinds = [type(e) for e in events if type(e).__name__.startswith("Bot")]
    assert kinds == [BotStarted, BotFieldCollected, BotAnswered, BotHandoff]
    [handoff] = [e for e in events if isinstance(e, BotHandoff)]
    assert handoff.summary == summary


@pytest.mark.parametrize(
    ("opening", "word"),
    [
        ("Where is my order?", "I want to talk to an agent"),
        ("주문한 물건이 아직 안 왔어요", "상담원 연결해 주세요"),
        ("Siparişim hâlâ gelmedi", "temsilciye bağlar mısınız"),
    ],
)
async def test_asking_for_a_person_hands_over_at_once(
    kit: AsyncChatKit, opening: str, word: str
) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(channel="web", sender="v-2", text=opening, verified=True)
    assert (await bots.state(first.conversation.id)).waiting == "answer"  # type: ignore[union-attr]
    await kit.messages.receive(channel="web", sender="v-2", text=word, verified=True)
    state = await bots.state(first.conversation.id)
    assert state is not None
    assert state.status == "handed_over"
    assert state.summary is not None
    assert state.summary.step == "ask_order"
    assert state.summary.request == opening
    conversation = await kit.conversations.get(first.conversation.id)
    assert (conversation.team, conversation.waiting) == ("orders", True)
    language = {"I": "en", "상": "ko", "t": "tr"}[word[0]]
    assert state.summary.language == language


async def test_a_person_asked_for_in_the_first_message_gets_one_before_any_question(
    kit: AsyncChatKit,
) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(
        channel="web", sender="v-3", text="human please", verified=True
    )
    texts = _bot_texts(await _history(kit, first.conversation.id))
    assert len(texts) == 1
    assert texts[0].startswith("I'm connecting you")
    assert (await bots.state(first.conversation.id)).status == "handed_over"  # type: ignore[union-attr]


async def test_an_order_number_in_the_first_message_is_not_asked_for_and_help_finishes(
    kit: AsyncChatKit,
) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(
        channel="web",
        sender="v-4",
        text="My order 245-12784 is late, where is it?",
        name="Ada",
        verified=True,
    )
    conv_id = first.conversation.id
    texts = _bot_texts(await _history(kit, conv_id))
    assert texts[0].startswith("My order is late")
    assert texts[1] == "Did that answer your question?"
    await kit.messages.receive(channel="web", sender="v-4", text="yes, thanks!", verified=True)
    state = await bots.state(conv_id)
    assert state is not None
    assert (state.status, state.step) == ("finished", None)
    assert state.articles[0].helped is True
    assert _bot_texts(await _history(kit, conv_id))[-1] == (
        "Glad I could help, Ada! Order 245-12784 is on its way."
    )
    events = await _events(kit, conv_id)
    assert [e.outcome for e in events if isinstance(e, BotFinished)] == ["completed"]
    assert (await kit.conversations.get(conv_id)).queued_at is None


async def test_an_article_that_did_not_help_hands_over_with_its_verdict(kit: AsyncChatKit) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(
        channel="web", sender="v-5", text="Order 245-12784 is late", verified=True
    )
    await kit.messages.receive(
        channel="web", sender="v-5", text="no, it did not help", verified=True
    )
    state = await bots.state(first.conversation.id)
    assert state is not None
    assert state.summary is not None
    assert state.summary.reason == "the flow reached step 'to_person'"
    assert [a.helped for a in state.summary.articles] == [False]
    conversation = await kit.conversations.get(first.conversation.id)
    assert conversation.priority is Priority.HIGH
    assert conversation.team == "orders"


async def test_wrong_answers_until_the_limit_hand_over(kit: AsyncChatKit) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(channel="web", sender="v-6", text=LATE, verified=True)
    for text in ("no idea", "dunno", "what?"):
        await kit.messages.receive(channel="web", sender="v-6", text=text, verified=True)
    state = await bots.state(first.conversation.id)
    assert state is not None
    assert state.summary is not None
    assert state.summary.reason == "no valid order_number after 3 tries"
    retries = [
        t for t in _bot_texts(await _history(kit, first.conversation.id)) if "could not" in t
    ]
    assert len(retries) == 2


async def test_no_double_sends_when_a_message_is_handled_again(kit: AsyncChatKit) -> None:
    bots = await _bots(kit)
    first = await kit.messages.receive(
        channel="web", sender="v-7", text=LATE, idempotency_key="wa-1", verified=True
    )
    again = await kit.messages.receive(
        channel="web", sender="v-7", text=LATE, idempotency_key="wa-1", verified=True
    )
    assert again.message.id == first.message.id
    assert again.acknowledgement is not None
    assert first.acknowledgement is not None
    assert again.acknowledgement.id == first.acknowledgement.id
    answer = await kit.messages.receive(
        channel="web", sender="v-7", text="it's 245-12784", idempotency_key="wa-2", verified=True
    )
    before = await _history(kit, first.conversation.id)
    assert (
        await bots.handle(answer.message)
        == [m for m in before if m.author.role is AuthorRole.BOT][-2:]
    )
    await bots.handle(first.message)  # an older message: nothing to do
    await kit.messages.receive(
        channel="web", sender="v-7", text="it's 245-12784", idempotency_key="wa-2", verified=True
    )
    assert await _history(kit, first.conversation.id) == before
    events = await _events(kit, first.conversation.id)
    assert sum(isinstance(e, BotFieldCollected) for e in events) == 1


async def test_an_agent_taking_the_conversation_stops_the_bot(kit: AsyncChatKit) -> None:
    bots = await _bots(kit)
    mia = await kit.agents.create(name="Mia")
    first = await kit.messages.receive(channel="web", sender="v-8", text=LATE, verified=True)
    await kit.conversations.assign(first.conversation.id, mia.id)
    reply = await kit.messages.receive(channel="web", sender="v-8", text="245-12784", verified=True)
    assert reply.acknowledgement is None
    state = await bots.state(first.conversation.id)
    assert state is not None
    assert state.status == "stopped"
    events = await _events(kit, first.conversation.id)
    assert [e.outcome for e in events if isinstance(e, BotFinished)] == ["taken_over"]


async def test_start_handoff_and_stop_from_application_code(kit: AsyncChatKit) -> None:
    await kit.teams.create("orders")
    bots = Bots(kit._core, settings=BotSettings())
    first = await kit.messages.receive(channel="web", sender="v-9", text=LATE, verified=True)
    assert first.acknowledgement is None or first.acknowledgement.author.role is not AuthorRole.BOT
    assert await bots.state(first.conversation.id) is None
    state = await bots.start(first.conversation.id, _flow())
    assert (state.step, state.request) == ("ask_order", LATE)
    assert await bots.start(first.conversation.id, "late-order") == state
    other = await kit.messages.receive(channel="web", sender="v-99", text="hello", verified=True)
    with pytest.raises(InvalidInputError, match="no bot is running"):
        await bots.handoff(other.conversation.id, "x")
    summary = await bots.handoff(first.conversation.id, "the customer called instead")
    assert summary.reason == "the customer called instead"
    assert (await kit.conversations.get(first.conversation.id)).team == "orders"
    with pytest.raises(InvalidInputError):
        await bots.handoff(first.conversation.id, "again")
    assert (await bots.stop(first.conversation.id)).status == "handed_over"  # type: ignore[union-attr]


async def test_current_step_is_the_step_an_active_bot_is_on(kit: AsyncChatKit) -> None:
    size = Flow.model_validate(
        {
            "name": "size",
            "steps": [
                {
                    "id": "pick",
                    "type": "ask",
                    "field": "size",
                    "validate": "choice",
                    "question": "Which size?",
                    "choices": [{"value": "small"}, {"value": "large"}],
                }
            ],
        }
    )
    bots = Bots(kit._core, settings=BotSettings())
    first = await kit.messages.receive(channel="web", sender="v-12", text="hi", verified=True)
    conversation_id = first.conversation.id
    assert await kit.bots.current_step(conversation_id) is None  # no bot ran
    await bots.start(conversation_id, size)
    step = await kit.bots.current_step(conversation_id)
    assert isinstance(step, AskStep)
    assert (step.id, [c.value for c in step.choices]) == ("pick", ["small", "large"])
    await bots.stop(conversation_id)
    assert await kit.bots.current_step(conversation_id) is None  # no longer active
    with pytest.raises(NotFoundError):
        await kit.bots.current_step("conv_nope")


async def test_state_survives_a_new_kit_on_the_same_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bots.db'}"
    settings = BotSettings(flows=(_flow(),), flow="late-order")
    async with AsyncChatKit(url) as kit:
        await kit.teams.create("orders")
        Bots(kit._core, settings=settings)
        await _articles(kit)
        first = await kit.messages.receive(channel="web", sender="v-10", text=LATE, verified=True)
        await kit.messages.receive(channel="web", sender="v-10", text="no idea", verified=True)
    async with AsyncChatKit(url, settings=ChatKitSettings()) as kit:
        bots = Bots(kit._core, settings=settings)
        state = await bots.state(first.conversation.id)
        assert state is not None
        assert (state.step, state.attempts) == ("ask_order", 1)
        await kit.messages.receive(channel="web", sender="v-10", text="245-12784", verified=True)
        state = await bots.state(first.conversation.id)
        assert state is not None
        assert state.fields == {"order_number": "245-12784"}
        assert state.waiting == "feedback"


async def test_a_process_without_the_flow_hands_over_rather_than_fall_silent(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bots.db'}"
    async with AsyncChatKit(url) as kit:
        Bots(kit._core, settings=BotSettings(flows=(_flow(),), flow="late-order"))
        first = await kit.messages.receive(channel="web", sender="v-11", text=LATE, verified=True)
    async with AsyncChatKit(url) as kit:
        Bots(kit._core, settings=BotSettings())
        await kit.messages.receive(channel="web", sender="v-11", text="245-12784", verified=True)
        state = (await kit.conversations.get(first.conversation.id)).bot
        assert state is not None
        assert state.status == "handed_over"
        assert state.summary is not None
        assert "not configured" in state.summary.reason


# -- flows are checked when they are loaded ------------------------------------


def test_the_example_flow_loads_from_yaml_and_json() -> None:
    flow = _flow()
    assert flow.first == "ask_order"
    assert Flow.from_json(json.dumps(flow.model_dump(mode="json", by_alias=True))) == flow


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("unknown_next.json", "flow 'broken': step 'ask_email' next: no step 'answr'"),
        (
            "bad_validator.yaml",
            "flow 'broken' step 'ask_order' validate: must be one of text, email, phone, "
            "order_number, choice, number",
        ),
        ("loop.yaml", "flow 'loop': steps hello -> route -> hello loop without asking"),
    ],
)
def test_malformed_flow_files_name_the_file_flow_step_and_field(path: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Flow.load(DATA / path)
    assert str(caught.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": [{"id": "a", "type": "say", "text": "hi"}]}, "flow name: is required"),
        ({"name": "f", "steps": []}, "flow 'f' steps:"),
        (
            {"name": "f", "start": "nope", "steps": [{"id": "a", "type": "say", "text": "hi"}]},
            "flow 'f': start: no step 'nope'",
        ),
        (
            {"name": "f", "steps": [{"id": "a", "type": "sing"}]},
            "flow 'f' step 'a' type: unknown type 'sing'",
        ),
        (
            {"name": "f", "steps": [{"type": "say", "text": "hi"}]},
            "flow 'f' step #1 id: is required",
        ),
        (
            {"name": "f", "steps": [{"id": "a", "type": "say", "text": "x", "colour": "red"}]},
            "flow 'f' step 'a' colour: is not a known field",
        ),
        (
            {
                "name": "f",
                "steps": [
                    {"id": "a", "type": "ask", "field": "c", "question": "?", "validate": "choice"}
                ],
            },
            "flow 'f' step 'a' choices: validate: choice needs choices",
        ),
        (
            {
                "name": "f",
                "steps": [
                    {"id": "a", "type": "say", "text": "x"},
                    {"id": "b", "type": "say", "text": "y"},
                ],
            },
            "flow 'f': step 'b' is never reached from 'a'",
        ),
        (
            {"name": "f", "steps": [{"id": "a", "type": "say", "text": "x", "next": "a"}]},
            "flow 'f': steps a -> a loop",
        ),
        (
            {"name": "f", "steps": [{"id": "a", "type": "handoff", "priority": "asap"}]},
            "flow 'f' step 'a' priority: must be one of low, normal, high, urgent",
        ),
    ],
)
def test_malformed_flow_dicts_are_refused_with_clear_errors(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Flow.from_dict(data)
    assert str(caught.value).startswith(message)


def test_broken_templates_and_documents_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"flow 'f' step 'a' text\.en: template line 1"):
        Flow.from_dict(
            {
                "name": "f",
                "steps": [{"id": "a", "type": "say", "text": {"en": "Hi {{ secret.x }}"}}],
            }
        )
    with pytest.raises(InvalidInputError, match="JSON is malformed at line 1"):
        Flow.from_json('{"name": ')
    with pytest.raises(InvalidInputError, match="YAML is malformed"):
        Flow.from_yaml("name: [f")
    with pytest.raises(InvalidInputError, match="a flow must be a mapping"):
        Flow.from_yaml("- a\n- b\n")
    with pytest.raises(InvalidInputError, match="flow 'nope' is not one of flows"):
        BotSettings(flow="nope")
