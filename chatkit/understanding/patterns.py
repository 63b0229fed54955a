"""Question patterns: similar customer questions across conversations, grouped and counted.

"my delivery hasn't arrived", "where is my parcel" and "kargom nerede" are
one pattern. Each message becomes a set of *concepts* (language-independent
ids from the language packs' concept lexicons: parcel, package, delivery,
order, kargo, 택배 → ``order``; where, arrive, late → ``arrival``) plus its
intent; messages are grouped greedily by the Jaccard similarity of those
sets, within one intent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .analyzer import Analyzer

__all__ = ["QuestionPattern", "question_patterns"]


@dataclass(frozen=True)
class QuestionPattern:
    """A group of similar customer messages.

    Attributes:
        label: A short description, e.g. ``"order_status: order, arrival"``.
        intent: The intent they share (``None`` when none was recognised).
        concepts: The concepts most of them mention.
        count: How many messages fell in it.
        examples: A few of the messages, first seen first.
        conversation_ids: The conversations they came from, first seen first.
    """

    label: str
    intent: str | None
    concepts: tuple[str, ...]
    count: int
    examples: tuple[str, ...]
    conversation_ids: tuple[str, ...]


@dataclass
class _Group:
    intent: str | None
    seed: frozenset[str]
    concepts: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)
    conversations: dict[str, None] = field(default_factory=dict)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def question_patterns(
    messages: Iterable[tuple[str, str]],
    *,
    analyzer: Analyzer | None = None,
    threshold: float = 0.5,
    max_examples: int = 3,
    min_count: int = 1,
    skip_intents: Iterable[str] = ("greeting",),
) -> list[QuestionPattern]:
    """Group similar messages into patterns, most frequent first.

    Args:
        messages: ``(conversation_id, text)`` pairs, e.g. the first customer
            message of each conversation.
        analyzer: Supplies languages, concepts and intents; the built-in
            `Analyzer` when omitted.
        threshold: Least Jaccard similarity between a message's concepts and
            a pattern's first message's for it to join (0-1).
        max_examples: Example texts kept per pattern.
        min_count: Patterns with fewer messages are left out.
        skip_intents: Messages with these intents are not questions (by
            default greetings and thanks).
    """
    analyzer = analyzer if analyzer is not None else Analyzer()
    skip = set(skip_intents)
    groups: list[_Group] = []
    for conversation_id, text in messages:
        language = analyzer.languages.detect(text)
        tokens = analyzer.languages.get(language).tokens(text)
        intent = analyzer.classifier.classify_tokens(tokens, language).intent
        if intent in skip:
            continue
        concepts = {t.concept for t in tokens if t.concept}
        if not concepts:
            concepts = {t.stem for t in tokens if not t.stop and not t.boundary}
        features = frozenset(c for c in concepts if c)
        best: _Group | None = None
        best_score = threshold
        for group in groups:
            if group.intent != intent:
                continue
            score = _jaccard(features, group.seed)
            if score >= best_score:
                best, best_score = group, score
        if best is None:
            best = _Group(intent, features)
            groups.append(best)
        best.concepts.update(features)
        best.texts.append(text)
        best.conversations.setdefault(conversation_id)
    patterns = []
    for group in groups:
        if len(group.texts) < min_count:
            continue
        common = tuple(c for c, n in group.concepts.most_common() if n * 2 >= len(group.texts))[:3]
        label = (
            f"{group.intent or 'other'}: {', '.join(common)}"
            if common
            else (group.intent or "other")
        )
        patterns.append(
            QuestionPattern(
                label=label,
                intent=group.intent,
                concepts=common,
                count=len(group.texts),
                examples=tuple(group.texts[:max_examples]),
                conversation_ids=tuple(group.conversations),
            )
        )
    patterns.sort(key=lambda p: -p.count)
    return patterns
