"""What passes between the sync engine and an integration."""

from __future__ import annotations

from enum import Enum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

from ..models._base import utcnow
from .capabilities import SyncObject

__all__ = [
    "ChangeAction",
    "HealthState",
    "HealthStatus",
    "InboundChange",
    "OutboundChange",
    "PullPage",
    "PushResult",
    "PushStatus",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ChangeAction(str, Enum):
    """What happened to a record."""

    UPSERT = "upsert"
    """Created or updated: write its current state."""
    DELETE = "delete"
    """Deleted (e.g. by retention): remove it remotely; already gone counts as done."""


class OutboundChange(BaseModel):
    """One local record to write to the vendor (an argument of ``Integration.push``).

    Attributes:
        change_id: Stable across retries of the same change: use it as the
            idempotency key, and ``local_id`` as the vendor-side external id,
            so a retry after a crash finds the record instead of creating it twice.
        object: The kind of record.
        action: Upsert or delete.
        local_id: The chatkit id (``conv_…``, ``msg_…``, ``ct_…``).
        remote_id: The vendor's id, when the id map knows it.
        parent_local_id: The record this one hangs off: a conversation's
            contact; a message's, note's or transcript's conversation.
        parent_remote_id: The parent's vendor id. The engine pushes parents
            first, so it is set whenever the parent is synced outbound.
        data: The record's current state as JSON: the chatkit model
            (`Contact`, `Conversation`, `Message`) dumped in JSON mode, plus
            ``"email"`` and ``"phone"`` for contacts (their first identity of
            that kind), and ``"assignee_email"`` and ``"assignee_name"`` for
            conversations (the assigned agent, the case owner to map to a
            vendor user; ``None`` when unassigned). For transcripts:
            ``"filename"``, ``"content_type"`` and ``"text"`` (the
            plain-text transcript), ``"html"`` and ``"json"`` (the same
            transcript rendered as a page and as JSON), ``"conversation_id"``,
            ``"contact_id"``, ``"team"``, ``"status"``, ``"created_at"``,
            ``"resolved_at"`` and ``"attachments"`` (see
            `Integration.transcript_attachment_bytes`). For events:
            ``"event"`` (the milestone: ``chat_started``, ``first_reply``,
            ``handover``, ``resolved``, ``rated``), ``"occurred_at"``,
            ``"conversation_id"``, ``"contact_id"``, ``"params"`` (the
            milestone's figures) and ``"visitor"``: the web visitor's
            ``client_id`` (their analytics client id), ``user_id`` (the
            website's user id of a signed-in visitor, never an e-mail),
            ``consent`` (``analytics``, ``ad_user_data``,
            ``ad_personalization``: true, false or ``None`` when not given)
            and ``consent_required`` (the website's setting). The
            integration maps it to the vendor's fields.
        occurred_at: When the change was made (UTC).
        attempt: 1 on the first try. Above 1, an earlier try may have reached
            the vendor before the worker stopped: an integration whose
            vendor has no external id for this kind looks the record up
            before creating it.
    """

    model_config = _FROZEN

    change_id: str = Field(min_length=1)
    object: SyncObject
    action: ChangeAction = ChangeAction.UPSERT
    local_id: str = Field(min_length=1)
    remote_id: str | None = None
    parent_local_id: str | None = None
    parent_remote_id: str | None = None
    data: dict[str, JsonValue] = Field(default_factory=dict)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    attempt: int = Field(default=1, ge=1)


class PushStatus(str, Enum):
    """The outcome of pushing one record."""

    OK = "ok"
    """The vendor confirmed it; the change is done."""
    RETRYABLE = "retryable"
    """A passing failure (429, 5xx, timeout, parent not there yet): back to the queue."""
    PERMANENT = "permanent"
    """The vendor refused it for good: to the dead-letter list, with ``error``."""
    SKIPPED = "skipped"
    """Deliberately not sent (no consent, too old for the vendor): done, with the
    reason in ``error``; nothing is at the vendor."""


class PushResult(BaseModel):
    """The outcome of one `OutboundChange`; ``push`` returns one per change.

    Build them with `ok`, `retryable` and `permanent`.

    Attributes:
        change_id: The change this answers.
        status: Done, retry later, or give up.
        remote_id: The vendor's id of the record (see `ok` for when it may be left out).
        remote_type: The vendor's type, e.g. ``"ticket"``.
        remote_version: The vendor's version or etag after the write, if any.
        error: The vendor's message (required unless OK). Never put secrets here.
        retry_after: Seconds to wait, when the vendor said (retryable only).
    """

    model_config = _FROZEN

    change_id: str = Field(min_length=1)
    status: PushStatus
    remote_id: str | None = None
    remote_type: str | None = None
    remote_version: str | None = None
    error: str | None = None
    retry_after: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status is PushStatus.OK and self.error is not None:
            raise ValueError("an OK result carries no error")
        if self.status is not PushStatus.OK and not self.error:
            raise ValueError(f"a {self.status.value} result needs the error")
        if self.retry_after is not None and self.status is not PushStatus.RETRYABLE:
            raise ValueError("retry_after belongs to retryable results only")
        return self

    @classmethod
    def ok(
        cls,
        change: OutboundChange,
        remote_id: str | None,
        *,
        remote_type: str | None = None,
        remote_version: str | None = None,
    ) -> PushResult:
        """The vendor confirmed ``change``.

        ``remote_id`` is required for upserts of contacts and conversations
        (their children need it). Messages, notes and transcripts may leave
        it out when the vendor's batch write does not return ids: the engine
        links them when a pull brings them back as written by the integration.

        Raises:
            ValueError: A contact or conversation upsert without a ``remote_id``.
        """
        if (
            change.action is ChangeAction.UPSERT
            and not remote_id
            and change.object in (SyncObject.CONTACT, SyncObject.CONVERSATION)
        ):
            raise ValueError(f"{change.change_id}: an OK upsert needs the remote id")
        return cls(
            change_id=change.change_id,
            status=PushStatus.OK,
            remote_id=remote_id,
            remote_type=remote_type,
            remote_version=remote_version,
        )

    @classmethod
    def retryable(
        cls, change: OutboundChange, error: str, *, retry_after: float | None = None
    ) -> PushResult:
        """``change`` failed for now; the engine tries it again later."""
        return cls(
            change_id=change.change_id,
            status=PushStatus.RETRYABLE,
            error=error,
            retry_after=retry_after,
        )

    @classmethod
    def skipped(cls, change: OutboundChange, reason: str) -> PushResult:
        """``change`` is done without reaching the vendor, on purpose (``reason`` says why)."""
        return cls(change_id=change.change_id, status=PushStatus.SKIPPED, error=reason)

    @classmethod
    def permanent(cls, change: OutboundChange, error: str) -> PushResult:
        """The vendor refused ``change`` for good; it goes to the dead-letter list."""
        return cls(change_id=change.change_id, status=PushStatus.PERMANENT, error=error)


class InboundChange(BaseModel):
    """One change read from the vendor (by ``pull`` or ``verify_webhook``).

    Attributes:
        object: The kind of record in chatkit's terms.
        action: Upsert or delete.
        remote_type: The vendor's type, e.g. ``"ticket"``.
        remote_id: The vendor's id.
        remote_version: The vendor's version or etag, used to skip stale and
            echoed changes.
        local_id: The chatkit id, when the vendor record carries our external id.
        parent_remote_id: The vendor id of the parent: a case's contact
            (requester); a comment's or note's case.
        data: The record in chatkit's terms: the integration maps the
            vendor's fields to these keys, and leaves out what the vendor
            does not have (the engine only changes the keys present).
            Contacts: ``name``, ``email``, ``phone``. Conversations:
            ``subject``, ``status`` (``open``, ``pending``, ``resolved``,
            ``closed``), ``priority`` (``low``, ``normal``, ``high``,
            ``urgent``), ``tags`` (a list). Messages and notes: ``text``,
            ``author_name``, ``from_integration`` (true when the vendor
            says our own API user wrote it) and ``from_customer`` (true when
            the case's contact wrote it, e.g. a reply by e-mail: it becomes
            the customer's message, and reopens a resolved conversation).
        changed_at: When the vendor says it changed (UTC).
    """

    model_config = _FROZEN

    object: SyncObject
    action: ChangeAction = ChangeAction.UPSERT
    remote_type: str = Field(min_length=1)
    remote_id: str = Field(min_length=1)
    remote_version: str | None = None
    local_id: str | None = None
    parent_remote_id: str | None = None
    data: dict[str, JsonValue] = Field(default_factory=dict)
    changed_at: AwareDatetime


class PullPage(BaseModel):
    """One page of inbound changes, oldest first.

    Attributes:
        changes: The changes.
        cursor: Pass it to the next ``pull``. The engine saves it in the same
            transaction as the applied changes, so a crash replays, never skips.
        has_more: Whether another page is ready now (pull again at once).
    """

    model_config = _FROZEN

    changes: tuple[InboundChange, ...] = ()
    cursor: str | None = None
    has_more: bool = False


class HealthState(str, Enum):
    """What ``Integration.check`` found."""

    OK = "ok"
    DEGRADED = "degraded"
    """Reachable, but slow, rate limited or partly failing."""
    AUTH_FAILED = "auth_failed"
    """Credentials refused: sync parks until they are fixed."""
    QUOTA_EXHAUSTED = "quota_exhausted"
    """A hard or daily limit is used up: sync parks until it resets."""
    UNREACHABLE = "unreachable"


class HealthStatus(BaseModel):
    """The result of a health and authentication check.

    Attributes:
        state: What was found.
        detail: A line for people (never a secret).
        checked_at: When (UTC).
    """

    model_config = _FROZEN

    state: HealthState
    detail: str = ""
    checked_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        """Whether sync can run (OK or degraded)."""
        return self.state in (HealthState.OK, HealthState.DEGRADED)
