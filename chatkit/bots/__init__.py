"""Bot flows that run on a conversation before (or instead of) a person.

`Flow` is the declarative flow (pure data, validated on load); `BotState`
is where a flow is in one conversation (kept on `Conversation.bot`) and
`BotSummary` what a person taking over is told. `BotSettings` and
`HandoverSettings` configure the kit's bots; `chatkit.services.Bots` runs
them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .state import BotReply, BotState, BotStatus, BotSummary, ShownArticle

if TYPE_CHECKING:
    from .flows import (
        AnswerStep,
        AskStep,
        BranchCase,
        BranchStep,
        Choice,
        Flow,
        HandoffStep,
        HandoffTarget,
        SayStep,
        Step,
    )
    from .handover import BotSettings, HandoverSettings

__all__ = [
    "AnswerStep",
    "AskStep",
    "BotReply",
    "BotSettings",
    "BotState",
    "BotStatus",
    "BotSummary",
    "BranchCase",
    "BranchStep",
    "Choice",
    "Flow",
    "HandoffStep",
    "HandoffTarget",
    "HandoverSettings",
    "SayStep",
    "ShownArticle",
    "Step",
]

_LATER = {
    **dict.fromkeys(
        (
            "AnswerStep",
            "AskStep",
            "BranchCase",
            "BranchStep",
            "Choice",
            "Flow",
            "HandoffStep",
            "HandoffTarget",
            "SayStep",
            "Step",
        ),
        ".flows",
    ),
    "BotSettings": ".handover",
    "HandoverSettings": ".handover",
}
"""Names imported on first use: the conversation model imports this package
for `BotState`, and the flows need the automation package, which needs the
models, so they cannot be imported while the models are."""


def __getattr__(name: str) -> object:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
