"""Signed outbound webhooks: subscriptions, deliveries from the outbox, retries, dead letters.

How a delivery goes:

1. The ``webhook-deliveries`` dispatch group reads the outbox (shared by
   every worker, see `Dispatcher`). For each event and each active
   subscription that wants its type, a `WebhookDelivery` is written, once
   per (subscription, event) however often the batch is handled. Writing
   is all the batch does, so the outbox moves on whatever the endpoints do.
2. Due deliveries are claimed one by one (a version-checked write that
   counts the attempt and moves ``due_key`` past the attempt's timeout), so
   two workers never send the same attempt, and POSTed through
   `chatkit.webhooks.webhook_client` (non-public targets are refused unless
   `WebhookSettings` allows them), at most ``concurrency`` at once and
   ``per_subscription`` per endpoint: a slow endpoint holds its own slots only.
3. A 2xx answer marks it delivered. Otherwise it is due again after a
   backoff (``retry_delay`` times 3 per attempt, +-20% jitter, at most
   ``max_retry_delay``), or after the ``Retry-After`` of a 429 or 503
   answer; after ``max_attempts`` it is dead (the dead letter, see
   `Webhooks.redeliver`). ``410 Gone`` dead-letters it at once and pauses
   the subscription (``pause_on_gone``). A refused target is dead at once.
   Redirects are not followed (a POST turned into a GET would lose its
   body): a 3xx answer counts as a failure.

Delivery is at least once: a worker that dies mid-attempt leaves the
delivery to be tried again once its claim runs out. Receivers de-duplicate
by the ``Chatkit-Delivery`` header.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
import logging
import random
import secrets
import time
import typing
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

import anyio
import httpx

from ..errors import (
    ConflictError,
    DuplicateKeyError,
    InvalidInputError,
    WebhookTargetError,
)
from ..events import Event
from ..models import Page
from ..models._base import new_id, utcnow
from ..models.webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from ..redact import mask_text, mask_url
from ..stores.base import Condition, Delete, In, Insert, Lt, Op, Update, column_value
from ..webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSettings,
    _allowed,
    sign_payload,
    webhook_client,
)
from ._core import UNSET, Core, Unset, bump, checked, short
from .contacts import Service, check_key
from .dispatch import Dispatcher

__all__ = [
    "GROUP",
    "PING",
    "WebhookDispatcher",
    "Webhooks",
    "event_types",
    "parse_retry_after",
    "webhook_payload",
]

_MAX_AGE = timedelta(days=36525)
"""The oldest `Webhooks.prune` looks back (a cutoff before year 1 cannot be computed)."""

log = logging.getLogger("chatkit.webhooks")

GROUP = "webhook-deliveries"
"""The dispatch group that turns outbox events into deliveries.

Not ``"webhooks"``: that is the name the guides give to a dispatcher of your
own, which must not share its events with this one."""

PING = "webhook.ping"
"""The event type of `Webhooks.ping` deliveries."""

_SNIPPET = 200
_READ = 1024
_CLAIM_MARGIN = 30.0


def event_types() -> frozenset[str]:
    """Every event type chatkit writes to the outbox (what subscriptions may name)."""
    union = typing.get_args(typing.get_args(Event)[0])
    return frozenset(str(kind.model_fields["type"].default) for kind in union)


def _key(moment: datetime) -> str:
    return str(column_value(moment))


def _delivery_id(subscription_id: str, event_id: str) -> str:
    digest = hashlib.sha256(f"{subscription_id}:{event_id}".encode()).hexdigest()
    return f"whd_{digest[:32]}"


def webhook_payload(event: Event) -> bytes:
    """The JSON body delivered for ``event``, exactly as sent (and signed).

    ``{"id", "type", "occurred_at", "position", "data"}``: the event's id,
    type, time (ISO 8601, UTC) and outbox position, and ``data``, the whole
    event as JSON (what ``event.model_dump(mode="json")`` gives, the same
    shape `chatkit.events.parse_event` reads back).
    """
    return _body(
        {
            "id": event.id,
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "position": event.position,
            "data": event.model_dump(mode="json"),
        }
    )


def _body(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP-date.

    Returns ``None`` when there is no header or it cannot be read; a date in
    the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text[:12]))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


def backoff(attempts: int, settings: WebhookSettings) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1 for the first), with jitter."""
    base = settings.retry_delay * 3.0 ** max(0, min(attempts - 1, 60))
    return min(settings.max_retry_delay, base * random.uniform(0.8, 1.2))


def _public(subscription: WebhookSubscription) -> WebhookSubscription:
    return subscription.model_copy(update={"secret": None, "previous_secret": None})


def _check_url(url: object, settings: WebhookSettings) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError("url must be an http or https URL", field="url")
    if len(url) > 2000:
        raise InvalidInputError("url must be at most 2000 characters", field="url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidInputError("url must not contain spaces or control characters", field="url")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise InvalidInputError(f"{mask_url(short(url))!r} is not a URL", field="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInputError(
            f"url must be an http or https URL with a host, not {mask_url(short(url))!r}",
            field="url",
        )
    import ipaddress

    try:
        address = ipaddress.ip_address(parsed.host.strip("[]").split("%", 1)[0])
    except ValueError:
        return url  # a name: checked after every DNS lookup, when delivering
    if not _allowed(address, settings):
        raise WebhookTargetError(
            f"webhook target {parsed.host[:100]!r} is not a public address; allow it with "
            "WebhookSettings.allowed_networks or allow_private_targets",
            host=parsed.host[:100],
        )
    return url


def _check_events(events: object) -> builtins.list[str]:
    if isinstance(events, str) or not isinstance(events, (list, tuple, set, frozenset)):
        raise InvalidInputError(
            'events must be a list of event types, e.g. ["message.created"] or ["*"]',
            field="events",
        )
    known = event_types()
    families = {t.split(".", 1)[0] for t in known}
    out: builtins.list[str] = []
    for item in events:
        if not isinstance(item, str):
            raise InvalidInputError("events must be event type names", field="events")
        fine = item == "*" or item in known or (item.endswith(".*") and item[:-2] in families)
        if not fine:
            raise InvalidInputError(
                f"unknown event type {short(item, 60)!r}: use '*', a type such as "
                "'message.created', or a family such as 'ticket.*'",
                field="events",
            )
        if item not in out:
            out.append(item)
    if not out:
        raise InvalidInputError("events must name at least one event type", field="events")
    if len(out) > 200:
        raise InvalidInputError("events may name at most 200 types", field="events")
    return out


def _check_secret(secret: object) -> str:
    if (
        not isinstance(secret, str)
        or not 16 <= len(secret) <= 256
        or not secret.isascii()
        or not secret.isprintable()
        or any(ch.isspace() for ch in secret)
    ):
        raise InvalidInputError(
            "secret must be 16 to 256 printable ASCII characters without spaces", field="secret"
        )
    return secret


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _clean(text: str, limit: int) -> str:
    """Masked, NUL-free, at most ``limit`` characters: safe to store and print."""
    return short(mask_text(text.replace("\x00", " ")), limit)


class Webhooks(Service):
    """Signed outbound webhooks: subscribe URLs to event types, with a delivery log.

    Each delivery is a POST of a JSON body (`webhook_payload`) with the
    headers ``Chatkit-Delivery`` (the delivery id, stable across retries),
    ``Chatkit-Event`` (the type), ``Chatkit-Timestamp`` and
    ``Chatkit-Signature: t=<unix>,v1=<hex>`` (HMAC-SHA256 of
    ``"<t>.<raw body>"`` under the subscription's secret; check it with
    `chatkit.webhooks.verify_signature`). The worker (``chatkit worker``)
    sends them; `drain` and `deliver_pending` do it in-process. See the
    module for retries and dead letters, and the concept page "Webhooks".

    Example:
        ```python
        hook = await kit.webhooks.subscribe(
            "https://example.com/hooks/chat", events=["message.created", "ticket.*"]
        )
        print(hook.secret)  # shown once: store it on the receiving side
        ```
    """

    def __init__(self, core: Core) -> None:
        super().__init__(core)

    @property
    def settings(self) -> WebhookSettings:
        """The settings in effect (`ChatKitSettings.webhooks`)."""
        return self._core.settings.webhooks

    # -- subscriptions -----------------------------------------------------------

    async def subscribe(
        self,
        url: str,
        events: Sequence[str] = ("*",),
        *,
        secret: str | None = None,
        description: str | None = None,
    ) -> WebhookSubscription:
        """Subscribe ``url`` to events of the given types, from now on.

        Args:
            url: An ``http`` or ``https`` URL. A literal non-public address
                is refused here; a host name is checked after every DNS
                lookup when delivering.
            events: ``["*"]`` (every type), types such as
                ``"message.created"``, or families such as ``"ticket.*"``.
            secret: The signing secret (16 to 256 printable ASCII
                characters); default a new random one.
            description: A note for people.

        Returns:
            The subscription, with its `WebhookSubscription.secret` (the only
            time it is returned; `rotate_secret` makes a new one).

        Raises:
            InvalidInputError: A bad URL, event type, secret or description.
            WebhookTargetError: The URL's address is not public and not allowed.
        """
        checked_url = _check_url(url, self.settings)
        wanted = _check_events(events)
        key = _new_secret() if secret is None else _check_secret(secret)
        if description is not None and not isinstance(description, str):
            raise InvalidInputError("description must be a string", field="description")
        store = await self._core.ready()
        subscription = checked(
            WebhookSubscription,
            id=new_id("whs"),
            url=checked_url,
            events=wanted,
            description=description,
            start_position=await store.last_position(),
            secret=key,
        )
        await self._core.commit([Insert(subscription)])
        log.info("webhook %s subscribed: %s", subscription.id, subscription.masked_url)
        return subscription

    async def list(self, *, active: bool | None = None) -> builtins.list[WebhookSubscription]:
        """Every subscription (or only active or paused ones), oldest first, without secrets."""
        if active is not None and not isinstance(active, bool):
            raise InvalidInputError("active must be True, False or None", field="active")
        store = await self._core.ready()
        found = await store.find(
            WebhookSubscription, {"active": active} if active is not None else None
        )
        return [_public(s) for s in sorted(found, key=lambda s: (s.created_at, s.id))]

    async def get(self, subscription_id: str) -> WebhookSubscription:
        """One subscription, without its secret.

        Raises:
            NotFoundError: No such subscription.
        """
        return _public(await self._subscription(subscription_id))

    async def update(
        self,
        subscription_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | Unset | None = UNSET,
        active: bool | None = None,
    ) -> WebhookSubscription:
        """Change a subscription: its URL, its event types, its note; pause or resume it.

        Pausing (``active=False``) stops new deliveries; resuming sends what
        was pending when it was paused (events committed while paused are
        not delivered).

        Raises:
            NotFoundError: No such subscription.
            InvalidInputError: A bad value (nothing is changed).
            WebhookTargetError: The new URL's address is not public and not allowed.
        """
        updates: dict[str, object] = {}
        if url is not None:
            updates["url"] = _check_url(url, self.settings)
        if events is not None:
            updates["events"] = _check_events(events)
        if not isinstance(description, Unset):
            if description is not None and not isinstance(description, str):
                raise InvalidInputError("description must be a string", field="description")
            updates["description"] = description
        if active is not None:
            if not isinstance(active, bool):
                raise InvalidInputError("active must be True or False", field="active")
            updates["active"] = active
            updates["paused_reason"] = None if active else "paused"
        check_key(subscription_id, "subscription_id")

        async def attempt() -> WebhookSubscription:
            current = await self._subscription(subscription_id)
            new = checked(
                WebhookSubscription,
                **{
                    **current.model_dump(),
                    **updates,
                    "version": current.version + 1,
                    "updated_at": utcnow(),
                },
            )
            await self._core.commit([Update(new)])
            return new

        return _public(await self._core.retry(attempt))

    async def unsubscribe(self, subscription_id: str) -> None:
        """Remove a subscription; its pending deliveries become dead (the log stays).

        Raises:
            NotFoundError: No such subscription.
        """
        subscription = await self._subscription(subscription_id)
        await self._core.commit([Delete(WebhookSubscription, subscription.id)])
        store = await self._core.ready()
        while True:
            pending = await store.find(
                WebhookDelivery,
                {"subscription_id": subscription.id, "status": WebhookDeliveryStatus.PENDING},
                limit=500,
            )
            if not pending:
                break
            ops: builtins.list[Op] = [
                Update(
                    bump(
                        d,
                        status=WebhookDeliveryStatus.DEAD,
                        due_key=None,
                        next_attempt_at=None,
                        error="the subscription was removed",
                    )
                )
                for d in pending
            ]
            with contextlib.suppress(ConflictError):  # a worker wrote one: read again
                await self._core.commit(ops)
        log.info("webhook %s removed: %s", subscription.id, subscription.masked_url)

    async def rotate_secret(
        self, subscription_id: str, *, secret: str | None = None
    ) -> WebhookSubscription:
        """Give a subscription a new signing secret; returns it with the new `secret`.

        For `WebhookSettings.rotation_grace` seconds (a day by default) the
        previous secret signs too: each delivery then carries two ``v1``
        values, so a receiver that still has the old secret keeps verifying
        until it is updated.

        Raises:
            NotFoundError: No such subscription.
            InvalidInputError: A given ``secret`` is too short or not printable ASCII.
        """
        key = _new_secret() if secret is None else _check_secret(secret)
        check_key(subscription_id, "subscription_id")
        grace = self.settings.rotation_grace

        async def attempt() -> WebhookSubscription:
            current = await self._subscription(subscription_id)
            new = bump(
                current,
                secret=key,
                previous_secret=current.secret if grace > 0 else None,
                previous_secret_until=utcnow() + timedelta(seconds=grace) if grace > 0 else None,
            )
            await self._core.commit([Update(new)])
            return new

        rotated = await self._core.retry(attempt)
        log.info("webhook %s: secret rotated", rotated.id)
        return rotated.model_copy(update={"previous_secret": None})

    # -- the delivery log --------------------------------------------------------

    async def deliveries(
        self,
        *,
        subscription_id: str | None = None,
        status: WebhookDeliveryStatus | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[WebhookDelivery]:
        """The delivery log, newest first, one page at a time.

        Args:
            subscription_id: Only this subscription's deliveries.
            status: Only ``pending``, ``delivered`` or ``dead`` ones.
            limit: Deliveries per page (1 to 1000).
            cursor: `Page.next_cursor` of the previous page.
        """
        where: dict[str, Condition] = {}
        if subscription_id is not None:
            where["subscription_id"] = check_key(subscription_id, "subscription_id")
        if status is not None:
            try:
                where["status"] = WebhookDeliveryStatus(status)
            except ValueError:
                raise InvalidInputError(
                    "status must be pending, delivered or dead", field="status"
                ) from None
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidInputError("cursor must be a string", field="cursor")
        return await self._core.paged(
            WebhookDelivery,
            where,
            order_by="log_key",
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery:
        """One delivery of the log.

        Raises:
            NotFoundError: No such delivery.
        """
        return await self._load(WebhookDelivery, delivery_id, "webhook delivery")

    async def redeliver(self, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again: a dead letter (or a delivered one) becomes pending, due now.

        Its attempts start again from 0; the next `deliver_pending`, `drain`
        or worker cycle sends it.

        Raises:
            NotFoundError: No such delivery, or its subscription was removed.
        """
        check_key(delivery_id, "delivery_id")

        async def attempt() -> WebhookDelivery:
            current = await self.get_delivery(delivery_id)
            await self._subscription(current.subscription_id)
            now = utcnow()
            new = bump(
                current,
                status=WebhookDeliveryStatus.PENDING,
                attempts=0,
                due_key=_key(now),
                next_attempt_at=now,
            )
            await self._core.commit([Update(new)])
            return new

        return await self._core.retry(attempt)

    async def prune(self, *, older_than: timedelta | None = None) -> int:
        """Delete delivered and dead deliveries older than `WebhookSettings.log_days`.

        Pending ones are kept whatever their age. The worker runs this daily
        (job ``prune_webhooks``).

        Args:
            older_than: Another age limit than the setting's.

        Returns:
            How many deliveries were deleted.
        """
        if older_than is None:
            older_than = timedelta(days=self.settings.log_days)
        if not isinstance(older_than, timedelta) or not timedelta(0) <= older_than <= _MAX_AGE:
            raise InvalidInputError(
                "older_than must be a timedelta from 0 to 100 years", field="older_than"
            )
        store = await self._core.ready()
        cutoff = _key(utcnow() - older_than)
        deleted = 0
        while True:
            old = await store.find(
                WebhookDelivery,
                {
                    "log_key": Lt(cutoff),
                    "status": In([WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.DEAD]),
                },
                order_by="log_key",
                limit=500,
            )
            if not old:
                return deleted
            await self._core.commit([Delete(WebhookDelivery, d.id) for d in old])
            deleted += len(old)

    # -- delivering --------------------------------------------------------------

    def dispatcher(
        self,
        *,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
    ) -> WebhookDispatcher:
        """A worker of webhook delivery: reads the outbox and sends what is due.

        ``chatkit worker`` runs one; start your own only when you run no
        worker. Any number may run at once, in any processes.

        Args:
            batch_size: Outbox events per batch.
            lease_seconds: How long a dead dispatcher's batch waits before
                another dispatcher takes it over.
            start: Where the group begins the first time it runs (events
                older than a subscription are never delivered to it anyway).
        """
        from .events import Events

        async def handle(events: builtins.list[Event]) -> None:
            await self.handle(events)

        outbox = Events(self._core).dispatcher(
            GROUP, handle, batch_size=batch_size, lease_seconds=lease_seconds, start=start
        )
        return WebhookDispatcher(self, outbox)

    async def drain(self) -> int:
        """Write the deliveries of every outbox event not handled yet and send what is due.

        Waits for the attempts it started (each at most `WebhookSettings.timeout`).
        Retries that come due meanwhile are sent too; later ones are left
        for the next call or the worker.

        Returns:
            The number of attempts made.
        """
        dispatcher = self.dispatcher()
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    async def deliver_pending(self) -> int:
        """Send every delivery that is due now (not reading the outbox); the attempts made."""
        dispatcher = self.dispatcher()
        try:
            return await dispatcher.deliver_due()
        finally:
            await dispatcher.close()

    async def ping(self, subscription_id: str) -> WebhookDelivery:
        """Send a signed ``webhook.ping`` to a subscription now, once, and log it.

        The body is ``{"id", "type": "webhook.ping", "occurred_at",
        "position": null, "data": {"subscription_id"}}``. Works on a paused
        subscription too. A failed ping is dead at once (no retries).

        Returns:
            The delivery, delivered or dead (see its status code and error).

        Raises:
            NotFoundError: No such subscription.
        """
        subscription = await self._subscription(subscription_id)
        now = utcnow()
        event_id = new_id("evt")
        body = _body(
            {
                "id": event_id,
                "type": PING,
                "occurred_at": now.isoformat().replace("+00:00", "Z"),
                "position": None,
                "data": {"subscription_id": subscription.id},
            }
        )
        delivery = self._new_delivery(subscription.id, event_id, PING, None, body, now)
        await self._core.commit([Insert(delivery)])
        claimed = await self._claim(delivery, utcnow())
        if claimed is None:  # pragma: no cover - nobody else knows this delivery yet
            return await self.get_delivery(delivery.id)
        async with webhook_client(self.settings, timeout=self.settings.timeout) as client:
            return await self._attempt(client, claimed, subscription, final=True)

    async def handle(self, events: Sequence[Event]) -> int:
        """Write the deliveries ``events`` call for (the dispatch group's handler).

        Idempotent: a delivery that exists already is left as it is.

        Returns:
            The number of deliveries written.
        """
        store = await self._core.ready()
        subscriptions = await store.find(WebhookSubscription, {"active": True})
        if not subscriptions:
            return 0
        now = utcnow()
        wanted: dict[str, WebhookDelivery] = {}
        for event in events:
            body: str | None = None
            for subscription in subscriptions:
                position = event.position or 0
                if position <= subscription.start_position or not subscription.wants(event.type):
                    continue
                if body is None:
                    body = webhook_payload(event).decode("utf-8")
                delivery = self._new_delivery(
                    subscription.id, event.id, event.type, event.position, body, now
                )
                wanted[delivery.id] = delivery
        written = 0
        ids = builtins.list(wanted)
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            for _ in range(self._core.settings.conflict_retries + 1):
                found = {d.id for d in await store.find(WebhookDelivery, {"id": In(chunk)})}
                new = [wanted[i] for i in chunk if i not in found]
                if not new:
                    break
                try:
                    await self._core.commit([Insert(d) for d in new])
                except (DuplicateKeyError, ConflictError):
                    continue  # another dispatcher wrote some meanwhile: read again
                written += len(new)
                break
        return written

    # -- internals ---------------------------------------------------------------

    async def _subscription(self, subscription_id: str) -> WebhookSubscription:
        return await self._load(WebhookSubscription, subscription_id, "webhook subscription")

    @staticmethod
    def _new_delivery(
        subscription_id: str,
        event_id: str,
        event_type: str,
        position: int | None,
        body: bytes | str,
        now: datetime,
    ) -> WebhookDelivery:
        delivery_id = _delivery_id(subscription_id, event_id)
        return WebhookDelivery(
            id=delivery_id,
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            event_position=position,
            body=body.decode("utf-8") if isinstance(body, bytes) else body,
            due_key=_key(now),
            next_attempt_at=now,
            log_key=f"{_key(now)}:{position or 0:019d}:{delivery_id}",
            created_at=now,
            updated_at=now,
        )

    async def _claim_due(
        self, free: int, busy: Counter[str]
    ) -> builtins.list[tuple[WebhookDelivery, WebhookSubscription]]:
        """Claim up to ``free`` due deliveries, at most ``per_subscription`` for each endpoint."""
        store = await self._core.ready()
        subscriptions = builtins.list(await store.find(WebhookSubscription, {"active": True}))
        random.shuffle(subscriptions)  # no endpoint always goes first
        now = utcnow()
        due = _key(now + timedelta(microseconds=1))
        out: builtins.list[tuple[WebhookDelivery, WebhookSubscription]] = []
        for subscription in subscriptions:
            room = min(self.settings.per_subscription - busy[subscription.id], free - len(out))
            if room <= 0:
                continue
            rows = await store.find(
                WebhookDelivery,
                {"subscription_id": subscription.id, "due_key": Lt(due)},
                order_by="due_key",
                limit=room,
            )
            for row in rows:
                if row.status is not WebhookDeliveryStatus.PENDING:
                    continue
                claimed = await self._claim(row, now)
                if claimed is not None:
                    out.append((claimed, subscription))
        return out

    async def _claim(self, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery | None:
        """Count the attempt and hold the delivery past its timeout; ``None``: another took it."""
        hold = now + timedelta(seconds=self.settings.timeout + _CLAIM_MARGIN)
        claimed = bump(
            delivery,
            attempts=delivery.attempts + 1,
            last_attempt_at=now,
            due_key=_key(hold),
            next_attempt_at=hold,
        )
        try:
            await self._core.commit([Update(claimed)])
        except ConflictError:
            return None
        return claimed

    def _signing_secrets(self, subscription: WebhookSubscription) -> builtins.list[str]:
        keys = [subscription.secret] if subscription.secret else []
        until = subscription.previous_secret_until
        if subscription.previous_secret and until is not None and until > utcnow():
            keys.append(subscription.previous_secret)
        return keys

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription,
        *,
        final: bool = False,
    ) -> WebhookDelivery:
        """POST one claimed delivery and record the outcome; the delivery as written."""
        settings = self.settings
        body = delivery.body.encode("utf-8")
        keys = self._signing_secrets(subscription)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "chatkit-webhooks",
            SIGNATURE_HEADER: sign_payload(keys, body, timestamp=stamp) if keys else "",
            TIMESTAMP_HEADER: str(stamp),
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.event_type,
        }
        status_code: int | None = None
        error: str | None = None
        snippet: str | None = None
        retry_after: float | None = None
        permanent = False
        started = time.perf_counter()
        try:
            with anyio.fail_after(settings.timeout):
                async with client.stream(
                    "POST", subscription.url, content=body, headers=headers, follow_redirects=False
                ) as response:
                    status_code = response.status_code
                    if status_code in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("retry-after"))
                    read = b""
                    async for chunk in response.aiter_bytes():
                        read += chunk
                        if len(read) >= _READ:
                            break
                    snippet = _clean(read[:_READ].decode("utf-8", "replace"), _SNIPPET) or None
        except WebhookTargetError as exc:
            error, permanent = _clean(str(exc), 500), True
        except TimeoutError:
            error = f"no answer within {settings.timeout:g} s"
        except httpx.HTTPError as exc:
            error = _clean(f"{type(exc).__name__}: {exc}", 500)
        duration = (time.perf_counter() - started) * 1000.0
        now = utcnow()
        updates: dict[str, object] = {
            "status_code": status_code,
            "response_snippet": snippet,
            "duration_ms": round(duration, 3),
        }
        gone = status_code == 410
        if status_code is not None and 200 <= status_code < 300:
            updates.update(
                status=WebhookDeliveryStatus.DELIVERED,
                delivered_at=now,
                due_key=None,
                next_attempt_at=None,
                error=None,
            )
        else:
            if error is None:
                error = f"HTTP {status_code}"
                if status_code is not None and 300 <= status_code < 400:
                    error += " (redirects are not followed: subscribe the final URL)"
            updates["error"] = error
            if gone or permanent or final or delivery.attempts >= settings.max_attempts:
                updates.update(
                    status=WebhookDeliveryStatus.DEAD, due_key=None, next_attempt_at=None
                )
            else:
                wait = (
                    min(retry_after, settings.max_retry_delay)
                    if retry_after is not None
                    else backoff(delivery.attempts, settings)
                )
                due = now + timedelta(seconds=wait)
                updates.update(due_key=_key(due), next_attempt_at=due)
        outcome = await self._record(delivery, updates)
        where = subscription.masked_url
        if outcome.status is WebhookDeliveryStatus.DELIVERED:
            log.info(
                "webhook delivery %s (%s) to %s: %s in %.0f ms",
                delivery.id,
                delivery.event_type,
                where,
                status_code,
                duration,
            )
        else:
            log.warning(
                "webhook delivery %s (%s) to %s failed (attempt %d): %s; %s",
                delivery.id,
                delivery.event_type,
                where,
                delivery.attempts,
                error,
                "dead-lettered"
                if outcome.status is WebhookDeliveryStatus.DEAD
                else f"next attempt at {outcome.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        if gone and settings.pause_on_gone:
            await self._pause(subscription.id, "the endpoint answered 410 Gone")
        return outcome

    async def _record(
        self, delivery: WebhookDelivery, updates: dict[str, object]
    ) -> WebhookDelivery:
        """Write an attempt's outcome, unless the delivery changed since it was claimed."""
        new = bump(delivery, **updates)
        try:
            await self._core.commit([Update(new)])
        except ConflictError:
            store = await self._core.ready()
            current = await store.get(WebhookDelivery, delivery.id)
            log.info(
                "webhook delivery %s changed during its attempt; outcome not kept", delivery.id
            )
            return current if current is not None else new
        return new

    async def _pause(self, subscription_id: str, reason: str) -> None:
        async def attempt() -> None:
            store = await self._core.ready()
            current = await store.get(WebhookSubscription, subscription_id)
            if current is None or not current.active:
                return
            await self._core.commit([Update(bump(current, active=False, paused_reason=reason))])

        await self._core.retry(attempt)
        log.warning("webhook %s paused: %s", subscription_id, reason)


class WebhookDispatcher:
    """Reads the outbox into deliveries and sends those due; one per worker process.

    Get one from `Webhooks.dispatcher`. Each `run_once` handles one outbox
    batch (writing deliveries) and starts the due deliveries there is room
    for, in the background: it returns without waiting for the endpoints.
    `close` waits for the attempts in flight (each bounded by the timeout).
    """

    def __init__(self, service: Webhooks, outbox: Dispatcher) -> None:
        self._service = service
        self._outbox = outbox
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: Counter[str] = Counter()
        self._attempts = 0
        self._stopping = False

    @property
    def group(self) -> str:
        """The dispatch group's name (``webhook-deliveries``)."""
        return self._outbox.group

    @property
    def owner(self) -> str:
        """This dispatcher's name in the outbox leases."""
        return self._outbox.owner

    @property
    def in_flight(self) -> int:
        """Attempts running now."""
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"WebhookDispatcher(owner={self.owner!r})"

    async def run_once(self) -> int:
        """Handle one outbox batch and start due deliveries; events read plus attempts started."""
        handled = await self._outbox.run_once()
        return handled + await self._start_due()

    async def deliver_due(self) -> int:
        """Send every delivery due now, waiting for them; the attempts made."""
        before = self._attempts
        while True:
            started = await self._start_due()
            if not started and not self._tasks:
                return self._attempts - before
            if self._tasks:
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> int:
        """Handle every outbox event left, then `deliver_due`; the attempts made."""
        await self._outbox.drain()
        return await self.deliver_due()

    async def run(self) -> None:
        """Run until `stop`: outbox batches as they come, due deliveries as they come due."""
        core = self._service._core
        try:
            while not self._stopping:
                try:
                    count = await self.run_once()
                except Exception:
                    log.exception("%r: a cycle failed; trying again", self)
                    count = 0
                if not count and not self._stopping:
                    await core.wait_for_events(min(core.settings.event_poll_interval, 1.0))
        finally:
            self._stopping = False
            await self.close()

    def stop(self) -> None:
        """Make `run` return after the step in hand."""
        self._stopping = True
        self._service._core.notify()

    async def close(self) -> None:
        """Wait for the attempts in flight, close the HTTP client and finish the outbox batch."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._service.settings.timeout + 5.0)
            for task in builtins.list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._outbox.close()

    async def __aenter__(self) -> WebhookDispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- internals ---------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            settings = self._service.settings
            self._client = webhook_client(settings, timeout=settings.timeout)
        return self._client

    async def _start_due(self) -> int:
        free = self._service.settings.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        claimed = await self._service._claim_due(free, self._busy)
        for delivery, subscription in claimed:
            self._busy[subscription.id] += 1
            self._attempts += 1
            task = asyncio.ensure_future(self._send(delivery, subscription))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _send(self, delivery: WebhookDelivery, subscription: WebhookSubscription) -> None:
        try:
            await self._service._attempt(self._http(), delivery, subscription)
        except Exception:
            log.exception("%r: delivery %s failed unexpectedly", self, delivery.id)
        finally:
            self._busy[subscription.id] -= 1
            if self._busy[subscription.id] <= 0:
                del self._busy[subscription.id]
