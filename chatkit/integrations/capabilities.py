"""What an integration can sync, in which directions, and how fast."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Capabilities", "Direction", "ObjectSync", "RateBudget", "SyncObject"]


class SyncObject(str, Enum):
    """A kind of chatkit object an integration can keep in step with the vendor."""

    CONTACT = "contact"
    """Contacts ↔ the vendor's people (users, contacts, leads)."""
    CONVERSATION = "conversation"
    """Conversations and tickets ↔ cases or tickets."""
    MESSAGE = "message"
    """Public messages ↔ public comments."""
    NOTE = "note"
    """Private notes ↔ internal notes or private comments."""
    TRANSCRIPT = "transcript"
    """The transcript of a resolved conversation → a file on the case."""
    EVENT = "event"
    """Chat milestones (started, first reply, handed over, resolved, rated) → analytics
    events. Outbound only; each is sent once, as it was, and never updated."""


class Direction(str, Enum):
    """Which way changes flow."""

    OUTBOUND = "outbound"
    """chatkit → vendor (``Integration.push``)."""
    INBOUND = "inbound"
    """vendor → chatkit (``Integration.pull`` and webhooks)."""


_PARENTED = (SyncObject.MESSAGE, SyncObject.NOTE, SyncObject.TRANSCRIPT)


class ObjectSync(BaseModel):
    """How one kind of object is synced.

    Attributes:
        object: The chatkit object.
        remote_type: The vendor's name for it, e.g. ``"ticket"`` or ``"Case"``.
        directions: Which ways it flows.
        batch_size: The most records of this kind one ``push`` takes; the
            sync engine never passes more at once. Usually the vendor's batch
            limit (one call per push); an integration that splits a push into
            several vendor calls itself (Zendesk packs comments into jobs of
            100 tickets) may declare more, so it can fill its calls.
        at_most_once: The vendor cannot recognise a record it already has
            (no external id, no idempotency key: analytics hits). The engine
            marks each batch as being sent in the same write that claims it,
            before the call, and clears the mark when it records the answer;
            a record whose earlier try was cut off between the two (the
            worker died mid-call) is never passed again: it goes to the
            dead-letter list as "outcome unknown". So a crash never
            duplicates it, at the price of possibly losing what was in
            flight.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: SyncObject
    remote_type: str = Field(min_length=1)
    directions: frozenset[Direction] = Field(min_length=1)
    batch_size: int = Field(default=1, ge=1, le=10_000)
    at_most_once: bool = False

    @classmethod
    def both_ways(
        cls, object: SyncObject | str, remote_type: str, batch_size: int = 1
    ) -> ObjectSync:
        """Synced outbound and inbound: ``ObjectSync.both_ways("contact", "user", 100)``."""
        return cls(
            object=SyncObject(object),
            remote_type=remote_type,
            directions=frozenset(Direction),
            batch_size=batch_size,
        )

    @classmethod
    def outbound_only(
        cls,
        object: SyncObject | str,
        remote_type: str,
        batch_size: int = 1,
        *,
        at_most_once: bool = False,
    ) -> ObjectSync:
        """Pushed, never read back: ``ObjectSync.outbound_only("transcript", "file")``."""
        return cls(
            object=SyncObject(object),
            remote_type=remote_type,
            directions=frozenset({Direction.OUTBOUND}),
            batch_size=batch_size,
            at_most_once=at_most_once,
        )


class RateBudget(BaseModel):
    """How many API calls the integration may make; the engine stays under it.

    Attributes:
        calls: Calls allowed per ``per_seconds`` window.
        per_seconds: Length of the window.
        daily_calls: A hard daily limit, when the vendor has one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: int = Field(ge=1)
    per_seconds: float = Field(gt=0)
    daily_calls: int | None = Field(default=None, ge=1)


class Capabilities(BaseModel):
    """Everything an integration declares about itself, checked when declared.

    Example:
        ```python
        Capabilities(
            objects=(
                ObjectSync(object="contact", remote_type="user",
                           directions={"outbound", "inbound"}, batch_size=100),
                ObjectSync(object="conversation", remote_type="ticket",
                           directions={"outbound", "inbound"}, batch_size=100),
            ),
            webhooks=True,
            rate=RateBudget(calls=700, per_seconds=60),
        )
        ```

    Attributes:
        objects: One entry per synced kind of object, each kind at most once.
        webhooks: Whether the vendor pushes changes to us
            (``Integration.verify_webhook``). Needs an inbound object.
        rate: The call budget, when the vendor limits calls.

    Raises:
        pydantic.ValidationError: A kind listed twice; messages, notes or
            transcripts without conversations in the same direction (they
            hang off a case); webhooks with nothing inbound.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    objects: tuple[ObjectSync, ...] = Field(min_length=1)
    webhooks: bool = False
    rate: RateBudget | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Capabilities:
        kinds = [item.object for item in self.objects]
        twice = sorted({k.value for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ValueError(f"objects listed more than once: {', '.join(twice)}")
        for item in self.objects:
            if item.object in _PARENTED:
                for direction in item.directions:
                    if not self.supports(SyncObject.CONVERSATION, direction):
                        raise ValueError(
                            f"{item.object.value} {direction.value} needs conversation "
                            f"{direction.value} too: {item.object.value}s belong to a case"
                        )
            if item.object is SyncObject.EVENT and Direction.INBOUND in item.directions:
                raise ValueError("events are outbound only: nothing reads them back")
        if self.webhooks and not self.inbound:
            raise ValueError("webhooks=True but no object is synced inbound")
        return self

    def get(self, kind: SyncObject | str) -> ObjectSync | None:
        """The declaration for ``kind``, or ``None`` when it is not synced."""
        kind = SyncObject(kind)
        return next((item for item in self.objects if item.object is kind), None)

    def supports(self, kind: SyncObject | str, direction: Direction | str) -> bool:
        """Whether ``kind`` is synced in ``direction``."""
        found = self.get(kind)
        return found is not None and Direction(direction) in found.directions

    def at_most_once(self, kind: SyncObject | str) -> bool:
        """Whether ``kind`` is sent at most once (see `ObjectSync.at_most_once`)."""
        found = self.get(kind)
        return found is not None and found.at_most_once

    def batch_size(self, kind: SyncObject | str) -> int:
        """The largest batch of ``kind`` to push at once (0 when not synced)."""
        found = self.get(kind)
        return found.batch_size if found is not None else 0

    @property
    def outbound(self) -> bool:
        """Whether anything is pushed to the vendor."""
        return any(Direction.OUTBOUND in item.directions for item in self.objects)

    @property
    def inbound(self) -> bool:
        """Whether anything is read from the vendor."""
        return any(Direction.INBOUND in item.directions for item in self.objects)

    def summary(self) -> str:
        """One line for people: ``contact⇄user(100), message→comment(50); webhooks``."""
        arrows = {
            frozenset({Direction.OUTBOUND}): "→",
            frozenset({Direction.INBOUND}): "←",
            frozenset(Direction): "⇄",
        }
        parts = [
            f"{i.object.value}{arrows[i.directions]}{i.remote_type}({i.batch_size})"
            for i in self.objects
        ]
        extras = ["webhooks"] if self.webhooks else []
        if self.rate is not None:
            extras.append(f"{self.rate.calls}/{self.rate.per_seconds:g}s")
        return ", ".join(parts) + (f"; {', '.join(extras)}" if extras else "")
