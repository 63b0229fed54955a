"""What the parts of the sync engine share: its report, its settings and its small helpers.

`SyncEngine` (``engine.py``) is assembled from layers, each a class in its own
module, each building on the one below:

- ``_failures.py`` (`_Failures`): integration calls with retries, the saved
  state and its call counts, parking, and what a vendor's answer does to a
  link (done, retried with backoff, or dead-lettered);
- ``_links.py`` (`_Links`): the id map's bookkeeping: queueing, claims and
  their leases, releasing, waiting for parents, settling answers;
- ``_outbound.py`` (`_Outbound`): outbound events to queued links, and the
  push rounds;
- ``engine.py`` (`SyncEngine`): the public facade (lifecycle, cycles, pull,
  webhooks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue

from ..integrations import Integration, PushResult, SyncObject
from ..models import ConversationStatus
from ..models.sync import SyncLink
from ..services._core import Core
from ..services.dispatch import Dispatcher
from ._inbound import Applier
from ._shared import RateLimiter
from .policy import ConflictPolicy

T = TypeVar("T")

_ORDER = (
    SyncObject.CONTACT,
    SyncObject.CONVERSATION,
    SyncObject.MESSAGE,
    SyncObject.NOTE,
    SyncObject.TRANSCRIPT,
    SyncObject.EVENT,
)
_DONE = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)

_PARENTS = (SyncObject.CONTACT.value, SyncObject.CONVERSATION.value)

SCAN = 10_000
"""The most due records of one kind a push round takes at once."""


class SyncReport(BaseModel):
    """What one `SyncEngine.run_once` (or one of its steps) did.

    Attributes:
        events: Outbox events read and queued for the vendor.
        pushed: Records the vendor confirmed.
        unchanged: Queued records that needed no call (nothing the vendor
            holds changed: a re-sync, or the echo of a change it sent us).
        retried: Records sent back to the queue (passing failures).
        dead: Records put on the dead-letter list.
        skipped: Records the integration deliberately did not send (no
            consent, too old for the vendor); done all the same.
        waiting: Records whose parent is not at the vendor yet.
        pulled: Inbound changes that wrote something locally.
        pulled_unchanged: Inbound changes that matched the local state
            (echoes of our writes, replays).
        pulled_skipped: Inbound changes about records chatkit does not hold.
        calls: Calls made to the integration (push, pull, check).
        parked: Why the integration is parked, when it is.
    """

    model_config = ConfigDict(extra="forbid")

    events: int = 0
    pushed: int = 0
    unchanged: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    waiting: int = 0
    pulled: int = 0
    pulled_unchanged: int = 0
    pulled_skipped: int = 0
    calls: int = 0
    parked: str | None = None

    def add(self, other: SyncReport) -> None:
        """Add ``other``'s counts to this report (``parked`` is taken over)."""
        for name in type(self).model_fields:
            if name == "parked":
                self.parked = other.parked or self.parked
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


_Outcome = tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]
"""A pushed (or settled without a call) link, the vendor's answer, its synced fields."""


class _Parked(Exception):
    """Raised inside a step when the integration had to be parked."""


class _EngineBase:
    """Settings and working state every layer of `SyncEngine` reads (set by its ``__init__``)."""

    _core: Core
    integration: Integration
    name: str
    policy: ConflictPolicy
    _max_attempts: int
    _call_retries: int
    _max_wait: float
    _retry_delay: float
    _max_retry_delay: float
    _park_seconds: float
    _claim_seconds: float
    _page_size: int
    _max_pages: int
    _outbound: list[SyncObject]
    _remote_types: dict[SyncObject, str]
    _limiter: RateLimiter | None
    _applier: Applier
    _dispatcher: Dispatcher | None
    _opened: bool
    _calls: int
    _unsaved_calls: int
    on_progress: Callable[[str, SyncReport], None] | None
    calls: int


def _chunks(items: list[T], size: int) -> list[list[T]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=max(0.0, value))
