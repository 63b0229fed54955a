"""Transports carry "new events were committed" signals between processes.

The event outbox in the store is the truth: it orders events, keeps them and
lets a subscriber resume. A transport only tells waiting subscribers, in this
process and others, that there is something new to read, so they do not wait
for their next poll. Losing a signal therefore delays an event by at most
`ChatKitSettings.event_poll_interval`; it never loses or reorders one.

`MemoryTransport` (the default) signals within one process; `RedisTransport`
across processes and machines (``redis://``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

__all__ = ["Transport"]

Listener = Callable[[int], None]
"""Called with the newest committed position when a signal arrives."""


class Transport(ABC):
    """Abstract transport of commit signals."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> Transport:
        """Build an unopened transport from its URL."""

    @abstractmethod
    async def open(self, listener: Listener) -> None:
        """Connect, and from now on call ``listener`` for every signal received.

        Raises:
            TransportError: The transport cannot be reached.
        """

    @abstractmethod
    async def publish(self, position: int) -> None:
        """Signal that events up to ``position`` were committed."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect (idempotent)."""
