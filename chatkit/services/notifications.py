"""Ticket notifications, sent from the event outbox (see `chatkit.notifications`)."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from typing import Literal

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..errors import DuplicateKeyError, InvalidInputError, TemplateError
from ..events import (
    BaseEvent,
    Event,
    NotificationFailed,
    NotificationSent,
    TicketCreated,
    TicketStatusChanged,
    TicketUpdated,
)
from ..models import (
    Agent,
    Contact,
    Conversation,
    IdentityKind,
    NotificationRecord,
    NotificationStatus,
    Page,
    Ticket,
    TicketStatus,
)
from ..models._base import new_id, utcnow
from ..notifications.base import (
    Notification,
    NotificationError,
    NotificationKind,
    Notifier,
    Recipient,
    RecipientKind,
    notifiers,
)
from ..notifications.settings import NotificationSettings
from ..notifications.templates import choose_template, label
from ..redact import mask_text
from ..stores.base import Insert
from ._core import Core, check_events
from .contacts import Service, check_key
from .dispatch import Dispatcher

__all__ = ["NotificationSettings", "Notifications"]

log = logging.getLogger(__name__)

_GROUP = "notifications"
_TYPES = frozenset({"ticket.created", "ticket.updated", "ticket.status_changed"})


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, NotificationError) and not exc.permanent


class Notifications(Service):
    """E-mails (and any notifier's messages) to customer and owner when a ticket changes.

    On ``ticket.created``, ``ticket.updated`` and ``ticket.status_changed``
    events it writes to the ticket's contact (at their first e-mail
    identity, in the conversation's language) and to the ticket's owner (at
    the agent's e-mail, in their first language), with the templates of
    `NotificationSettings` (built-in ones in en, ko and tr).

    Delivery guarantees:

    - **Never for a rolled-back change.** Notifications come from events
      read from the outbox, which holds only committed events.
    - **At least once.** It runs as the ``notifications`` dispatch group:
      a batch counts as handled only when every notification in it was sent
      or failed for good; a crash, or an error that outlasts the retries,
      leaves the batch to be handled again, by this process or another.
    - **Retried with backoff.** A temporary failure (`RetryableNotificationError`:
      a 4xx reply, a timeout) is retried ``attempts`` times with exponential
      backoff; after that the dispatcher gives the batch back and retries it
      after its own, longer backoff.
    - **Deduplicated.** Before sending, the `NotificationRecord` log is
      asked for the key ``<notifier>:<event>:<recipient kind>:<recipient>``;
      a key already there is not sent again. After sending, the key is
      inserted (unique); a `DuplicateKeyError` means another worker sent it
      too, which is recorded once. The one window left: a crash between the
      send and the insert repeats that one notification on the next
      delivery. E-mails therefore carry a Message-ID derived from the key,
      so receiving systems that drop repeated Message-IDs drop it as well.
    - **Permanent failures** (`PermanentNotificationError`: a refused
      recipient; or a template that cannot be filled in) are logged as
      failed, published as ``notification.failed``, and not retried.

    Example:
        ```python
        settings = NotificationSettings(
            smtp=SMTPSettings(host="smtp.example.com", sender="support@example.com"),
            company_name="Acme",
        )
        notifications = Notifications(kit._core, settings)
        await notifications.dispatcher().run()  # or: await notifications.drain()
        ```
    """

    def __init__(self, core: Core, settings: NotificationSettings | None = None) -> None:
        super().__init__(core)
        if settings is None:
            configured = getattr(core.settings, "notifications", None)
            settings = (
                configured if isinstance(configured, NotificationSettings) else None
            ) or NotificationSettings()
        if not isinstance(settings, NotificationSettings):
            raise InvalidInputError("settings must be NotificationSettings", field="settings")
        self._settings = settings
        self._registered: builtins.list[Notifier] = []
        self._configured: builtins.list[Notifier] | None = None

    @property
    def settings(self) -> NotificationSettings:
        """The settings in effect."""
        return self._settings

    @property
    def notifiers(self) -> builtins.list[Notifier]:
        """Every notifier in use: e-mail (when SMTP is set), the named ones, the registered ones.

        Named notifiers are loaded on first use.

        Raises:
            PluginNotFoundError: A name in `NotificationSettings.notifiers` is unknown.
            PluginLoadError: Its package failed to import.
            ConfigurationError: It could not be built from the settings.
        """
        if self._configured is None:
            names = list(self._settings.notifiers)
            if self._settings.smtp is not None and "email" not in names:
                names.insert(0, "email")
            self._configured = [notifiers.load(n).from_settings(self._settings) for n in names]
        return [*self._configured, *self._registered]

    def register(self, notifier: Notifier) -> None:
        """Add a notifier, e.g. your Slack one; it gets every notification it `Notifier.accepts`.

        Raises:
            InvalidInputError: Not a `Notifier`, or its name is taken.
        """
        if not isinstance(notifier, Notifier):
            raise InvalidInputError("register takes a Notifier", field="notifier")
        if any(n.name == notifier.name for n in self.notifiers):
            raise InvalidInputError(
                f"a notifier called {notifier.name!r} is already in use", field="notifier"
            )
        self._registered.append(notifier)

    def dispatcher(
        self,
        *,
        batch_size: int = 50,
        lease_seconds: float = 60.0,
        start: Literal["beginning", "end"] = "beginning",
        retry_delay: float = 5.0,
        max_retry_delay: float = 300.0,
    ) -> Dispatcher:
        """A worker of the ``notifications`` dispatch group (start one per process).

        Args:
            batch_size: Events per batch.
            lease_seconds: How long a dead worker's batch waits before another takes it.
            start: Where the group begins the very first time it runs.
            retry_delay: Seconds before a failed batch is retried (doubling).
            max_retry_delay: Longest wait before a retry.
        """
        from .events import Events

        return Events(self._core).dispatcher(
            _GROUP,
            self.handle,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            start=start,
            types=_TYPES,
            retry_delay=retry_delay,
            max_retry_delay=max_retry_delay,
        )

    async def drain(self) -> int:
        """Handle every event not handled yet, in this process; returns how many were read.

        Raises:
            NotificationError: A temporary failure outlasted the retries (the
                batch is retried on a later call, after the backoff).
        """
        worker = self.dispatcher()
        try:
            return await worker.drain()
        finally:
            await worker.close()

    async def handle(self, events: Sequence[Event]) -> None:
        """Send the notifications for ``events`` (the dispatcher's handler)."""
        events = check_events(events)
        if not self._settings.enabled:
            return
        if not self.notifiers:
            return
        now = utcnow()
        for event in events:
            max_age = self._settings.max_age
            if max_age is not None and now - event.occurred_at > max_age:
                log.info("notifications: event %s is older than max_age; passed over", event.id)
                continue
            await self._handle_one(event)

    async def build(self, event: Event) -> builtins.list[Notification]:
        """The notifications ``event`` calls for, rendered (nothing is sent or logged).

        A recipient whose template cannot be filled in is left out here;
        `handle` records that as a failure.
        """
        if not isinstance(event, BaseEvent):
            raise InvalidInputError("event must be an Event", field="event")
        return [n for n in await self._plan(event, record_failures=False) if n is not None]

    async def list_log(
        self, *, limit: int = 100, cursor: str | None = None
    ) -> Page[NotificationRecord]:
        """The notification log, one page at a time (by id)."""
        return await self._core.paged(NotificationRecord, limit=limit, cursor=cursor)

    async def get_log(self, notifier: str, notification: Notification) -> NotificationRecord | None:
        """The log entry of ``notification`` sent by ``notifier`` (``None``: not sent yet)."""
        check_key(notifier, "notifier")
        if not isinstance(notification, Notification):
            raise InvalidInputError("notification must be a Notification", field="notification")
        store = await self._core.ready()
        key = f"{notifier}:{notification.dedupe_key}"
        found = await store.find(NotificationRecord, {"dedupe_key": key}, limit=1)
        return found[0] if found else None

    # -- what to send ------------------------------------------------------------

    async def _plan(
        self, event: Event, *, record_failures: bool
    ) -> builtins.list[Notification | None]:
        found = await self._classify(event)
        if found is None:
            return []
        kind, ticket, changes = found
        if kind not in self._settings.kinds:
            return []
        store = await self._core.ready()
        conversation = (
            await store.get(Conversation, ticket.conversation_id)
            if ticket.conversation_id is not None
            else None
        )
        contact = await self._contact(ticket.contact_id)
        owner = await store.get(Agent, ticket.owner_id) if ticket.owner_id else None
        recipients: builtins.list[Recipient] = []
        if (
            self._settings.notify_customer
            and contact is not None
            and (kind is not NotificationKind.TICKET_UPDATED or self._told(changes, "customer"))
        ):
            recipients.append(self._customer(contact, conversation))
        if (
            self._settings.notify_agent
            and owner is not None
            and (kind is not NotificationKind.TICKET_UPDATED or self._told(changes, "agent"))
        ):
            languages = [lang for lang in owner.languages if lang.strip()]
            recipients.append(
                Recipient(
                    kind=RecipientKind.AGENT,
                    id=owner.id,
                    name=owner.name,
                    email=owner.email,
                    language=languages[0] if languages else self._settings.default_language,
                )
            )
        planned: builtins.list[Notification | None] = []
        for recipient in recipients:
            if not any(n.accepts(recipient) for n in self.notifiers):
                log.debug("notifications: no notifier reaches %s %s", recipient.kind, recipient.id)
                continue
            context = _context(ticket, changes, contact, owner, conversation, recipient, self)
            planned.append(
                await self._render(kind, recipient, context, ticket, event, record_failures)
            )
        return planned

    async def _classify(
        self, event: Event
    ) -> tuple[NotificationKind, Ticket, builtins.list[str]] | None:
        if isinstance(event, TicketCreated):
            return NotificationKind.TICKET_CREATED, event.ticket, []
        if isinstance(event, TicketUpdated):
            return NotificationKind.TICKET_UPDATED, event.ticket, list(event.changed)
        if isinstance(event, TicketStatusChanged):
            store = await self._core.ready()
            current = await store.get(Ticket, event.ticket_id)
            if current is None:
                return None
            ticket = current.model_copy(update={"status": event.to_status})
            resolved = event.to_status is TicketStatus.SOLVED or (
                event.to_status is TicketStatus.CLOSED
                and event.from_status is not TicketStatus.SOLVED
            )
            if resolved:
                return NotificationKind.TICKET_RESOLVED, ticket, ["status"]
            if event.to_status is TicketStatus.CLOSED:
                return None  # closed after solved: the customer already heard
            return NotificationKind.TICKET_UPDATED, ticket, ["status"]
        return None

    def _told(self, changes: Sequence[str], who: Literal["customer", "agent"]) -> bool:
        wanted = (
            self._settings.customer_changes if who == "customer" else self._settings.agent_changes
        )
        return bool(wanted.intersection(changes))

    async def _contact(self, contact_id: str) -> Contact | None:
        store = await self._core.ready()
        contact = await store.get(Contact, contact_id)
        for _ in range(100):
            if contact is None or contact.merged_into is None:
                return contact
            contact = await store.get(Contact, contact.merged_into)
        return None  # pragma: no cover - a merge cycle

    def _customer(self, contact: Contact, conversation: Conversation | None) -> Recipient:
        emails = [i.value for i in contact.identities if i.kind is IdentityKind.EMAIL]
        phones = [i.value for i in contact.identities if i.kind is IdentityKind.PHONE]
        stated = contact.attributes.get("language")
        language = (
            (conversation.language if conversation is not None else None)
            or (stated if isinstance(stated, str) and stated.strip() else None)
            or self._settings.default_language
        )
        return Recipient(
            kind=RecipientKind.CUSTOMER,
            id=contact.id,
            name=contact.name,
            email=emails[0] if emails else None,
            phone=phones[0] if phones else None,
            language=language,
        )

    async def _render(
        self,
        kind: NotificationKind,
        recipient: Recipient,
        context: dict[str, object],
        ticket: Ticket,
        event: Event,
        record_failures: bool,
    ) -> Notification | None:
        template = choose_template(
            kind,
            recipient.kind,
            recipient.language,
            overrides=self._settings.templates,
            default_language=self._settings.default_language,
        )
        dedupe_key = f"{event.id}:{recipient.kind.value}:{recipient.id}"
        try:
            subject = " ".join(template.subject.render(context).split())
            text = template.text.render(context)
            html = template.html.render_html(context) if template.html is not None else None
        except TemplateError as exc:
            log.warning(
                "notifications: the %s template (%s, %s) cannot render for event %s: %s",
                kind.value,
                recipient.kind.value,
                template.language,
                event.id,
                exc,
            )
            if record_failures:
                partial = Notification.model_construct(
                    kind=kind,
                    subject="",
                    text="",
                    recipient=recipient,
                    language=template.language,
                    event_id=event.id,
                    ticket_id=ticket.id,
                    dedupe_key=dedupe_key,
                )
                await self._record(
                    "render", partial, event, NotificationStatus.FAILED, 0, f"template: {exc}"
                )
            return None
        return Notification(
            kind=kind,
            recipient=recipient,
            subject=subject or ticket.subject,
            text=text,
            html=html,
            language=template.language,
            event_id=event.id,
            ticket_id=ticket.id,
            conversation_id=ticket.conversation_id,
            dedupe_key=dedupe_key,
        )

    # -- sending -----------------------------------------------------------------

    async def _handle_one(self, event: Event) -> None:
        for notification in await self._plan(event, record_failures=True):
            if notification is None:
                continue
            for notifier in self.notifiers:
                if notifier.accepts(notification.recipient):
                    await self._deliver(notifier, notification, event)

    async def _deliver(self, notifier: Notifier, notification: Notification, event: Event) -> None:
        if await self.get_log(notifier.name, notification) is not None:
            return  # sent (or failed for good) on an earlier delivery
        settings = self._settings
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(settings.attempts),
                wait=wait_exponential(
                    multiplier=settings.retry_delay, max=settings.max_retry_delay
                ),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    await notifier.send(notification)
        except NotificationError as exc:
            if not exc.permanent:
                log.warning(
                    "notifications: %s could not send %s after %d tries: %s",
                    notifier.name,
                    notification.dedupe_key,
                    attempts,
                    mask_text(str(exc)),
                )
                raise
            log.warning(
                "notifications: %s gave up on %s: %s",
                notifier.name,
                notification.dedupe_key,
                mask_text(str(exc)),
            )
            await self._record(
                notifier.name,
                notification,
                event,
                NotificationStatus.FAILED,
                attempts,
                mask_text(str(exc)),
            )
            return
        await self._record(notifier.name, notification, event, NotificationStatus.SENT, attempts)

    async def _record(
        self,
        notifier: str,
        notification: Notification,
        event: Event,
        status: NotificationStatus,
        attempts: int,
        error: str | None = None,
    ) -> None:
        recipient = notification.recipient
        record = NotificationRecord(
            id=new_id("ntf"),
            dedupe_key=f"{notifier}:{notification.dedupe_key}",
            status=status,
            notifier=notifier,
            kind=notification.kind.value,
            recipient_kind=recipient.kind.value,
            recipient_id=recipient.id,
            address=recipient.email if notifier == "email" else None,
            language=notification.language,
            event_id=notification.event_id,
            ticket_id=notification.ticket_id,
            attempts=attempts,
            error=error[:2000] if error else None,
            finished_at=utcnow(),
        )
        common = {
            "conversation_id": event.conversation_id,
            "contact_id": event.contact_id,
            "notification_id": record.id,
            "notifier": notifier,
            "kind": record.kind,
            "recipient_kind": recipient.kind.value,
            "recipient_id": recipient.id,
            "ticket_id": notification.ticket_id,
            "source_event_id": event.id,
            "attempts": attempts,
        }
        published: Event = (
            NotificationSent.model_validate(common)
            if status is NotificationStatus.SENT
            else NotificationFailed.model_validate({**common, "error": record.error or ""})
        )
        try:
            await self._core.commit([Insert(record)], [published])
        except DuplicateKeyError:
            log.info("notifications: %s was recorded by another worker", record.dedupe_key)


def _first(name: str | None) -> str | None:
    parts = name.split() if name else []
    return parts[0] if parts else None


def _context(
    ticket: Ticket,
    changes: Sequence[str],
    contact: Contact | None,
    owner: Agent | None,
    conversation: Conversation | None,
    recipient: Recipient,
    service: Notifications,
) -> dict[str, object]:
    language = recipient.language
    emails = (
        [i.value for i in contact.identities if i.kind is IdentityKind.EMAIL] if contact else []
    )
    context: dict[str, object] = {
        "ticket": {
            "id": ticket.id,
            "subject": ticket.subject,
            "status": ticket.status.value,
            "status_label": label(ticket.status.value, language),
            "priority": ticket.priority.value,
            "priority_label": label(ticket.priority.value, language),
            "due_at": ticket.due_at.strftime("%Y-%m-%d %H:%M UTC") if ticket.due_at else None,
            "team": ticket.team,
            "changes": ", ".join(label(c, language) for c in changes if c != "sla") or None,
        },
        "contact": {
            "name": contact.name if contact else None,
            "first_name": _first(contact.name) if contact else None,
            "email": emails[0] if emails else None,
        },
        "agent": {
            "name": owner.name if owner else None,
            "first_name": _first(owner.name) if owner else None,
            "email": owner.email if owner else None,
        },
        "company": {"name": service.settings.company_name},
    }
    if conversation is not None:
        context["conversation"] = {
            "id": conversation.id,
            "subject": conversation.subject,
            "channel": conversation.channel.value,
        }
    return context
