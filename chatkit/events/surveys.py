"""Events about satisfaction surveys and review notes."""

from __future__ import annotations

from typing import Literal

from ..models.surveys import ReviewNote, Survey
from .base import BaseEvent

__all__ = ["ReviewNoteAdded", "SurveyAnswered", "SurveyExpired", "SurveyFollowUp", "SurveySent"]


class SurveySent(BaseEvent):
    """A satisfaction survey was posted into a resolved conversation."""

    type: Literal["survey.sent"] = "survey.sent"
    survey: Survey


class SurveyAnswered(BaseEvent):
    """The customer answered a survey; automation rules see it as ``rating.received``."""

    type: Literal["survey.answered"] = "survey.answered"
    survey: Survey
    score: float
    """0 (worst) to 1 (best)."""
    low_rating: bool
    """Whether it is at or below `SurveySettings.low_score` (a follow-up is opened)."""


class SurveyFollowUp(BaseEvent):
    """A low rating got its follow-up: a ticket for a supervisor, with the transcript."""

    type: Literal["survey.follow_up"] = "survey.follow_up"
    survey_id: str
    ticket_id: str
    score: float


class SurveyExpired(BaseEvent):
    """A survey was not answered in time and takes no answer any more."""

    type: Literal["survey.expired"] = "survey.expired"
    survey_id: str


class ReviewNoteAdded(BaseEvent):
    """A reviewer wrote a note on a conversation."""

    type: Literal["review.note_added"] = "review.note_added"
    note: ReviewNote
