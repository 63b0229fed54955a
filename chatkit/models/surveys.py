"""Satisfaction surveys (CSAT) sent after a resolution, and reviewers' notes on chats."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from enum import Enum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InvalidInputError
from ._base import Record, SafeText, UTCDateTime
from .conversations import Conversation, Priority

__all__ = [
    "AGREEMENT_CHOICES",
    "QuestionKind",
    "ReviewItem",
    "ReviewNote",
    "Survey",
    "SurveyForm",
    "SurveyQuestion",
    "SurveySettings",
    "SurveyStatus",
]

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

AGREEMENT_CHOICES: tuple[str, ...] = (
    "strongly_disagree",
    "disagree",
    "neutral",
    "agree",
    "strongly_agree",
)
"""The answers to an agreement statement, worst first (they score 1 to 5)."""


class QuestionKind(str, Enum):
    """How a survey question is answered."""

    SCALE = "scale"
    """A whole number from `SurveyQuestion.low` to `SurveyQuestion.high` (1-5 by default)."""
    STARS = "stars"
    """A star rating, 0 to 5 stars by default."""
    AGREEMENT = "agreement"
    """A statement ("The agent could help me") answered with one of `AGREEMENT_CHOICES`."""


class SurveyQuestion(BaseModel):
    """One question of a `SurveyForm`.

    Attributes:
        id: Slug the answer is keyed by (``"overall"``): lower case, digits, ``_``.
        kind: How it is answered.
        text: The question or statement shown to the customer.
        low: Lowest answer of a scale or star rating (1, or 0 stars, by default).
        high: Highest answer (5 by default); at most 10 steps above ``low``.
        low_label: What the lowest answer means ("Very unsatisfied").
        high_label: What the highest answer means ("Very satisfied").
        required: Whether an answer must include it.
        scored: Whether it counts towards the survey's score.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: QuestionKind
    text: SafeText = Field(min_length=1, max_length=500)
    low: int | None = None
    high: int | None = None
    low_label: SafeText | None = Field(default=None, max_length=100)
    high_label: SafeText | None = Field(default=None, max_length=100)
    required: bool = True
    scored: bool = True

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                "must be a slug: a lower-case letter, then letters, digits or _ (40 at most)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_bounds(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        kind = data.get("kind")
        kind = kind.value if isinstance(kind, QuestionKind) else kind
        if kind not in (QuestionKind.SCALE.value, QuestionKind.STARS.value):
            return data
        low = 0 if kind == QuestionKind.STARS.value else 1
        return {"low": low, "high": 5, **{k: v for k, v in data.items() if v is not None}}

    @model_validator(mode="after")
    def _bounds(self) -> SurveyQuestion:
        if self.kind is QuestionKind.AGREEMENT:
            if self.low is not None or self.high is not None:
                raise ValueError("an agreement statement has no low/high (its answers are fixed)")
            return self
        assert self.low is not None
        assert self.high is not None
        if not 0 <= self.low < self.high <= self.low + 10:
            raise ValueError(
                f"low ({self.low}) must be at least 0 and below high ({self.high}), "
                "10 apart at most"
            )
        return self

    @property
    def choices(self) -> tuple[int | str, ...]:
        """Every valid answer, worst first."""
        if self.kind is QuestionKind.AGREEMENT:
            return AGREEMENT_CHOICES
        assert self.low is not None
        assert self.high is not None
        return tuple(range(self.low, self.high + 1))

    def normalise(self, answer: object) -> tuple[int | str, float]:
        """The stored answer and its score from 0 (worst) to 1 (best).

        Raises:
            InvalidInputError: Not one of `choices` (``field`` is ``answers.<id>``).
        """
        choices = self.choices
        where = f"answers.{self.id}"
        if self.kind is QuestionKind.AGREEMENT:
            if not isinstance(answer, str) or answer not in choices:
                raise InvalidInputError(
                    f"{self.id!r} takes one of {', '.join(AGREEMENT_CHOICES)}", field=where
                )
            return answer, choices.index(answer) / (len(choices) - 1)
        if isinstance(answer, bool) or not isinstance(answer, int) or answer not in choices:
            raise InvalidInputError(
                f"{self.id!r} takes a whole number from {choices[0]} to {choices[-1]}",
                field=where,
            )
        return answer, choices.index(answer) / (len(choices) - 1)


class SurveyForm(BaseModel):
    """What a satisfaction survey asks. Load your own with `from_data`, `from_json`, `from_yaml`.

    Attributes:
        name: A name for reports (``"csat"``).
        title: The line that introduces the survey in the chat.
        questions: The questions, in order; unique ids, at least one scored.
        comment_prompt: Invites a short comment; ``None`` takes no comment.
        comment_max_length: Longest comment accepted, in characters.

    Example:
        ```python
        form = SurveyForm.from_data({
            "name": "quick",
            "questions": [
                {"id": "stars", "kind": "stars", "text": "How many stars for this chat?"},
            ],
        })
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: SafeText = Field(default="csat", min_length=1, max_length=100)
    title: SafeText = Field(default="How did we do?", min_length=1, max_length=500)
    questions: tuple[SurveyQuestion, ...] = Field(min_length=1, max_length=20)
    comment_prompt: SafeText | None = Field(default="Anything you want to tell us?", max_length=500)
    comment_max_length: int = Field(default=1000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> SurveyForm:
        ids = [q.id for q in self.questions]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"question ids must be unique; repeated: {', '.join(repeated)}")
        if not any(q.scored for q in self.questions):
            raise ValueError("at least one question must be scored")
        return self

    def question(self, question_id: str) -> SurveyQuestion | None:
        """The question with this id, if the form has one."""
        return next((q for q in self.questions if q.id == question_id), None)

    @classmethod
    def csat(cls) -> SurveyForm:
        """The standard form: overall and time-to-resolve satisfaction (1-5), an
        agreement statement, likelihood to use chat again (1-5) and a comment."""
        return cls(
            name="csat",
            questions=(
                SurveyQuestion(
                    id="overall",
                    kind=QuestionKind.SCALE,
                    text="Overall, how satisfied are you with this chat?",
                    low_label="Very unsatisfied",
                    high_label="Very satisfied",
                ),
                SurveyQuestion(
                    id="time_to_resolve",
                    kind=QuestionKind.SCALE,
                    text="How satisfied are you with the time it took?",
                    low_label="Very unsatisfied",
                    high_label="Very satisfied",
                ),
                SurveyQuestion(
                    id="agent_helped",
                    kind=QuestionKind.AGREEMENT,
                    text="The agent could help me.",
                ),
                SurveyQuestion(
                    id="use_again",
                    kind=QuestionKind.SCALE,
                    text="How likely are you to use chat again?",
                    low_label="Very unlikely",
                    high_label="Very likely",
                ),
            ),
        )

    @classmethod
    def stars(cls) -> SurveyForm:
        """A 0-5 star rating with a short comment."""
        return cls(
            name="stars",
            title="Please rate this chat",
            questions=(
                SurveyQuestion(id="stars", kind=QuestionKind.STARS, text="How many stars?"),
            ),
            comment_prompt="A short comment?",
            comment_max_length=500,
        )

    @classmethod
    def from_data(cls, data: object) -> SurveyForm:
        """Validate a form given as parsed JSON/YAML (a mapping).

        Raises:
            InvalidInputError: A malformed form, naming the place, e.g.
                ``survey form questions[1].kind: must be one of scale, stars, agreement``.
        """
        from ..automation._loading import check_document
        from ..automation._validation import typed_error

        if isinstance(data, SurveyForm):
            return data
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"a survey form is a mapping of fields, not {type(data).__name__}", field="form"
            )
        check_document(data, "survey form", field="form")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise typed_error(exc, "survey form") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> SurveyForm:
        """Load a form from JSON text (see `from_data`).

        Raises:
            InvalidInputError: Malformed JSON (with line and column) or a bad form.
        """
        if not isinstance(text, str | bytes):
            raise InvalidInputError("survey form JSON must be text (str or bytes)", field="form")
        try:
            data = json.loads(text)
        except RecursionError as exc:  # the C decoder refuses very deep nesting this way
            raise InvalidInputError("survey form JSON is nested too deeply", field="form") from exc
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"survey form JSON is malformed at line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}",
                field="form",
            ) from exc
        except ValueError as exc:  # bytes that are not UTF-8
            raise InvalidInputError(f"survey form JSON is malformed: {exc}", field="form") from exc
        return cls.from_data(data)

    @classmethod
    def from_yaml(cls, text: str | bytes) -> SurveyForm:
        """Load a form from YAML text (needs PyYAML: ``pip install 'chatkit[yaml]'``).

        Raises:
            ConfigurationError: PyYAML is not installed.
            InvalidInputError: Malformed YAML (with line and column) or a bad form.
        """
        from ..automation._loading import read_yaml

        try:
            data = read_yaml(text)
        except InvalidInputError as exc:
            message = str(exc).replace("rules YAML", "survey form YAML", 1)
            raise InvalidInputError(message, field="form") from exc
        return cls.from_data(data)


class SurveySettings(BaseModel):
    """How satisfaction surveys behave.

    Attributes:
        form: The form sent when `Surveys.send` is given none.
        expire_after: How long a sent survey can be answered.
        low_score: A survey whose score (0 worst to 1 best, the mean of its
            scored answers) is at or below this is a low rating and gets a
            follow-up ticket. 0.4 catches a 1 or 2 of 5 and 0 to 2 stars.
        follow_up_priority: Priority of the follow-up ticket.
        follow_up_team: Team the follow-up ticket goes to (the
            supervisors'); ``None`` keeps the conversation's team.
        follow_up_owner_id: Agent who owns follow-up tickets, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    form: SurveyForm = Field(default_factory=SurveyForm.csat)
    expire_after: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    low_score: float = Field(default=0.4, ge=0, le=1)
    follow_up_priority: Priority = Priority.HIGH
    follow_up_team: SafeText | None = Field(default=None, max_length=100)
    follow_up_owner_id: str | None = None

    @field_validator("form", mode="before")
    @classmethod
    def _form(cls, value: Any) -> Any:
        return SurveyForm.from_data(value) if isinstance(value, Mapping) else value


class SurveyStatus(str, Enum):
    """Lifecycle of a survey: sent, then answered or expired (both final)."""

    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"


class Survey(Record):
    """A satisfaction survey sent into a conversation after it was resolved.

    Attributes:
        conversation_id: The conversation it asks about.
        contact_id: The customer asked.
        agent_id: The agent who had the conversation when it was sent.
        form: The questions asked.
        status: Sent, answered or expired.
        resolved_at: The resolution it was sent for (one survey per resolution).
        message_id: The bot message that carries it in the chat.
        expires_at: When it stops taking an answer.
        answers: The answers by question id.
        comment: The customer's comment.
        score: 0 (worst) to 1 (best): the mean of the scored answers.
        answered_at: When it was answered.
        low_rating: Whether the score was at or below `SurveySettings.low_score`.
        follow_up_ticket_id: The supervisor's ticket opened for a low rating.
    """

    table: ClassVar[str] = "surveys"
    columns: ClassVar[tuple[str, ...]] = ("conversation_id", "status", "score_key")

    conversation_id: str
    contact_id: str
    agent_id: str | None = None
    form: SurveyForm
    status: SurveyStatus = SurveyStatus.SENT
    resolved_at: UTCDateTime | None = None
    message_id: str | None = None
    expires_at: UTCDateTime
    answers: dict[str, int | str] = Field(default_factory=dict)
    comment: SafeText | None = Field(default=None, max_length=10_000)
    score: float | None = Field(default=None, ge=0, le=1)
    answered_at: UTCDateTime | None = None
    low_rating: bool = False
    follow_up_ticket_id: str | None = None

    @property
    def score_key(self) -> str | None:
        """Order within a status: answered surveys by score (``"0.2500|srv_..."``,
        worst first), surveys still waiting by expiry time (so the due ones are
        one range read); ``None`` for expired ones."""
        if self.status is SurveyStatus.ANSWERED and self.score is not None:
            return f"{self.score:.4f}|{self.id}"
        if self.status is SurveyStatus.SENT:
            return f"{self.expires_at.strftime(_STAMP)}|{self.id}"
        return None

    @property
    def follow_up_pending(self) -> bool:
        """A low rating whose follow-up ticket is not opened yet."""
        return self.low_rating and self.follow_up_ticket_id is None


class ReviewNote(Record):
    """A reviewer's note on a conversation, for training (several per conversation).

    Attributes:
        conversation_id: The conversation reviewed.
        reviewer_id: The agent (supervisor, trainer) who wrote it.
        text: The note.
    """

    table: ClassVar[str] = "reviews"
    columns: ClassVar[tuple[str, ...]] = ("conversation_id",)

    conversation_id: str
    reviewer_id: str
    text: SafeText = Field(min_length=1, max_length=5000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note needs text")
        return value


class ReviewItem(BaseModel):
    """One conversation in a review queue (see `Reviews.queue`).

    Attributes:
        conversation: The conversation.
        survey: Its answered survey (best and worst queues).
        mood: Its customer's mood, -1 (angry) to 1 (happy), when measured.
        notes: Reviewers' notes on it so far, oldest first.
    """

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    survey: Survey | None = None
    mood: float | None = None
    notes: list[ReviewNote] = Field(default_factory=list)
