"""Sentiment labels: the three labels and the score bands that map to them."""

from __future__ import annotations

from typing import Literal

__all__ = ["NEUTRAL_BAND", "SentimentLabel", "label_for"]

SentimentLabel = Literal["negative", "neutral", "positive"]

NEUTRAL_BAND = 0.2
"""Scores within ±0.2 are ``neutral``."""


def label_for(score: float) -> SentimentLabel:
    """The label of a score: ``negative`` below -0.2, ``positive`` above 0.2."""
    if score <= -NEUTRAL_BAND:
        return "negative"
    if score >= NEUTRAL_BAND:
        return "positive"
    return "neutral"
