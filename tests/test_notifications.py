"""Ticket notifications: e-mail through a real SMTP server on 127.0.0.1, in the
recipient's language, from the outbox (never for a rolled-back change), retried,
deduplicated, with permanent failures recorded; custom notifiers get the same."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from chatkit import AsyncChatKit, ConflictError, SMTPSettings
from chatkit.errors import ConfigurationError, PluginNotFoundError
from chatkit.events import NotificationFailed, NotificationSent, TicketCreated
from chatkit.models import (
    Agent,
    Conversation,
    NotificationRecord,
    NotificationStatus,
    Ticket,
    new_id,
)
from chatkit.notifications import (
    EmailNotifier,
    MemoryNotifier,
    NotificationSettings,
    NotificationTemplate,
    PermanentNotificationError,
    RetryableNotificationError,
    message_id,
)
from chatkit.services.notifications import Notifications
from chatkit.stores.base import Insert, Update

pytestmark = pytest.mark.anyio

TURKISH = "Merhaba, siparişim hâlâ gelmedi, kargo nerede?"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Inbox:
    """An aiosmtpd handler: keeps what it accepts; can refuse or defer on demand."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.defer_data = 0
        self.rcpt_calls: list[str] = []
        self.data_calls = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_calls.append(address)
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.defer_data > 0:
            self.defer_data -= 1
            return "451 4.3.0 try again later"
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if address in str(m["To"])]


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, SMTPSettings]]:
    inbox = _Inbox()
    port = _free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield (
            inbox,
            SMTPSettings(
                host="127.0.0.1",
                port=port,
                sender="Acme Support <support@acme.test>",
                starttls=False,
            ),
        )
    finally:
        server.stop()


def _settings(smtp: SMTPSettings, **extra: Any) -> NotificationSettings:
    return NotificationSettings(smtp=smtp, retry_delay=0.01, max_retry_delay=0.05, **extra)


async def _scene(
    kit: AsyncChatKit, *, sender: str = "ayse@example.com"
) -> tuple[Conversation, Agent]:
    """A Turkish customer writing by e-mail, and Mia, a Korean-speaking agent."""
    channel = "email" if "@" in sender else "web"
    inbound = await kit.messages.receive(
        channel=channel, sender=sender, text=TURKISH, name="Ayşe Yılmaz"
    )
    mia = await kit.agents.create(name="Mia Kim", email="mia@acme.test", languages=["ko"])
    return inbound.conversation, mia


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def _subject(mail: EmailMessage) -> str:
    return str(mail["Subject"])


async def _log(kit: AsyncChatKit) -> list[NotificationRecord]:
    return await kit.store.find(NotificationRecord)


async def _events(kit: AsyncChatKit, kind: type[Any]) -> list[Any]:
    return [e for e in (await kit.events.list(limit=1000)).items if isinstance(e, kind)]


async def test_created_updated_resolved_mail_customer_and_owner_in_their_languages(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    assert (await kit.conversations.get(conv.id)).language == "tr"
    notifications = Notifications(kit._core, _settings(server, company_name="Acme"))

    ticket = await kit.tickets.create(
        conversation_id=conv.id, subject="Kargo gecikmesi", owner_id=mia.id
    )
    await notifications.drain()
    customer, agent = inbox.to("ayse@example.com"), inbox.to("mia@acme.test")
    assert [_subject(m) for m in customer] == ["Talebinizi aldık: Kargo gecikmesi"]
    assert [_subject(m) for m in agent] == ["새 티켓이 배정되었습니다: Kargo gecikmesi"]
    body = _body(customer[0])
    assert "Sayın Ayşe Yılmaz" in body
    assert ticket.id in body
    assert "-- Acme" in body
    assert customer[0]["Auto-Submitted"] == "auto-generated"
    assert customer[0]["Content-Language"] == "tr"
    created = (await kit.events.list(limit=1000)).items[-1]
    assert customer[0]["Message-ID"] in {
        message_id(f"{e.id}:customer:{conv.contact_id}", server.sender)
        for e in await _events(kit, TicketCreated)
    }
    assert created.type == "notification.sent"

    await kit.tickets.update(ticket.id, subject="Kargo gecikmesi (sipariş 245)")
    await kit.tickets.solve(ticket.id)
    await kit.tickets.close(ticket.id)  # closed after solved: nobody hears twice
    await notifications.drain()
    assert [_subject(m) for m in inbox.to("ayse@example.com")][1:] == [
        "Talebinizle ilgili güncelleme: Kargo gecikmesi (sipariş 245)",
        "Talebiniz çözüldü: Kargo gecikmesi (sipariş 245)",
    ]
    assert [_subject(m) for m in inbox.to("mia@acme.test")][1:] == [
        "티켓이 변경되었습니다: Kargo gecikmesi (sipariş 245)",
        "티켓이 해결되었습니다: Kargo gecikmesi (sipariş 245)",
    ]
    assert "제목" in _body(inbox.to("mia@acme.test")[1])  # the changed field, in Korean
    for mail in inbox.mails:
        assert "{{" not in _body(mail) + _subject(mail)
    log = await _log(kit)
    assert len(log) == 6
    assert {r.status for r in log} == {NotificationStatus.SENT}
    assert {r.attempts for r in log} == {1}
    sent = await _events(kit, NotificationSent)
    assert len(sent) == 6
    assert {e.notifier for e in sent} == {"email"}
    assert {(e.kind, e.recipient_kind) for e in sent} == {
        (k, r)
        for k in ("ticket.created", "ticket.updated", "ticket.resolved")
        for r in ("customer", "agent")
    }


async def test_redelivered_events_send_nothing_twice(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    notifications = Notifications(kit._core, _settings(server))
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel", owner_id=mia.id)
    events = (await kit.events.list(limit=1000)).items
    await notifications.handle(events)
    await notifications.handle(events)  # a second delivery, as after a crash
    await notifications.drain()  # and the dispatcher's own delivery
    await notifications.drain()
    assert len(inbox.mails) == 2
    assert len(await _log(kit)) == 2
    assert len(await _events(kit, NotificationSent)) == 2


async def test_a_deferred_mail_is_retried_and_sent_once(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, _ = await _scene(kit)
    inbox.defer_data = 1  # "451 try again later", once
    notifications = Notifications(kit._core, _settings(server))
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel")
    await notifications.drain()
    assert inbox.data_calls == 2
    assert len(inbox.to("ayse@example.com")) == 1
    (record,) = await _log(kit)
    assert record.status is NotificationStatus.SENT
    assert record.attempts == 2


async def test_the_dispatcher_retries_the_batch_after_a_backoff(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, _ = await _scene(kit)
    inbox.defer_data = 2  # outlasts the two tries of one delivery
    notifications = Notifications(kit._core, _settings(server, attempts=2))
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel")
    worker = notifications.dispatcher(retry_delay=0.05)
    with pytest.raises(RetryableNotificationError):
        await worker.drain()
    assert inbox.mails == []
    assert await _log(kit) == []
    assert await worker.drain() == 0  # still backing off
    await asyncio.sleep(0.1)
    assert await worker.drain() == 1
    await worker.close()
    assert len(inbox.to("ayse@example.com")) == 1
    assert [r.status for r in await _log(kit)] == [NotificationStatus.SENT]


async def test_a_refused_recipient_is_recorded_as_failed_and_not_retried(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    inbox.refuse.add("ayse@example.com")
    notifications = Notifications(kit._core, _settings(server))
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="Late", owner_id=mia.id)
    await notifications.drain()
    events = (await kit.events.list(limit=1000)).items
    await notifications.handle(events)  # redelivered: still not retried
    assert inbox.rcpt_calls.count("ayse@example.com") == 1
    assert len(inbox.to("mia@acme.test")) == 1  # the owner still hears
    (failed,) = [r for r in await _log(kit) if r.status is NotificationStatus.FAILED]
    assert failed.recipient_kind == "customer"
    assert failed.address == "ayse@example.com"
    assert failed.error is not None
    assert "550" in failed.error
    (event,) = await _events(kit, NotificationFailed)
    assert event.ticket_id == ticket.id
    assert event.notifier == "email"
    assert "550" in event.error
    assert event.conversation_id == conv.id


async def test_a_notifier_registered_in_code_gets_the_same_notifications(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    notifications = Notifications(kit._core, _settings(server))
    slack = MemoryNotifier(
        name="slack", fail_with=[RetryableNotificationError("429", notifier="slack")]
    )
    notifications.register(slack)
    with pytest.raises(Exception, match="already in use"):
        notifications.register(MemoryNotifier(name="slack"))
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel", owner_id=mia.id)
    await notifications.drain()
    await notifications.drain()
    assert slack.calls == 3  # one retried
    assert sorted(n.subject for n in slack.sent) == sorted(_subject(m) for m in inbox.mails)
    assert {n.recipient.kind.value for n in slack.sent} == {"customer", "agent"}
    assert {r.notifier for r in await _log(kit)} == {"email", "slack"}
    assert [n.name for n in notifications.notifiers] == ["email", "slack"]


async def test_a_permanent_error_from_a_notifier_is_not_retried(kit: AsyncChatKit) -> None:
    conv, _ = await _scene(kit)
    notifications = Notifications(kit._core, NotificationSettings(retry_delay=0))
    pager = MemoryNotifier(
        name="pager", fail_with=[PermanentNotificationError("unknown user", notifier="pager")]
    )
    notifications.register(pager)
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel")
    await notifications.drain()
    assert pager.calls == 1
    assert pager.sent == []
    (event,) = await _events(kit, NotificationFailed)
    assert event.notifier == "pager"
    assert event.error == "unknown user"


async def test_no_contact_email_means_no_customer_mail_and_no_crash(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit, sender="visitor-42")
    notifications = Notifications(kit._core, _settings(server))
    memory = MemoryNotifier()
    notifications.register(memory)
    await kit.tickets.create(conversation_id=conv.id, subject="Late parcel", owner_id=mia.id)
    await notifications.drain()
    assert [m["To"] for m in inbox.mails] == ["Mia Kim <mia@acme.test>"]
    # Other notifiers still reach the customer: the memory one takes everybody.
    assert {n.recipient.kind.value for n in memory.sent} == {"customer", "agent"}
    assert [n.recipient.email for n in memory.sent if n.recipient.kind.value == "customer"] == [
        None
    ]


async def test_a_change_that_was_rolled_back_sends_nothing(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    notifications = Notifications(kit._core, _settings(server))
    memory = MemoryNotifier()
    notifications.register(memory)
    current = await kit.conversations.get(conv.id)
    ticket = Ticket(
        id=new_id("tkt"),
        subject="Never committed",
        contact_id=conv.contact_id,
        conversation_id=conv.id,
        owner_id=mia.id,
    )
    created = TicketCreated(conversation_id=conv.id, contact_id=conv.contact_id, ticket=ticket)
    stale = current.model_copy(update={"open_tickets": [ticket.id]})  # not the next version
    with pytest.raises(ConflictError):
        await kit._core.commit([Insert(ticket), Update(stale)], [created])
    await notifications.drain()
    assert inbox.mails == []
    assert memory.sent == []
    assert await _log(kit) == []
    assert await kit.store.get(Ticket, ticket.id) is None


async def test_a_template_that_cannot_render_is_skipped_with_a_warning_and_an_event(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    mine = NotificationTemplate.model_validate(
        {
            "kind": "ticket.created",
            "recipient": "customer",
            "language": "tr",
            "subject": "Sipariş {{ order.number }}",
            "text": "Merhaba {{ contact.first_name | }}",
        }
    )
    notifications = Notifications(kit._core, _settings(server, templates=(mine,)))
    with caplog.at_level(logging.WARNING, logger="chatkit.services.notifications"):
        await kit.tickets.create(conversation_id=conv.id, subject="Late", owner_id=mia.id)
        await notifications.drain()
    assert inbox.to("ayse@example.com") == []
    assert len(inbox.to("mia@acme.test")) == 1
    assert "order.number" in caplog.text
    (event,) = await _events(kit, NotificationFailed)
    assert event.notifier == "render"
    assert "order.number" in event.error
    await notifications.handle((await kit.events.list(limit=1000)).items)
    assert len(await _events(kit, NotificationFailed)) == 1  # recorded once


async def test_templates_are_overridable_and_fall_back_by_language(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    await kit.agents.update(mia.id, languages=["pt-BR"])
    mine = NotificationTemplate.model_validate(
        {
            "kind": "ticket.created",
            "recipient": "customer",
            "language": "tr",
            "subject": "{{ company.name }}: {{ ticket.subject }}",
            "text": "Sayın {{ contact.name }}, kaydınız açıldı.",
            "html": "<p>Sayın {{ contact.name }}</p>",
        }
    )
    notifications = Notifications(
        kit._core, _settings(server, templates=(mine,), company_name="Acme")
    )
    await kit.tickets.create(conversation_id=conv.id, subject="Late", owner_id=mia.id)
    await notifications.drain()
    (customer,) = inbox.to("ayse@example.com")
    assert _subject(customer) == "Acme: Late"
    html = customer.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert "<p>Sayın Ayşe Yılmaz</p>" in html.get_content()
    (agent,) = inbox.to("mia@acme.test")
    assert _subject(agent) == "New ticket for you: Late"  # no pt template: English


async def test_an_update_tells_each_side_only_what_concerns_them(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    conv, mia = await _scene(kit)
    notifications = Notifications(kit._core, _settings(server, kinds=frozenset({"ticket.updated"})))
    ticket = await kit.tickets.create(conversation_id=conv.id, subject="Late", owner_id=mia.id)
    await kit.tickets.update(ticket.id, priority="high")
    await notifications.drain()
    assert inbox.to("ayse@example.com") == []
    (agent,) = inbox.to("mia@acme.test")
    assert "우선순위" in _body(agent)
    assert "높음" in _body(agent)


async def test_disabled_or_unconfigured_sends_nothing(kit: AsyncChatKit) -> None:
    conv, _ = await _scene(kit)
    off = Notifications(kit._core, NotificationSettings(enabled=False))
    memory = MemoryNotifier()
    off.register(memory)
    await kit.tickets.create(conversation_id=conv.id, subject="Late")
    await off.drain()
    assert memory.sent == []
    assert Notifications(kit._core).notifiers == []  # no SMTP, nothing named


def test_notifier_names_are_checked() -> None:
    with pytest.raises(PluginNotFoundError, match=r"chatkit\.notifiers:carrier-pigeon"):
        _ = Notifications(
            _core_stub(), NotificationSettings(notifiers=("carrier-pigeon",))
        ).notifiers
    with pytest.raises(ConfigurationError, match="smtp"):
        _ = Notifications(_core_stub(), NotificationSettings(notifiers=("email",))).notifiers


def test_secrets_are_not_in_repr() -> None:
    smtp = SMTPSettings(host="h", sender="s@example.com", password="hunter2")
    settings = NotificationSettings(smtp=smtp)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr(EmailNotifier(smtp))
    assert "hunter2" not in settings.model_dump_json()


def _core_stub() -> Any:
    from chatkit import ChatKitSettings
    from chatkit.blobs import MemoryBlobStore
    from chatkit.services._core import Core
    from chatkit.stores.memory import MemoryStore

    return Core(MemoryStore(), ChatKitSettings(), MemoryBlobStore())


HOSTILE_NAME = "<img/src=x/onerror=alert(1)>"


async def test_html_templates_escape_what_they_insert_for_customers_and_agents(
    kit: AsyncChatKit, smtp: tuple[_Inbox, SMTPSettings]
) -> None:
    inbox, server = smtp
    inbound = await kit.messages.receive(
        channel="email", sender="eve@example.com", text="My order is late", name=HOSTILE_NAME
    )
    mia = await kit.agents.create(name="Mia Kim", email="mia@acme.test", languages=["en"])
    templates = tuple(
        NotificationTemplate.model_validate(
            {
                "kind": "ticket.created",
                "recipient": recipient,
                "language": "en",
                "subject": "New: {{ ticket.subject }} from {{ contact.name }}",
                "text": "Olá {{ contact.first_name | cliente }}",
                # the template the notifications page shows, plus a trusted raw value
                "html": "<p>Olá {{ contact.first_name | cliente }}</p>"
                '<p title="{{ ticket.subject }}">{{ company.name | raw }}</p>',
            }
        )
        for recipient in ("customer", "agent")
    )
    settings = _settings(server, templates=templates, company_name="<b>Acme</b>")
    notifications = Notifications(kit._core, settings)
    await kit.tickets.create(
        conversation_id=inbound.conversation.id, subject='"><script>x()</script>', owner_id=mia.id
    )
    await notifications.drain()
    for address in ("eve@example.com", "mia@acme.test"):
        (mail,) = inbox.to(address)
        part = mail.get_body(("html",))
        assert isinstance(part, EmailMessage)
        html = str(part.get_content())
        assert "<img" not in html
        assert "<script" not in html
        assert "<p>Olá &lt;img/src=x/onerror=alert(1)&gt;</p>" in html
        assert '<p title="&quot;&gt;&lt;script&gt;x()&lt;/script&gt;">' in html
        assert "<b>Acme</b>" in html  # | raw: inserted as written
        # plain text and subject are not HTML: unchanged
        assert _body(mail).strip() == f"Olá {HOSTILE_NAME}"
        assert _subject(mail) == f'New: "><script>x()</script> from {HOSTILE_NAME}'
