"""Satisfaction surveys: sent after a resolution, answered once, followed up when low."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import (
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from ..events import SurveyAnswered, SurveyExpired, SurveyFollowUp, SurveySent
from ..models import (
    Author,
    Conversation,
    ConversationStatus,
    MessageKind,
    Page,
    Survey,
    SurveyForm,
    SurveySettings,
    SurveyStatus,
    Ticket,
)
from ..models._base import new_id, utcnow
from ..models.surveys import QuestionKind
from ..stores.base import Insert, Lt, Update
from ._core import Core, bump, check_limit, checked, choice
from .contacts import Service, check_key
from .messages import Messages
from .tickets import Tickets
from .transcripts import Transcripts

__all__ = ["Surveys"]

log = logging.getLogger(__name__)

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_BOT = "survey"


def _now(value: object) -> datetime:
    if value is None:
        return utcnow()
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInputError("now must be a timezone-aware datetime", field="now")
    return value


def _form(value: object, default: SurveyForm) -> SurveyForm:
    if value is None:
        return default
    if isinstance(value, SurveyForm):
        return value
    return SurveyForm.from_data(value)


def _question_line(n: int, form: SurveyForm, qid: str) -> str:
    q = form.question(qid)
    assert q is not None
    if q.kind is QuestionKind.AGREEMENT:
        scale = "strongly disagree / disagree / neutral / agree / strongly agree"
    else:
        unit = " stars" if q.kind is QuestionKind.STARS else ""
        low = f" = {q.low_label}" if q.low_label else ""
        high = f" = {q.high_label}" if q.high_label else ""
        scale = f"{q.low}{low} to {q.high}{high}{unit}"
    return f"{n}. {q.text} ({scale})"


def survey_text(form: SurveyForm) -> str:
    """The survey as plain chat text, for channels that cannot show a form."""
    lines = [form.title]
    lines += [_question_line(n, form, q.id) for n, q in enumerate(form.questions, 1)]
    if form.comment_prompt:
        lines.append(form.comment_prompt)
    return "\n".join(lines)


class Surveys(Service):
    """Satisfaction (CSAT) surveys in the chat window after a resolution.

    A survey is posted into a resolved conversation as a bot message whose
    metadata carries the survey id and form (so a widget can show it as a
    form), once per resolution. The customer answers it once, before it
    expires; a low score opens a high-priority ticket for a supervisor with
    the transcript attached, and publishes ``survey.follow_up``. Every answer
    publishes ``survey.answered``, which automation rules see as
    ``rating.received``.

    Args:
        core: The kit's shared state.
        settings: Survey settings; by default those of the kit's settings
            (``ChatKitSettings.surveys``), else `SurveySettings` defaults.

    Example:
        ```python
        await kit.conversations.resolve(conv.id)
        survey = await kit.surveys.send(conv.id)
        await kit.surveys.answer(survey.id, {"overall": 2, "time_to_resolve": 1,
                                             "agent_helped": "disagree", "use_again": 2})
        ```
    """

    def __init__(self, core: Core, settings: SurveySettings | None = None) -> None:
        super().__init__(core)
        if settings is not None and not isinstance(settings, SurveySettings):
            raise InvalidInputError("settings must be SurveySettings", field="settings")
        self._settings = settings

    @property
    def settings(self) -> SurveySettings:
        """The survey settings in force."""
        if self._settings is not None:
            return self._settings
        configured = getattr(self._core.settings, "surveys", None)
        return configured if isinstance(configured, SurveySettings) else SurveySettings()

    async def send(
        self, conversation_id: str, form: SurveyForm | Mapping[str, Any] | None = None
    ) -> Survey:
        """Post a survey into a resolved conversation (once per resolution).

        Sending again for the same resolution returns the survey already
        sent and posts nothing. The conversation must be resolved (a closed
        one takes no messages).

        Args:
            conversation_id: The conversation.
            form: The questions; default `SurveySettings.form`. A mapping is
                validated as `SurveyForm.from_data` does.

        Raises:
            NotFoundError: No such conversation.
            InvalidInputError: A malformed form, or the conversation is not resolved.
        """
        chosen = _form(form, self.settings.form)
        conversation = await self._load(Conversation, conversation_id, "conversation")
        if (
            conversation.status is not ConversationStatus.RESOLVED
            or conversation.resolved_at is None
        ):
            raise InvalidInputError(
                f"conversation {conversation.id} is {conversation.status.value}; "
                "surveys are sent after resolution",
                field="conversation_id",
            )
        resolution = conversation.resolved_at.strftime(_STAMP)
        for survey in await self.for_conversation(conversation.id):
            if survey.resolved_at == conversation.resolved_at:
                return survey
        now = utcnow()
        survey = checked(
            Survey,
            id=new_id("srv"),
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            agent_id=conversation.assignee_id,
            form=chosen,
            resolved_at=conversation.resolved_at,
            expires_at=now + self.settings.expire_after,
        )
        # The message goes first, keyed by the resolution: a retry after a
        # crash, or a racing sender, gets the first message back, and adopts
        # the survey id it carries.
        message = await Messages(self._core).send(
            conversation.id,
            survey_text(chosen),
            author=Author.bot(_BOT),
            kind=MessageKind.TEXT,
            idempotency_key=f"survey:{resolution}",
            metadata={"survey_id": survey.id, "survey": chosen.model_dump(mode="json")},
        )
        carried = message.metadata.get("survey_id")
        if isinstance(carried, str) and carried != survey.id:
            store = await self._core.ready()
            found = await store.get(Survey, carried)
            if found is not None:
                return found
            survey = survey.model_copy(update={"id": carried})
        survey = survey.model_copy(update={"message_id": message.id})
        event = SurveySent(
            conversation_id=conversation.id, contact_id=conversation.contact_id, survey=survey
        )
        try:
            await self._core.commit([Insert(survey)], [event])
        except ConflictError:
            return await self.get(survey.id)  # a racing sender inserted it
        return survey

    async def get(self, survey_id: str) -> Survey:
        """Return a survey.

        Raises:
            NotFoundError: No such survey.
        """
        return await self._load(Survey, survey_id, "survey")

    async def for_conversation(self, conversation_id: str) -> builtins.list[Survey]:
        """A conversation's surveys, oldest first."""
        check_key(conversation_id, "conversation_id")
        store = await self._core.ready()
        found = await store.find(Survey, {"conversation_id": conversation_id})
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def answer(
        self,
        survey_id: str,
        answers: Mapping[str, object],
        comment: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Survey:
        """Record the customer's answers (once), and follow a low rating up.

        Answers are keyed by question id. A low score (at or below
        `SurveySettings.low_score`) opens a ticket for a supervisor (see
        `follow_up`). A rejected answer changes nothing.

        Args:
            survey_id: The survey.
            answers: Question id to answer: a whole number in the question's
                range, or one of `AGREEMENT_CHOICES` for a statement.
            comment: A short comment, when the form takes one.
            now: The time of the answer (default: now); for tests and imports.

        Raises:
            NotFoundError: No such survey.
            InvalidInputError: An unknown question, a missing required
                answer, an answer out of range, or a comment the form does not take.
            InvalidTransitionError: Answered already (``from_status`` is
                ``answered``) or expired (``expired``).
        """
        at = _now(now)
        if not isinstance(answers, Mapping):
            raise InvalidInputError(
                "answers must be a mapping of question id to answer", field="answers"
            )
        if comment is not None and not isinstance(comment, str):
            raise InvalidInputError("comment must be a string", field="comment")

        async def attempt() -> Survey:
            survey = await self.get(survey_id)
            if survey.status is SurveyStatus.SENT and at >= survey.expires_at:
                raise InvalidTransitionError(
                    resource_id=survey.id, from_status="expired", to_status="answered"
                )
            if survey.status is not SurveyStatus.SENT:
                raise InvalidTransitionError(
                    resource_id=survey.id, from_status=survey.status.value, to_status="answered"
                )
            values, score = _score(survey.form, answers)
            text = _comment(survey.form, comment)
            low = score <= self.settings.low_score
            new = bump(
                survey,
                status=SurveyStatus.ANSWERED,
                answers=values,
                comment=text,
                score=score,
                answered_at=at,
                low_rating=low,
            )
            event = SurveyAnswered(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                survey=new,
                score=score,
                low_rating=low,
            )
            await self._core.commit([Update(new)], [event])
            return new

        survey = await self._core.retry(attempt)
        if survey.follow_up_pending:
            survey = await self.follow_up(survey.id)
        return survey

    async def follow_up(self, survey_id: str) -> Survey:
        """Open the follow-up of a low rating, if it has none yet.

        A high-priority ticket (`SurveySettings.follow_up_priority`) for the
        supervisors' team (`SurveySettings.follow_up_team`, else the
        conversation's), whose first note holds the answers and the
        conversation's transcript; then ``survey.follow_up`` with the ticket
        id. `answer` calls it; call it again (or `resume_follow_ups`) after a
        crash between the two: it finds the ticket it opened before (its
        subject names the survey) instead of opening a second one.

        Raises:
            NotFoundError: No such survey.
        """
        survey = await self.get(survey_id)
        if not survey.follow_up_pending:
            return survey
        settings = self.settings
        tickets = Tickets(self._core)
        marker = f"[{survey.id}]"
        existing = await tickets.list(conversation_id=survey.conversation_id, limit=100)
        ticket: Ticket | None = next((t for t in existing.items if marker in t.subject), None)
        if ticket is None:
            transcript = await Transcripts(self._core).render(survey.conversation_id, format="text")
            ticket = await tickets.create(
                subject=f"Low satisfaction rating ({survey.score:.0%}) {marker}",
                conversation_id=survey.conversation_id,
                priority=settings.follow_up_priority,
                team=settings.follow_up_team,
                owner_id=settings.follow_up_owner_id,
                note=_note(survey, transcript),
            )

        async def attempt() -> Survey:
            current = await self.get(survey_id)
            if not current.follow_up_pending:
                return current
            assert ticket is not None
            assert current.score is not None
            new = bump(current, follow_up_ticket_id=ticket.id)
            event = SurveyFollowUp(
                conversation_id=new.conversation_id,
                contact_id=new.contact_id,
                survey_id=new.id,
                ticket_id=ticket.id,
                score=current.score,
            )
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def resume_follow_ups(self, *, limit: int = 100) -> builtins.list[Survey]:
        """Open the follow-ups that a crash left undone (low ratings without a ticket)."""
        check_limit(limit)
        store = await self._core.ready()
        ceiling = f"{self.settings.low_score:.4f}|~"
        low = await store.find(
            Survey,
            {"status": SurveyStatus.ANSWERED, "score_key": Lt(ceiling)},
            order_by="score_key",
        )
        done: builtins.list[Survey] = []
        for survey in low:
            if survey.follow_up_pending and len(done) < limit:
                done.append(await self.follow_up(survey.id))
        return done

    async def expire_due(
        self, now: datetime | None = None, *, limit: int = 500
    ) -> builtins.list[Survey]:
        """Expire the surveys not answered in time; each publishes ``survey.expired``.

        Answers after the expiry time are refused whether or not this ran;
        run it periodically to close them for reports. Reads only the due
        surveys (an indexed range).

        Returns:
            The surveys expired by this call.
        """
        at = _now(now)
        check_limit(limit)
        store = await self._core.ready()
        due = await store.find(
            Survey,
            {"status": SurveyStatus.SENT, "score_key": Lt(at.strftime(_STAMP))},
            order_by="score_key",
            limit=limit,
        )
        expired: builtins.list[Survey] = []
        for survey in due:
            result = await self._expire(survey.id, at)
            if result is not None:
                expired.append(result)
        return expired

    async def _expire(self, survey_id: str, at: datetime) -> Survey | None:
        async def attempt() -> Survey | None:
            try:
                survey = await self.get(survey_id)
            except NotFoundError:
                return None
            if survey.status is not SurveyStatus.SENT or survey.expires_at > at:
                return None
            new = bump(survey, status=SurveyStatus.EXPIRED)
            event = SurveyExpired(
                conversation_id=new.conversation_id, contact_id=new.contact_id, survey_id=new.id
            )
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def list(
        self,
        *,
        status: SurveyStatus | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Survey]:
        """Page through surveys by id, optionally of one status."""
        where: dict[str, object] = {}
        if status is not None:
            where["status"] = choice(SurveyStatus, status, "status", "survey status")
        return await self._core.paged(Survey, where, limit=limit, cursor=cursor)


def _score(form: SurveyForm, answers: Mapping[str, object]) -> tuple[dict[str, int | str], float]:
    unknown = sorted(str(k) for k in answers if not isinstance(k, str) or form.question(k) is None)
    if unknown:
        raise InvalidInputError(
            f"the survey has no question {', '.join(repr(u) for u in unknown)}", field="answers"
        )
    values: dict[str, int | str] = {}
    scores: builtins.list[float] = []
    for question in form.questions:
        if question.id not in answers or answers[question.id] is None:
            if question.required:
                raise InvalidInputError(
                    f"an answer to {question.id!r} is required", field=f"answers.{question.id}"
                )
            continue
        value, score = question.normalise(answers[question.id])
        values[question.id] = value
        if question.scored:
            scores.append(score)
    if not scores:
        raise InvalidInputError("answer at least one scored question", field="answers")
    return values, round(sum(scores) / len(scores), 4)


def _comment(form: SurveyForm, comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    if form.comment_prompt is None:
        raise InvalidInputError("this survey takes no comment", field="comment")
    if len(comment) > form.comment_max_length:
        raise InvalidInputError(
            f"the comment is {len(comment)} characters; "
            f"this survey takes {form.comment_max_length} at most",
            field="comment",
        )
    if "\x00" in comment:
        raise InvalidInputError("the comment contains a NUL character", field="comment")
    return comment.strip()


def _note(survey: Survey, transcript: str) -> str:
    lines = [
        f"Survey {survey.id} ({survey.form.name}) scored {survey.score:.0%}.",
        *(f"- {q}: {a}" for q, a in survey.answers.items()),
    ]
    if survey.comment:
        lines.append(f"Comment: {survey.comment}")
    return "\n".join([*lines, "", "Transcript:", transcript])
