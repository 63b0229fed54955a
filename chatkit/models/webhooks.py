"""Outbound webhooks: subscriptions of URLs to event types, and the delivery log.

See `chatkit.services.Webhooks` for how deliveries are made, signed and retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any, ClassVar

from pydantic import Field

from ..redact import mask_url
from ._base import Record, SafeText, UTCDateTime

__all__ = ["WebhookDelivery", "WebhookDeliveryStatus", "WebhookSubscription"]


class WebhookSubscription(Record):
    """A URL that receives the events of some types, signed with its own secret.

    The signing secret is stored (it must be, to sign), but the objects the
    `Webhooks` service returns carry it only once: from `Webhooks.subscribe`
    and `Webhooks.rotate_secret`. Everywhere else `secret` is ``None``.

    Attributes:
        url: Where deliveries are POSTed (``http`` or ``https``). Print it with
            `masked_url`: a token in the URL is a credential.
        events: Event types delivered: ``"*"`` for all, a type such as
            ``"message.created"``, or a family such as ``"ticket.*"``.
        description: A note for people.
        active: Paused subscriptions get no new deliveries; what was pending
            when it was paused is sent when it is resumed.
        paused_reason: Why it was paused (by `Webhooks.update`, or because the
            endpoint answered ``410 Gone``).
        start_position: Only events after this outbox position are delivered
            (the newest one when it subscribed): a new subscription never
            receives the past.
        secret: The signing secret (only on what `Webhooks.subscribe` and
            `Webhooks.rotate_secret` return).
        previous_secret: The secret before the last rotation, which still
            signs deliveries until `previous_secret_until` (stored only).
        previous_secret_until: When the previous secret stops signing.
    """

    table: ClassVar[str] = "webhook_subscriptions"
    columns: ClassVar[tuple[str, ...]] = ("active",)

    url: SafeText = Field(min_length=1, max_length=2000)
    events: list[SafeText] = Field(default_factory=lambda: ["*"], min_length=1, max_length=200)
    description: SafeText | None = Field(default=None, max_length=500)
    active: bool = True
    paused_reason: SafeText | None = Field(default=None, max_length=500)
    start_position: int = Field(default=0, ge=0)
    secret: str | None = Field(default=None, repr=False)
    previous_secret: str | None = Field(default=None, repr=False)
    previous_secret_until: UTCDateTime | None = None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "url" and isinstance(value, str) else value)

    @property
    def masked_url(self) -> str:
        """`url` with credentials (a ``token=`` parameter, a user name) replaced by ``***``."""
        return mask_url(self.url)

    def wants(self, event_type: str) -> bool:
        """Whether events of ``event_type`` match `events`."""
        for pattern in self.events:
            if pattern == "*" or pattern == event_type:
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False


class WebhookDeliveryStatus(str, Enum):
    """Where a delivery stands."""

    PENDING = "pending"
    """Waiting for its first attempt or its next retry (`WebhookDelivery.next_attempt_at`)."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    DEAD = "dead"
    """Given up on (out of attempts, 410 Gone, a refused target): the dead letter.
    `Webhooks.redeliver` sends it again."""


class WebhookDelivery(Record):
    """One event for one subscription: the delivery log, and the retry queue.

    There is one delivery per subscription and event, whatever happens (a
    batch handled twice by the outbox dispatch writes it once); its id is the
    ``Chatkit-Delivery`` header, the same on every attempt, for receivers to
    de-duplicate by.

    Attributes:
        subscription_id: The `WebhookSubscription`.
        event_id: The event delivered (``evt_...``; a ping has its own).
        event_type: Its type (``webhook.ping`` for `Webhooks.ping`).
        event_position: Its outbox position (``None`` for a ping).
        status: Pending, delivered or dead.
        attempts: Attempts made (counted when an attempt starts).
        next_attempt_at: When the next attempt is due (pending only).
        last_attempt_at: When the last attempt started.
        delivered_at: When the endpoint answered 2xx.
        status_code: The HTTP status of the last answer, if there was one.
        error: Why the last attempt failed (URLs masked).
        response_snippet: The first 200 characters of the last answer's body,
            URLs masked; nothing more of it is kept.
        duration_ms: How long the last attempt took.
        body: The exact JSON body sent (what the signature covers).
        due_key: Sortable form of `next_attempt_at` while pending (the queue's
            index; also moved ahead while a worker holds the delivery).
        log_key: Sort key of the log: creation time, outbox position and id.
    """

    table: ClassVar[str] = "webhook_deliveries"
    columns: ClassVar[tuple[str, ...]] = (
        "subscription_id",
        "event_id",
        "status",
        "due_key",
        "log_key",
    )
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("subscription_id", "event_id"), ("log_key",))
    sort_keys: ClassVar[frozenset[str]] = frozenset({"log_key"})

    subscription_id: str
    event_id: str
    event_type: SafeText
    event_position: int | None = None
    status: WebhookDeliveryStatus = WebhookDeliveryStatus.PENDING
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: UTCDateTime | None = None
    last_attempt_at: UTCDateTime | None = None
    delivered_at: UTCDateTime | None = None
    status_code: int | None = None
    error: SafeText | None = None
    response_snippet: SafeText | None = None
    duration_ms: float | None = None
    body: SafeText = Field(repr=False)
    due_key: str | None = None
    log_key: str
