"""Running bot flows on conversations, and handing over to a person with a summary."""

from __future__ import annotations

import builtins
import logging
import secrets
from typing import Any

from ..bots.engine import ArticleSearch, Handover, Inbound, Turn, advance
from ..bots.flows import Flow, Step
from ..bots.handover import BotSettings
from ..bots.state import BotState, BotSummary
from ..errors import ConversationClosedError, InvalidInputError, NotFoundError
from ..events import (
    BotAnswered,
    BotFieldCollected,
    BotFinished,
    BotHandoff,
    BotStarted,
    Event,
)
from ..models import (
    Author,
    AuthorRole,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
)
from ..models._base import utcnow
from ..stores.base import Update
from ..understanding import label_for
from ._core import Core, bump
from .contacts import Service
from .conversations import Conversations
from .messages import Messages
from .pipeline import Arrival, standard_reaction
from .routing import Routing

__all__ = ["Bots"]

log = logging.getLogger(__name__)


def _first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


def _check_message(message: object) -> None:
    if not isinstance(message, Message):
        raise InvalidInputError("message must be a Message", field="message")


class Bots(Service):
    """Bot flows that answer customers before (or instead of) a person.

    A flow (`chatkit.bots.Flow`) asks and checks questions, answers from
    the knowledge base and branches; the customer can always reach a
    person ("agent", "상담원", "temsilci", the ``talk_to_human`` intent).
    Handing over writes a `BotSummary` on the conversation and as an entry
    in it, routes the conversation to the flow's team and publishes
    ``bot.handoff``: the agent never has to ask again.

    The flow's progress is kept on the conversation (`Conversation.bot`),
    written version-checked, so it survives restarts and runs from any
    process. `Messages.receive` hands each customer message of a
    conversation with a running flow to `handle`, and starts
    `BotSettings.flow` on new conversations. Every bot message carries an
    idempotency key (run, customer message, position), so handling a
    message again (a retry, a redelivered webhook) never sends twice.

    Args:
        core: The kit's core.
        settings: The bot settings for this kit (default:
            ``ChatKitSettings.bots`` when present, else `BotSettings()`).
            Given once, they hold for every `Bots` of the same kit.
        knowledge: Where ``answer`` steps search (default: the kit's
            knowledge base).

    Example:
        ```python
        flow = Flow.load("flows/late_order.yaml")
        bots = Bots(kit._core, settings=BotSettings(flows=(flow,), flow="late-order"))
        inbound = await kit.messages.receive(channel="web", sender="v-1", text="Where is my order?")
        (await bots.state(inbound.conversation.id)).step   # "ask_order"
        ```
    """

    def __init__(
        self,
        core: Core,
        *,
        settings: BotSettings | None = None,
        knowledge: ArticleSearch | None = None,
    ) -> None:
        super().__init__(core)
        if settings is not None:
            core._bot_settings = settings  # type: ignore[attr-defined]
        if knowledge is not None:
            core._bot_knowledge = knowledge  # type: ignore[attr-defined]

    @property
    def settings(self) -> BotSettings:
        """The bot settings in effect."""
        given = getattr(self._core, "_bot_settings", None)
        if isinstance(given, BotSettings):
            return given
        configured = getattr(self._core.settings, "bots", None)
        return configured if isinstance(configured, BotSettings) else BotSettings()

    def _knowledge(self) -> ArticleSearch | None:
        given = getattr(self._core, "_bot_knowledge", None)
        if given is not None:
            return given  # type: ignore[no-any-return]
        try:
            from .kb import KnowledgeBase  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None
        return KnowledgeBase(self._core)  # type: ignore[no-any-return,unused-ignore]

    def _flow(self, name: str) -> Flow | None:
        registered: dict[str, Flow] = getattr(self._core, "_bot_flows", {})
        return registered.get(name) or self.settings.find(name)

    def _register(self, flow: Flow) -> None:
        registered: dict[str, Flow] = getattr(self._core, "_bot_flows", {})
        self._core._bot_flows = {**registered, flow.name: flow}  # type: ignore[attr-defined]

    # -- public ------------------------------------------------------------

    async def state(self, conversation_id: str) -> BotState | None:
        """Where the bot is in a conversation (``None``: no bot ever ran there).

        Raises:
            NotFoundError: No such conversation.
        """
        return (await self._load(Conversation, conversation_id, "conversation")).bot

    async def current_step(self, conversation_id: str) -> Step | None:
        """The step of its flow the bot is on in a conversation (to show an ``ask`` step's choices).

        ``None`` when no bot ever ran there, when it is no longer active
        (handed over, finished or stopped), or when this kit does not know
        the flow (or the step) by that name any more.

        Example:
            ```python
            step = await kit.bots.current_step(conversation_id)
            if isinstance(step, AskStep) and step.choices:
                print([choice.value for choice in step.choices])
            ```

        Raises:
            NotFoundError: No such conversation.
        """
        state = await self.state(conversation_id)
        if state is None or not state.active or state.step is None:
            return None
        flow = self._flow(state.flow)
        if flow is None:
            return None
        try:
            return flow.step(state.step)
        except InvalidInputError:
            return None

    async def start(self, conversation_id: str, flow: Flow | str) -> BotState:
        """Start a flow in a conversation; the bot answers until it hands over or ends.

        The customer's latest message (if any) is the request the flow
        works on: an order number or e-mail in it counts, and "agent" in it
        hands over at once. Starting the flow that is already running
        returns its state.

        Args:
            conversation_id: The conversation.
            flow: A `Flow` (remembered by this kit from now on) or the name
                of one in `BotSettings.flows`.

        Raises:
            NotFoundError: No such conversation, or no flow of that name.
            InvalidInputError: Another flow runs there, or the conversation is closed.
        """
        if isinstance(flow, Flow):
            self._register(flow)
            chosen: Flow | None = flow
        elif not isinstance(flow, str):
            raise InvalidInputError("flow is a Flow or the name of one", field="flow")
        else:
            chosen = self._flow(flow)
        if chosen is None:
            raise NotFoundError("flow", str(flow))
        found = chosen

        async def attempt() -> tuple[Conversation, Turn | None]:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            current = conversation.bot
            if current is not None and current.active:
                if current.flow == found.name:
                    return conversation, None
                raise InvalidInputError(
                    f"flow {current.flow!r} is running in {conversation_id}; stop it first",
                    field="flow",
                )
            if conversation.status is ConversationStatus.CLOSED:
                raise InvalidInputError(
                    f"{conversation_id} is closed; bots start in open conversations",
                    field="conversation_id",
                )
            inbound = await self._latest(conversation)
            state = BotState(
                flow=found.name,
                run=secrets.token_hex(6),
                step=found.first,
                language=self._language(conversation, inbound),
                handled_seq=inbound.seq,
            )
            started = BotStarted(
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                flow=found.name,
                run=state.run,
                step=state.step,
            )
            turn = await self._turn(found, conversation, state, inbound)
            return await self._save(conversation, found, turn, [started]), turn

        conversation, turn = await self._core.retry(attempt)
        if turn is not None and conversation.bot is not None:
            await self._carry_out(conversation, conversation.bot)
        return (await self.state(conversation_id)) or BotState(flow=found.name, run="")

    async def handle(self, message: Message) -> builtins.list[Message]:
        """Move the conversation's flow on with a customer's message; the bot's replies.

        A message the bot already acted on only resends that turn's replies
        (no duplicates: they carry the same keys) and finishes its handover,
        so calling this again after a crash is safe. Messages that are not
        the customer's text, and conversations without a running flow, are
        left alone (an empty list). When an agent has taken the
        conversation, the flow stops quietly.
        """
        _check_message(message)
        if message.kind is not MessageKind.TEXT or message.author.role is not AuthorRole.CUSTOMER:
            return []

        async def attempt() -> tuple[Conversation, BotState | None]:
            conversation = await self._load(Conversation, message.conversation_id, "conversation")
            state = conversation.bot
            if state is None or message.seq < state.handled_seq:
                return conversation, None
            if message.seq == state.handled_seq:
                return conversation, state  # a repeat: replay the turn
            if not state.active:
                return conversation, None
            flow = self._flow(state.flow)
            if conversation.assignee_id is not None or flow is None:
                if flow is None:
                    log.warning("bot flow %r is not known here; handing over", state.flow)
                    turn = Turn(state=state.model_copy(update={"handled_seq": message.seq}))
                    turn.handover = Handover(
                        reason=f"the flow {state.flow!r} is not configured in this process",
                        step=state.step,
                        team=None,
                        topic=None,
                        priority=None,
                    )
                    turn.state = turn.state.model_copy(update={"status": "handed_over"})
                    saved = await self._save(conversation, None, turn, [])
                    return saved, saved.bot
                return await self._stop(conversation, state, "taken_over", message.seq), None
            inbound = Inbound(seq=message.seq, text=message.text, analysis=message.analysis)
            turn = await self._turn(flow, conversation, state, inbound)
            saved = await self._save(conversation, flow, turn, [])
            return saved, saved.bot

        conversation, state = await self._core.retry(attempt)
        if state is None:
            return []
        return await self._carry_out(conversation, state)

    async def receive(
        self, message: Message, *, new_conversation: bool
    ) -> builtins.list[Message] | None:
        """What `Messages.receive` calls: start the default flow, or move the running one on.

        Returns the bot's replies, or ``None`` when no bot took the message
        (then the automatic replies may answer it).
        """
        _check_message(message)
        conversation = await self._load(Conversation, message.conversation_id, "conversation")
        state = conversation.bot
        if state is None or (not state.active and message.seq > state.handled_seq):
            default = self.settings.default
            if not new_conversation or default is None:
                return None
            await self.start(conversation.id, default)
            fresh = await self.state(conversation.id)
            return await self._sent(conversation.id, fresh) if fresh is not None else []
        return await self.handle(message)

    async def handoff(self, conversation_id: str, reason: str) -> BotSummary:
        """Hand the conversation over to a person now, with the summary.

        For application code and agent consoles ("take over from the bot").

        Raises:
            NotFoundError: No such conversation.
            InvalidInputError: No bot is running in it, or a blank reason.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInputError("reason must be a non-empty string", field="reason")

        async def attempt() -> Conversation:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            state = conversation.bot
            if state is None or not state.active:
                raise InvalidInputError(
                    f"no bot is running in {conversation_id}", field="conversation_id"
                )
            flow = self._flow(state.flow)
            turn = Turn(state=state.model_copy(update={"status": "handed_over", "waiting": None}))
            target = flow.handoff if flow is not None else None
            turn.handover = Handover(
                reason=reason.strip(),
                step=state.step,
                team=target.team if target else None,
                topic=target.topic if target else None,
                priority=target.priority if target else None,
            )
            return await self._save(conversation, flow, turn, [])

        conversation = await self._core.retry(attempt)
        assert conversation.bot is not None
        assert conversation.bot.summary is not None
        await self._carry_out(conversation, conversation.bot, replies=False)
        return conversation.bot.summary

    async def stop(self, conversation_id: str) -> BotState | None:
        """Stop the running flow without handing over (``bot.finished``, outcome ``stopped``).

        Returns the state (``None`` when no bot ever ran there); stopping a
        flow that is not running changes nothing.
        """

        async def attempt() -> BotState | None:
            conversation = await self._load(Conversation, conversation_id, "conversation")
            state = conversation.bot
            if state is None or not state.active:
                return state
            return (await self._stop(conversation, state, "stopped", state.handled_seq)).bot

        return await self._core.retry(attempt)

    # -- one turn ----------------------------------------------------------

    async def _latest(self, conversation: Conversation) -> Inbound:
        store = await self._core.ready()
        recent = await store.find(
            Message,
            {"conversation_id": conversation.id},
            order_by="seq",
            descending=True,
            limit=20,
        )
        for message in recent:
            if message.author.role is AuthorRole.CUSTOMER and message.kind is MessageKind.TEXT:
                return Inbound(seq=message.seq, text=message.text, analysis=message.analysis)
        return Inbound(seq=conversation.last_seq)

    @staticmethod
    def _language(conversation: Conversation, inbound: Inbound) -> str | None:
        if conversation.language:
            return conversation.language
        return inbound.analysis.language if inbound.analysis else None

    async def _turn(
        self, flow: Flow, conversation: Conversation, state: BotState, inbound: Inbound
    ) -> Turn:
        store = await self._core.ready()
        contact = await store.get(Contact, conversation.contact_id)
        name = contact.name if contact is not None else None
        context: dict[str, Any] = {
            "contact": {"name": name, "first_name": _first_name(name)},
            "conversation": {"id": conversation.id, "language": conversation.language},
            "intent": conversation.intent,
        }
        if state.language is None and inbound.analysis is not None:
            state = state.model_copy(update={"language": inbound.analysis.language})
        return await advance(
            flow,
            state,
            inbound,
            handover=self.settings.handover,
            search=self._knowledge(),
            context=context,
        )

    def _wanted(self, intent: str | None) -> str | None:
        """The conversation's intent, unless it is only the wish for a person."""
        return None if intent == self.settings.handover.intent else intent

    def _summary(
        self, conversation: Conversation, state: BotState, handover: Handover
    ) -> BotSummary:
        return BotSummary(
            flow=state.flow,
            step=handover.step,
            reason=handover.reason,
            request=state.request,
            intent=state.intent or self._wanted(conversation.intent),
            intent_confidence=state.intent_confidence if state.intent else None,
            mood=conversation.mood,
            mood_label=label_for(conversation.mood) if conversation.mood is not None else None,
            language=state.language or conversation.language,
            fields=dict(state.fields),
            articles=list(state.articles),
            team=handover.team or conversation.team,
            topic=handover.topic or conversation.topic,
            priority=handover.priority.value if handover.priority else None,
        )

    async def _save(
        self,
        conversation: Conversation,
        flow: Flow | None,
        turn: Turn,
        events: builtins.list[Event],
    ) -> Conversation:
        """Commit the turn's state and events in one version-checked write."""
        state = turn.state.model_copy(update={"replies": turn.replies})
        ids = {"conversation_id": conversation.id, "contact_id": conversation.contact_id}
        name = state.flow
        events = [
            *events,
            *(
                BotFieldCollected(**ids, flow=name, step=step, field=field, value=value)
                for step, field, value in turn.collected
            ),
            *(
                BotAnswered(**ids, flow=name, step=step, article=article, query=query)
                for step, article, query in turn.answered
            ),
        ]
        if turn.handover is not None:
            summary = self._summary(conversation, state, turn.handover)
            state = state.model_copy(update={"summary": summary, "ended_at": utcnow()})
            events.append(BotHandoff(**ids, flow=name, reason=summary.reason, summary=summary))
        elif turn.finished:
            state = state.model_copy(update={"ended_at": utcnow()})
            events.append(BotFinished(**ids, flow=name, outcome="completed"))
        updated = bump(conversation, bot=state)
        await self._core.commit([Update(updated)], events)
        return updated

    async def _stop(
        self, conversation: Conversation, state: BotState, outcome: str, seq: int
    ) -> Conversation:
        stopped = state.model_copy(
            update={
                "status": "stopped",
                "waiting": None,
                "handled_seq": max(seq, state.handled_seq),
                "replies": [],
                "ended_at": utcnow(),
            }
        )
        event = BotFinished(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            flow=state.flow,
            outcome="taken_over" if outcome == "taken_over" else "stopped",
        )
        updated = bump(conversation, bot=stopped)
        await self._core.commit([Update(updated)], [event])
        return updated

    # -- after the commit: send, note, route -------------------------------

    async def _sent(self, conversation_id: str, state: BotState) -> builtins.list[Message]:
        store = await self._core.ready()
        out: builtins.list[Message] = []
        for reply in state.replies:
            found = await store.find(
                Message, {"conversation_id": conversation_id, "idempotency_key": reply.key}, limit=1
            )
            out += found
        return out

    async def _carry_out(
        self, conversation: Conversation, state: BotState, *, replies: bool = True
    ) -> builtins.list[Message]:
        """Send the turn's replies and finish a handover; every part is idempotent."""
        messages = Messages(self._core)
        author = Author.bot(self.settings.author)
        sent: builtins.list[Message] = []
        try:
            for reply in state.replies if replies else []:
                sent.append(
                    await messages.send(
                        conversation.id,
                        reply.text,
                        author=author,
                        idempotency_key=reply.key,
                        metadata={"bot_flow": state.flow},
                    )
                )
            if state.status == "handed_over" and state.summary is not None:
                await self._hand_over(conversation, state, state.summary)
        except ConversationClosedError:
            log.info("conversation %s closed while its bot was answering", conversation.id)
        return sent

    async def _hand_over(
        self, conversation: Conversation, state: BotState, summary: BotSummary
    ) -> None:
        await Messages(self._core).send(
            conversation.id,
            summary.text(),
            author=Author.bot(self.settings.author),
            kind=MessageKind.NOTE,  # for agents: never in the customer's transcript
            idempotency_key=f"bot:{state.run}:summary",
            metadata={"bot_summary": summary.model_dump(mode="json")},
        )
        current = await self._load(Conversation, conversation.id, "conversation")
        if current.status is not ConversationStatus.OPEN or current.assignee_id is not None:
            return
        if summary.priority is not None:
            await Conversations(self._core).set_priority(conversation.id, summary.priority)
        routing = Routing(self._core)
        try:
            await routing.route(
                conversation.id, team=summary.team, topic=summary.topic, language=summary.language
            )
        except NotFoundError:
            log.warning(
                "bot handoff: team %r does not exist; %s is routed without it",
                summary.team,
                conversation.id,
            )
            await routing.route(conversation.id, topic=summary.topic, language=summary.language)


@standard_reaction("bots", order=100)
async def _run_flow(arrival: Arrival) -> None:
    """The ``bots`` reaction: start the default flow, or move the running one on."""
    replies = await Bots(arrival.core).receive(
        arrival.message, new_conversation=arrival.new_conversation
    )
    if replies is not None:  # a bot flow took the message
        arrival.taken = True
        arrival.acknowledgement = replies[0] if replies else None
