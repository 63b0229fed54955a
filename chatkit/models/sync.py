"""What the sync engine keeps: the id map, each integration's state, and its decisions."""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import ClassVar

from pydantic import Field, JsonValue

from ._base import Record, SafeText, UTCDateTime

__all__ = [
    "DecisionOutcome",
    "SyncDecision",
    "SyncLink",
    "SyncState",
    "link_id",
    "state_id",
]


def link_id(integration: str, local_id: str) -> str:
    """The id of the link of ``local_id`` with ``integration``: the same in every process.

    Two workers that see the same record for the first time both try to
    insert this id, so one of them gets a conflict instead of a second link.
    """
    digest = hashlib.sha256(f"{integration}\x00{local_id}".encode()).hexdigest()
    return f"slk_{digest[:32]}"


def state_id(integration: str) -> str:
    """The id of the `SyncState` of ``integration``."""
    return f"sst_{integration}"


class SyncLink(Record):
    """One local record and its twin at one vendor: the id map, and the outbound queue.

    A link is *pending* while `wanted` is ahead of `pushed`: a local change
    has not been confirmed by the vendor yet. `due_key` says when to try
    (``None`` when nothing is pending or it is dead-lettered).

    Attributes:
        integration: The integration's name.
        kind: ``contact``, ``conversation``, ``message``, ``note`` or ``transcript``.
        local_id: The chatkit id (``#transcript`` appended for a conversation's transcript).
        parent_local_id: The record it hangs off (a conversation's contact, a
            message's conversation).
        remote_type: The vendor's type, e.g. ``"ticket"``.
        remote_id: The vendor's id, once known.
        remote_key: ``remote_type:remote_id``, unique per integration.
        remote_version: The vendor's version after our last write or read.
        wanted: How many local changes were seen.
        pushed: Up to which of them the vendor confirmed.
        due_key: When the next push is due (a sortable UTC time), or ``None``.
        attempts: Failed tries since the last success.
        waiting: Its parent is not at the vendor yet; it comes due when the
            parent lands.
        last_error: The vendor's message for the last failure.
        dead: Refused for good, or out of retries: on the dead-letter list
            until retried (`Sync.retry`) or changed again.
        synced: The synced fields as of the last push or applied pull, for
            conflict detection and echo suppression.
        synced_at: When the two sides were last known to agree.
        remote_changed_at: The vendor's time of the newest inbound change
            applied; an older one arriving later (a late webhook) is ignored.
        payload: For events: what to send, taken from the outbox event when
            the link was queued (an event is sent as it was, once).
        sending: For kinds sent at most once: a push of it is under way (set
            with the claim before the call, cleared with the answer). Found
            set on a link that is due again, it means the worker died
            mid-call: the vendor may have it.
    """

    table: ClassVar[str] = "sync_links"
    columns: ClassVar[tuple[str, ...]] = (
        "integration",
        "kind",
        "local_id",
        "parent_local_id",
        "remote_key",
        "due_key",
        "dead",
    )
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("integration", "local_id"),
        ("integration", "remote_key"),
    )

    integration: str
    kind: str
    local_id: str
    parent_local_id: str | None = None
    remote_type: str | None = None
    remote_id: str | None = None
    remote_key: str | None = None
    remote_version: str | None = None
    wanted: int = 0
    pushed: int = 0
    due_key: str | None = None
    attempts: int = 0
    waiting: bool = False
    last_error: SafeText | None = None
    dead: bool = False
    synced: dict[str, JsonValue] = Field(default_factory=dict)
    synced_at: UTCDateTime | None = None
    remote_changed_at: UTCDateTime | None = None
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    sending: bool = False

    @property
    def pending(self) -> bool:
        """Whether a local change waits for the vendor's confirmation."""
        return self.wanted > self.pushed and not self.dead


class SyncState(Record):
    """Where one integration stands: its pull cursor, whether it is parked, its counters.

    Attributes:
        integration: The integration's name.
        cursor: The cursor of the last applied `PullPage` (saved in the same
            transaction as its changes).
        parked: Why sync is stopped (``auth_failed``, ``quota_exhausted``),
            or ``None`` when it runs.
        parked_detail: The vendor's message.
        parked_until: When to check again (``None``: until `Sync.resume`).
        day: The UTC day `calls_today` counts (``YYYY-MM-DD``).
        calls_today: API calls made that day, against the daily budget.
        pushed: Records the vendor confirmed, in all.
        pulled: Inbound changes applied, in all.
        last_push_at: When a push last succeeded.
        last_pull_at: When a pull last succeeded.
    """

    table: ClassVar[str] = "sync_states"
    columns: ClassVar[tuple[str, ...]] = ("integration",)
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("integration",),)

    integration: str
    cursor: str | None = None
    parked: str | None = None
    parked_detail: SafeText | None = None
    parked_until: UTCDateTime | None = None
    day: str = ""
    calls_today: int = 0
    pushed: int = 0
    pulled: int = 0
    last_push_at: UTCDateTime | None = None
    last_pull_at: UTCDateTime | None = None


class DecisionOutcome(str, Enum):
    """What the engine did with one field of an inbound change."""

    APPLIED = "applied"
    """The vendor's value was written locally."""
    KEPT_LOCAL = "kept_local"
    """Both sides changed and the policy kept ours (it goes out on the next push)."""
    REFUSED = "refused"
    """A guard refused the vendor's value (closed stays closed, an illegal move)."""


class SyncDecision(Record):
    """One field-level decision on an inbound change, kept for audit.

    Attributes:
        integration: The integration's name.
        local_id: The local record.
        remote_id: The vendor's record.
        field: The field, e.g. ``status``.
        local_value: Ours before the decision.
        remote_value: The vendor's.
        outcome: Applied, kept local, or refused.
        policy: The policy that decided (``remote_wins``, ``local_wins``,
            ``newest_wins``, ``no_conflict``, ``closed_stays_closed``...).
        reason: A line for people.
        at_key: When (sortable UTC time), for listing in order.
    """

    table: ClassVar[str] = "sync_decisions"
    columns: ClassVar[tuple[str, ...]] = ("integration", "local_id", "at_key")

    integration: str
    local_id: str
    remote_id: str | None = None
    field: str
    local_value: JsonValue = None
    remote_value: JsonValue = None
    outcome: DecisionOutcome
    policy: str
    reason: SafeText = ""
    at_key: str
