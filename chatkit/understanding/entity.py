"""The `Entity` record: one thing a customer mentioned, as found in the message."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Entity"]


@dataclass(frozen=True, slots=True)
class Entity:
    """Something specific the customer mentioned.

    Attributes:
        type: ``order_number``, ``email``, ``phone``, ``date``, ``duration``,
            ``amount`` or ``product``.
        value: The normalised value (see the module docstring).
        text: The text as written.
        start: Offset of ``text`` in the message.
        end: Offset just after it.
    """

    type: str
    value: str
    text: str
    start: int
    end: int
