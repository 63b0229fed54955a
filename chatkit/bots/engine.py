"""One turn of a bot flow: from the state and a customer message to the next state.

Pure apart from the knowledge-base search it is given: nothing is stored or
sent here. `chatkit.services.Bots` stores the new state (version-checked),
then sends the replies (idempotency keys) and hands over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..automation.templates import Template
from ..errors import TemplateError
from ..models import Priority
from ..models.messages import MessageAnalysis
from .answers import check_answer, given_already
from .flows import (
    FLOW_ROOTS,
    AnswerStep,
    AskStep,
    BranchCase,
    BranchStep,
    Flow,
    HandoffStep,
    SayStep,
    pick_text,
)
from .handover import HandoverSettings, is_yes
from .state import BotReply, BotState, ShownArticle

__all__ = ["Article", "ArticleHit", "ArticleSearch", "Handover", "Inbound", "Turn", "advance"]

_MAX_STEPS = 100
"""Steps one turn may pass (load-time checks already refuse loops that never ask)."""


class Article(Protocol):
    """What the bot reads of a knowledge-base article."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...


class ArticleHit(Protocol):
    """One search result: the article and its score, 0 to 1."""

    @property
    def article(self) -> Article: ...
    @property
    def score(self) -> float: ...


class ArticleSearch(Protocol):
    """The knowledge base as the ``answer`` step needs it (`KnowledgeBase` is one)."""

    async def search(
        self, query: str, *, language: str | None = None, limit: int = 5
    ) -> Sequence[ArticleHit]: ...


def _texts(values: Mapping[str, str]) -> dict[str, Template]:
    return {k: Template.parse(v, roots=FLOW_ROOTS) for k, v in values.items()}


CONFIRM = _texts(
    {
        "en": "Did that answer your question?",
        "ko": "궁금하신 점이 해결되었나요?",
        "tr": "Bu sorunuzu yanıtladı mı?",
    }
)
HANDING_OVER = _texts(
    {
        "en": "I'm connecting you with a person now. They will see everything you told me.",
        "ko": "지금 상담원에게 연결해 드릴게요. 말씀하신 내용은 모두 전달됩니다.",
        "tr": "Sizi şimdi bir temsilciye bağlıyorum. Bana anlattıklarınızı görecekler.",
    }
)
ARTICLE = _texts({"*": "{{ article.title }}\n\n{{ article.body }}"})


@dataclass(frozen=True)
class Inbound:
    """The customer message a turn acts on (``seq`` 0 and no text: the flow just started)."""

    seq: int
    text: str = ""
    analysis: MessageAnalysis | None = None


@dataclass(frozen=True)
class Handover:
    """The flow hands over: why, where to, and what the customer is told."""

    reason: str
    step: str | None
    team: str | None
    topic: str | None
    priority: Priority | None


@dataclass
class Turn:
    """What one turn did: the new state and what to send, store and tell."""

    state: BotState
    replies: list[BotReply] = field(default_factory=list)
    collected: list[tuple[str, str, str]] = field(default_factory=list)
    """``(step, field, value)`` for each answer stored."""
    answered: list[tuple[str, ShownArticle, str]] = field(default_factory=list)
    """``(step, article, query)`` for each article sent."""
    handover: Handover | None = None
    finished: bool = False


class _Broken(Exception):
    """A text of the flow could not be filled in; the turn hands over instead."""


class _Runner:
    def __init__(
        self,
        flow: Flow,
        state: BotState,
        inbound: Inbound,
        handover: HandoverSettings,
        search: ArticleSearch | None,
        extra: Mapping[str, Any],
    ) -> None:
        self.flow = flow
        self.state = state
        self.inbound = inbound
        self.handover_settings = handover
        self.search = search
        self.extra = extra
        self.turn = Turn(state)
        self.language = state.language or flow.language

    # -- helpers -----------------------------------------------------------

    def update(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def say(self, texts: Mapping[str, Template], step: str, **more: Any) -> None:
        template = pick_text(texts, self.language, self.flow.language)
        context = {
            **self.extra,
            "fields": dict(self.state.fields),
            "request": {"text": self.state.request},
            "message": {"text": self.inbound.text},
            **more,
        }
        try:
            text = template.render(context)
        except TemplateError as exc:
            raise _Broken(f"the text of step {step!r} could not be filled in: {exc}") from exc
        number = len(self.turn.replies)
        key = f"bot:{self.state.run}:{self.inbound.seq}:{number}:{step}"[:200]
        self.turn.replies.append(BotReply(key=key, text=text))

    def hand_over(self, reason: str, step: HandoffStep | None = None) -> None:
        target = self.flow.handoff
        texts = step.text if step is not None and step.text else HANDING_OVER
        self.say(texts, step.id if step is not None else "handoff")
        self.turn.handover = Handover(
            reason=reason,
            step=self.state.step,
            team=(step.team if step else None) or target.team,
            topic=(step.topic if step else None) or target.topic,
            priority=(step.priority if step else None) or target.priority,
        )
        self.update(status="handed_over", waiting=None)

    def finish(self) -> None:
        self.update(status="finished", step=None, waiting=None)
        self.turn.finished = True

    # -- the turn ----------------------------------------------------------

    async def run(self) -> Turn:
        try:
            await self._run()
        except _Broken as exc:
            self.turn.replies.clear()
            self.hand_over(str(exc))
        self.turn.state = self.state
        return self.turn

    async def _run(self) -> None:
        inbound = self.inbound
        if inbound.text:
            negative = self.state.negative + 1
            if not self.handover_settings.is_negative(inbound.analysis):
                negative = 0
            self.update(negative=negative, handled_seq=max(self.state.handled_seq, inbound.seq))
            if self.state.request is None:
                self.update(request=inbound.text)
            analysis = inbound.analysis
            if (
                self.state.intent is None
                and analysis is not None
                and analysis.intent is not None
                and analysis.intent != self.handover_settings.intent
            ):
                self.update(intent=analysis.intent, intent_confidence=analysis.confidence)
            reason = self.handover_settings.reason(inbound.text, inbound.analysis, negative)
            if reason is not None:
                if self.state.waiting == "feedback":
                    self._feedback()  # "no, I want a person": the article did not help
                self.hand_over(reason)
                return
        nxt: str | None = self.state.step
        if self.state.waiting == "answer" and inbound.text:
            nxt = self._answered()
            if nxt == "":
                return  # asked again, or handed over
        elif self.state.waiting == "feedback" and inbound.text:
            nxt = self._feedback()
        await self._walk(nxt)

    def _answered(self) -> str | None:
        """After an answer to the current ask: the next step; ``""`` to wait again."""
        step = self.flow.step(self.state.step or "")
        assert isinstance(step, AskStep)
        value = check_answer(step, self.inbound.text, self.inbound.analysis, self.language)
        if value is not None:
            self._store(step, value)
            return step.next if step.next is not None else None
        attempts = self.state.attempts + 1
        self.update(attempts=attempts)
        if attempts >= step.max_attempts:
            if step.on_fail is None:
                self.hand_over(f"no valid {step.field} after {attempts} tries")
                return ""
            return step.on_fail
        self.say(step.retry or step.question, step.id)
        return ""

    def _feedback(self) -> str | None:
        step = self.flow.step(self.state.step or "")
        assert isinstance(step, AnswerStep)
        helped = is_yes(self.inbound.text)
        if self.state.articles:
            last = self.state.articles[-1].model_copy(update={"helped": helped})
            self.update(articles=[*self.state.articles[:-1], last])
        return step.helped if helped else step.next

    def _store(self, step: AskStep, value: str) -> None:
        self.update(fields={**self.state.fields, step.field: value}, attempts=0)
        self.turn.collected.append((step.id, step.field, value))

    async def _walk(self, step_id: str | None) -> None:
        for _ in range(_MAX_STEPS):
            if step_id is None:
                self.finish()
                return
            step = self.flow.step(step_id)
            self.update(step=step.id, waiting=None, attempts=0)
            if isinstance(step, SayStep):
                self.say(step.text, step.id)
                step_id = step.next
            elif isinstance(step, AskStep):
                if step.field in self.state.fields:
                    step_id = step.next
                    continue
                found = given_already(step, self.inbound.analysis)
                if found is not None:
                    self._store(step, found)
                    step_id = step.next
                    continue
                self.say(step.question, step.id)
                self.update(waiting="answer")
                return
            elif isinstance(step, AnswerStep):
                if await self._answer(step):
                    self.update(waiting="feedback")
                    return
                step_id = step.next
            elif isinstance(step, BranchStep):
                step_id = next((c.to for c in step.cases if self._holds(c)), step.default)
            else:
                self.hand_over(f"the flow reached step {step.id!r}", step)
                return
        raise _Broken(f"more than {_MAX_STEPS} steps in one turn")

    async def _answer(self, step: AnswerStep) -> bool:
        if self.search is None:
            return False
        context = {
            "fields": dict(self.state.fields),
            "request": {"text": self.state.request},
            "message": {"text": self.inbound.text},
        }
        try:
            query = step.search.render(context) if step.search else (self.state.request or "")
        except TemplateError as exc:
            raise _Broken(f"the search of step {step.id!r} could not be filled in: {exc}") from exc
        if not query.strip():
            return False
        shown = {a.id for a in self.state.articles}
        hits = await self.search.search(query, language=self.language, limit=step.limit)
        fresh = [h for h in hits if h.article.id not in shown and h.score >= step.threshold]
        if not fresh:
            return False
        best = max(fresh, key=lambda h: h.score)
        article = ShownArticle(
            id=best.article.id, title=best.article.title, score=round(min(1.0, best.score), 4)
        )
        plain = {"title": best.article.title, "body": best.article.body, "id": best.article.id}
        self.say(step.reply or ARTICLE, step.id, article=plain)
        self.say(step.confirm or CONFIRM, step.id, article=plain)
        self.update(articles=[*self.state.articles, article])
        self.turn.answered.append((step.id, article, query))
        return True

    def _holds(self, case: BranchCase) -> bool:
        analysis = self.inbound.analysis
        if case.field is not None:
            value = self.state.fields.get(case.field)
            if value is None:
                return False
            wanted = {v.casefold() for v in (*case.one_of, case.equals) if v is not None}
            if value.casefold() not in wanted:
                return False
        if case.intent:
            intent = analysis.intent if analysis else self.extra.get("intent")
            confidence = analysis.confidence if analysis else 1.0
            if intent not in case.intent or confidence < case.min_confidence:
                return False
        return case.sentiment_below is None or (
            analysis is not None and analysis.sentiment < case.sentiment_below
        )


async def advance(
    flow: Flow,
    state: BotState,
    inbound: Inbound,
    *,
    handover: HandoverSettings,
    search: ArticleSearch | None = None,
    context: Mapping[str, Any] | None = None,
) -> Turn:
    """Run one turn of ``flow`` from ``state`` with the customer's message ``inbound``.

    Args:
        flow: The flow.
        state: Where it is (a fresh `BotState` on the flow's start to begin).
        inbound: The customer's message (seq 0, no text: just started).
        handover: When the customer gets a person at once.
        search: The knowledge base for ``answer`` steps (``None``: they find nothing).
        context: More template values (``contact``, ``conversation``...).
    """
    return await _Runner(flow, state, inbound, handover, search, context or {}).run()
