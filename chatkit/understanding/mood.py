"""A conversation's mood: the moving average and trend of its messages' sentiment scores."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError
from .labels import SentimentLabel, label_for

__all__ = ["Mood", "MoodTracker"]


@dataclass(frozen=True)
class Mood:
    """A conversation's mood after the latest message.

    Attributes:
        score: Exponential moving average of the message scores, -1 to 1.
        label: Label of ``score``.
        trend: Change of ``score`` over the last few messages (negative:
            getting worse).
        worsening: ``trend`` fell by more than the tracker's threshold.
        messages: How many scores were added.
    """

    score: float
    label: SentimentLabel
    trend: float
    worsening: bool
    messages: int


class MoodTracker:
    """Follows the customer's mood across a conversation's messages.

    Args:
        alpha: Weight of the newest message in the moving average (0-1].
        window: How many messages back the trend looks.
        threshold: A trend at or below minus this means "getting worse".

    Example:
        ```python
        tracker = MoodTracker()
        for score in (0.3, -0.2, -0.6):
            mood = tracker.add(score)
        mood.worsening  # True; pass mood.score to Routing.set_mood
        ```
    """

    def __init__(self, *, alpha: float = 0.5, window: int = 3, threshold: float = 0.15) -> None:
        if not 0 < alpha <= 1:
            raise InvalidInputError("alpha is in (0, 1]", field="alpha")
        if window < 1:
            raise InvalidInputError("window is at least 1", field="window")
        self.alpha = alpha
        self.window = window
        self.threshold = threshold
        self._history: list[float] = []

    def add(self, score: float) -> Mood:
        """Add the next message's score (-1 to 1) and return the mood.

        Raises:
            InvalidInputError: ``score`` is outside [-1, 1].
        """
        if isinstance(score, bool) or not -1 <= score <= 1:
            raise InvalidInputError("a sentiment score is a number from -1 to 1", field="score")
        previous = self._history[-1] if self._history else score
        self._history.append(previous + self.alpha * (score - previous))
        return self.mood

    @property
    def mood(self) -> Mood:
        """The current mood (neutral with no messages yet)."""
        if not self._history:
            return Mood(0.0, "neutral", 0.0, False, 0)
        current = self._history[-1]
        before = self._history[max(0, len(self._history) - 1 - self.window)]
        trend = current - before
        return Mood(
            round(current, 4),
            label_for(current),
            round(trend, 4),
            trend <= -self.threshold,
            len(self._history),
        )
