"""The default transport: signals stay inside this process."""

from __future__ import annotations

from .base import Listener, Transport

__all__ = ["MemoryTransport"]


class MemoryTransport(Transport):
    """No signals leave the process; the kit wakes its own subscribers itself.

    Subscribers still see events committed by other processes on the same
    store, after at most `ChatKitSettings.event_poll_interval`.
    """

    def __init__(self) -> None:
        self._listener: Listener | None = None

    @classmethod
    def from_url(cls, url: str) -> MemoryTransport:
        """Build from ``memory://``."""
        return cls()

    async def open(self, listener: Listener) -> None:
        self._listener = listener

    async def publish(self, position: int) -> None:
        """Nothing to do: local subscribers are woken by the kit directly."""

    async def close(self) -> None:
        self._listener = None
