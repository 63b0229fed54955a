"""What writing a message sets off: one ordered seam, registered on by each feature.

`Messages` knows how to write a message; everything a message sets off
lives with the feature it belongs to and is registered here, in three
ordered phases:

1. **screens** run before anything is written and refuse a sender by raising
   (abuse blocks). `Messages.receive` screens the sender before a contact is
   created; `Messages.send` screens a customer author.
2. **steps** contribute to the message's own commit: they may annotate the
   message, change the conversation as it will be written, and add
   operations and events, all committed at once with the message (analysis,
   workload, ticket clocks). A step that raises stops the send; nothing is
   written.
3. **reactions** run after `Messages.receive` committed a customer's
   message (bots, then automatic replies); one may answer it.

Each stage has a name and an ``order`` (lower first; equal orders keep the
order they were added in). Features declare their stages where they are
defined, with `standard_screen`, `standard_step` and `standard_reaction`;
every kit starts with a copy of those (`MessagePipeline.standard`), and an
application can add its own to one kit through ``kit.messages.pipeline``.

| phase | name | order | from |
|---|---|---|---|
| screen | ``abuse`` | 100 | `chatkit.services.abuse` |
| step | ``understanding`` | 100 | `chatkit.services.understanding` |
| step | ``workload`` | 200 | `chatkit.services.workload` |
| step | ``clocks`` | 300 | `chatkit.services.ticket_clocks` |
| reaction | ``bots`` | 100 | `chatkit.services.bots` |
| reaction | ``auto_replies`` | 200 | `chatkit.services.autoreplies` |
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from ..errors import InvalidInputError
from ..events import Event
from ..models import Contact, Conversation, Identity, Message
from ..stores.base import Op

if TYPE_CHECKING:  # only for annotations: the core holds a pipeline
    from ._core import Core

__all__ = [
    "Arrival",
    "MessageDraft",
    "MessagePipeline",
    "Reaction",
    "Screen",
    "Screening",
    "Step",
    "standard_reaction",
    "standard_screen",
    "standard_step",
]

Phase = Literal["screen", "step", "reaction"]


@dataclass
class Screening:
    """Who is about to write a customer message, for the screens to judge.

    Attributes:
        core: The kit's core.
        contact_id: The contact, when known (``None``: a sender not seen before).
        identity: The sender's address on the channel, when it came from one.
        ip: The sender's IP address, as the web widget saw it.
        email: An e-mail address the widget collected.
        channel: The channel's name (``"sms"``...), when known.
    """

    core: Core
    contact_id: str | None = None
    identity: Identity | None = None
    ip: str | None = None
    email: str | None = None
    channel: str | None = None


@dataclass
class MessageDraft:
    """One message on its way into its commit; steps read and change it.

    The commit is, in this order: the update of `conversation`, the insert
    of `message`, then `ops`; its events are `leading`, then
    ``message.created`` (with `message`), then `trailing`.

    Attributes:
        core: The kit's core.
        before: The conversation as read (do not change it).
        conversation: The conversation as it will be written (replace it to change it).
        message: The message as it will be written (replace it to annotate it).
        ops: Further operations of the commit.
        leading: Events published before ``message.created`` (a reopening...).
        trailing: Events published after it (a mood change, ticket clocks...).
    """

    core: Core
    before: Conversation
    conversation: Conversation
    message: Message
    ops: list[Op] = field(default_factory=list)
    leading: list[Event] = field(default_factory=list)
    trailing: list[Event] = field(default_factory=list)


@dataclass
class Arrival:
    """A customer's message that `Messages.receive` committed, for the reactions.

    Attributes:
        core: The kit's core.
        contact: The sender.
        conversation: The conversation it landed in (as it was before the message).
        message: The stored message.
        new_conversation: Whether a conversation was started for it.
        taken: Set by a reaction that took charge of the message (a bot flow):
            the reactions after it leave it alone.
        acknowledgement: The answer sent to the customer, when one was.
    """

    core: Core
    contact: Contact
    conversation: Conversation
    message: Message
    new_conversation: bool
    taken: bool = False
    acknowledgement: Message | None = None


Screen = Callable[[Screening], Awaitable[None]]
"""A screen: raise (for example `ContactBlockedError`) to refuse the sender."""
Step = Callable[[MessageDraft], Awaitable[None]]
"""A step: change the draft in place."""
Reaction = Callable[[Arrival], Awaitable[None]]
"""A reaction: act on the committed message; set `Arrival.taken` / `acknowledgement`."""

F = TypeVar("F", bound=Callable[..., Awaitable[None]])

_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class _Stage:
    phase: Phase
    name: str
    order: int
    run: Callable[..., Awaitable[None]]


class MessagePipeline:
    """The ordered screens, steps and reactions of one kit's message writes.

    Example:
        ```python
        async def tag_vip(draft: MessageDraft) -> None:
            if draft.message.text.startswith("VIP"):
                draft.message = draft.message.model_copy(
                    update={"metadata": {**draft.message.metadata, "vip": True}}
                )

        kit.messages.pipeline.add_step("vip", tag_vip, order=50)  # before understanding
        ```
    """

    def __init__(self) -> None:
        self._stages: list[_Stage] = []

    @classmethod
    def standard(cls) -> MessagePipeline:
        """A pipeline with every stage the chatkit features declared."""
        pipeline = cls()
        for stage in _STANDARD._stages:
            pipeline._add(stage)
        return pipeline

    def copy(self) -> MessagePipeline:
        """An independent pipeline with the same stages."""
        pipeline = MessagePipeline()
        pipeline._stages = list(self._stages)
        return pipeline

    def add_screen(self, name: str, screen: Screen, *, order: int = 1000) -> None:
        """Screen every customer message before anything is written.

        Raises:
            InvalidInputError: Bad name or order, or a screen of that name exists.
        """
        self._add(_Stage("screen", name, order, screen))

    def add_step(self, name: str, step: Step, *, order: int = 1000) -> None:
        """Contribute to every message's commit.

        Raises:
            InvalidInputError: Bad name or order, or a step of that name exists.
        """
        self._add(_Stage("step", name, order, step))

    def add_reaction(self, name: str, reaction: Reaction, *, order: int = 1000) -> None:
        """Act on every customer message `Messages.receive` committed.

        Raises:
            InvalidInputError: Bad name or order, or a reaction of that name exists.
        """
        self._add(_Stage("reaction", name, order, reaction))

    def remove(self, phase: Phase, name: str) -> None:
        """Take a stage out (for example the ``bots`` reaction of a kit without bots).

        Raises:
            InvalidInputError: No such stage.
        """
        kept = [s for s in self._stages if not (s.phase == phase and s.name == name)]
        if len(kept) == len(self._stages):
            raise InvalidInputError(f"no {phase} named {name!r}", field="name")
        self._stages = kept

    def names(self, phase: Phase) -> list[str]:
        """The names of one phase's stages, in the order they run."""
        return [s.name for s in self._stages if s.phase == phase]

    async def screen(self, screening: Screening) -> None:
        """Run the screens in order; the first that refuses raises."""
        for stage in self._stages:
            if stage.phase == "screen":
                await stage.run(screening)

    async def build(self, draft: MessageDraft) -> None:
        """Run the steps in order on ``draft``."""
        for stage in self._stages:
            if stage.phase == "step":
                await stage.run(draft)

    async def react(self, arrival: Arrival) -> None:
        """Run the reactions in order on ``arrival``."""
        for stage in self._stages:
            if stage.phase == "reaction":
                await stage.run(arrival)

    def _add(self, stage: _Stage) -> None:
        if not isinstance(stage.name, str) or not _NAME.fullmatch(stage.name):
            raise InvalidInputError(
                "a stage name is 1-64 lowercase letters, digits, '_', '.' or '-'", field="name"
            )
        if isinstance(stage.order, bool) or not isinstance(stage.order, int):
            raise InvalidInputError("order must be an integer", field="order")
        if not callable(stage.run):
            raise InvalidInputError(f"{stage.phase} {stage.name!r} is not callable", field="name")
        if stage.name in self.names(stage.phase):
            raise InvalidInputError(
                f"a {stage.phase} named {stage.name!r} is already registered", field="name"
            )
        at = len(self._stages)
        while at > 0 and self._stages[at - 1].order > stage.order:
            at -= 1
        self._stages.insert(at, stage)

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.phase}:{s.name}" for s in self._stages)
        return f"MessagePipeline({parts})"


_STANDARD = MessagePipeline()
"""The stages chatkit's own features declare; `MessagePipeline.standard` copies them."""


def _declare(phase: Phase, name: str, order: int) -> Callable[[F], F]:
    def declare(run: F) -> F:
        _STANDARD._add(_Stage(phase, name, order, run))
        return run

    return declare


def standard_screen(name: str, *, order: int) -> Callable[[Screen], Screen]:
    """Declare a screen every kit starts with (a decorator, for chatkit's features)."""
    return _declare("screen", name, order)


def standard_step(name: str, *, order: int) -> Callable[[Step], Step]:
    """Declare a step every kit starts with (a decorator, for chatkit's features)."""
    return _declare("step", name, order)


def standard_reaction(name: str, *, order: int) -> Callable[[Reaction], Reaction]:
    """Declare a reaction every kit starts with (a decorator, for chatkit's features)."""
    return _declare("reaction", name, order)
