"""Twilio end to end: the official SDK against the emulator, a real uvicorn server, SQLite."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

pytest.importorskip("twilio")
pytest.importorskip("fastapi")

from twilio.request_validator import RequestValidator

from chatkit import AsyncChatKit
from chatkit.channels import ChannelRequest, DeliveryState
from chatkit.errors import ChannelWebhookError
from chatkit.models import Author, ChannelReceipt, ChannelSend, ChannelSendStatus, Message
from chatkit_integrations.twilio import TwilioAdapter, TwilioSettings
from chatkit_integrations.twilio.emulator import TwilioEmulator

from .webserver import serve

pytestmark = pytest.mark.anyio

CUSTOMER = "+14155550123"
BUSINESS = "+14155559999"


def test_signature_vector_of_twilio_docs() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert (
        RequestValidator("12345").compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    body = urllib.parse.urlencode(params).encode()
    adapter = TwilioAdapter(
        TwilioSettings(account_sid="AC" + "0" * 32, auth_token="12345")  # type: ignore[arg-type]
    )
    request = ChannelRequest(
        url=url,
        headers={
            "x-twilio-signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
            "content-type": "application/x-www-form-urlencoded",
        },
        body=body,
    )
    # The signature verifies; the request is then refused as another account's.
    with pytest.raises(ChannelWebhookError) as caught:
        asyncio.run(adapter.parse_webhook(request))
    assert caught.value.reason == "wrong_account"
    changed = request.model_copy(update={"body": body.replace(b"1234", b"1235")})
    with pytest.raises(ChannelWebhookError) as caught:
        asyncio.run(adapter.parse_webhook(changed))
    assert caught.value.reason == "bad_signature"
    assert caught.value.status_code == 403
    assert "12345" not in repr(adapter)
    assert "12345" not in repr(adapter.settings)


@pytest.fixture
def emulator() -> AsyncIterator[TwilioEmulator]:
    with TwilioEmulator() as twilio:
        yield twilio  # type: ignore[misc]


async def _wait(predicate: object, timeout: float = 15.0) -> None:
    assert callable(predicate)
    deadline = anyio.current_time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if anyio.current_time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_inbound_reply_delivered_and_one_contact_across_sms_and_whatsapp(
    tmp_path: Path, emulator: TwilioEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}")
    async with kit, serve(kit.asgi()) as base:
        adapter = TwilioAdapter(
            TwilioSettings(
                account_sid=emulator.account_sid,
                auth_token=emulator.auth_token,  # type: ignore[arg-type]
                public_url=base,
                api_base_url=emulator.url,
                sms_from=BUSINESS,
                whatsapp_from=BUSINESS,
            )
        )
        kit.channels.add(adapter)
        emulator.webhook_url = f"{base}/channels/twilio"
        caplog.set_level(logging.INFO)

        # 1. SMS in, with a picture and non-Latin text; answered with empty TwiML.
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        answer = await anyio.to_thread.run_sync(
            lambda: emulator.text(
                CUSTOMER, "Merhaba 👋 где мой заказ?", to=BUSINESS, media=[("image/png", png)]
            )
        )
        assert answer.status_code == 200
        assert answer.text.startswith("<?xml")
        assert "<Response></Response>" in answer.text
        first_sid = next(iter(emulator.messages))
        # A redelivery of the same message id is answered the same and written once.
        again = await anyio.to_thread.run_sync(
            lambda: emulator.post_signed(
                f"{base}/channels/twilio/messages",
                emulator.inbound_params(emulator.messages[first_sid]),
            )
        )
        assert again.status_code == 200
        assert len(await kit.store.find(ChannelReceipt)) == 1
        await kit.channels.drain()
        messages = await kit.store.find(Message)
        assert len(messages) == 1
        inbound = messages[0]
        assert inbound.text == "Merhaba 👋 где мой заказ?"
        assert inbound.channel.value == "sms"
        assert len(inbound.attachments) == 1
        conversation = await kit.conversations.get(inbound.conversation_id)
        contact = await kit.contacts.get(conversation.contact_id)
        assert [i.value for i in contact.identities] == [CUSTOMER]

        # 2. An agent replies; the dispatcher sends it through the SDK to the emulator.
        agent = await kit.agents.create(name="Mia", email="mia@example.com")
        reply = await kit.messages.send(
            conversation.id, "On its way! 🚚", author=Author.agent(agent.id)
        )
        await kit.channels.drain()
        sent = emulator.sent(CUSTOMER)
        assert [m.body for m in sent] == ["On its way! 🚚"]
        assert sent[0].from_ == BUSINESS

        # 3. Status callbacks arrive (signed, with the message id in the URL).
        async def delivered() -> bool:
            await kit.channels.drain()
            stored = await kit.messages.get(reply.id)
            return stored.delivery is not None and stored.delivery.state is DeliveryState.DELIVERED

        await _wait(delivered)
        stored = await kit.messages.get(reply.id)
        assert stored.delivery is not None
        assert stored.delivery.provider_message_id == sent[0].sid
        events = [e.type for e in (await kit.events.list(limit=500)).items]
        assert events.count("message.delivery_updated") >= 2

        # 4. The same person on WhatsApp: one contact, one conversation.
        await anyio.to_thread.run_sync(
            lambda: emulator.text(f"whatsapp:{CUSTOMER}", "also on WhatsApp", to=BUSINESS)
        )
        await kit.channels.drain()
        conversations = await kit.store.find(type(conversation))
        assert len(conversations) == 1
        history = await kit.store.find(Message, {"conversation_id": conversation.id})
        assert [m.channel.value for m in sorted(history, key=lambda m: m.seq)] == [
            "sms",
            "sms",
            "whatsapp",
        ]
        reply2 = await kit.messages.send(
            conversation.id, "Hi on WhatsApp", author=Author.agent(agent.id)
        )
        await kit.channels.drain()
        assert [m.to for m in emulator.sent()][-1] == f"whatsapp:{CUSTOMER}"
        assert [m.from_ for m in emulator.sent()][-1] == f"whatsapp:{BUSINESS}"

        async def read() -> bool:
            await kit.channels.drain()
            stored = await kit.messages.get(reply2.id)
            return stored.delivery is not None and stored.delivery.state is DeliveryState.READ

        await _wait(read)
        assert emulator.auth_token not in caplog.text


async def test_send_retries_429_and_5xx_then_fails_for_good_with_the_error(
    store_url: str, emulator: TwilioEmulator
) -> None:
    from chatkit import ChatKitSettings
    from chatkit.channels.settings import ChannelSettings

    settings = ChatKitSettings(channels=ChannelSettings(retry_delay=0, max_attempts=4))
    kit = AsyncChatKit(store_url, settings=settings)
    async with kit:
        adapter = TwilioAdapter(
            TwilioSettings(
                account_sid=emulator.account_sid,
                auth_token=emulator.auth_token,  # type: ignore[arg-type]
                api_base_url=emulator.url,
                sms_from=BUSINESS,
            )
        )
        kit.channels.add(adapter)
        inbound = await kit.messages.receive(
            channel="sms",
            sender=CUSTOMER,
            text="hello",
            metadata={"channel": {"account": "twilio", "from": CUSTOMER, "to": BUSINESS}},
        )
        agent = await kit.agents.create(name="Mia", email="mia@example.com")
        emulator.fail_next("429")
        emulator.fail_next("500")
        emulator.fail_next("503")
        reply = await kit.messages.send(
            inbound.conversation.id, "hi", author=Author.agent(agent.id)
        )
        for _ in range(10):
            await kit.channels.drain()
        assert emulator.creates == 4
        assert len(emulator.sent()) == 1
        (send,) = await kit.store.find(ChannelSend)
        assert send.status is ChannelSendStatus.SENT
        assert send.attempts == 4
        assert (await kit.messages.get(reply.id)).delivery.state is DeliveryState.QUEUED  # type: ignore[union-attr]

        # A refusal for good: Twilio's 21211 (invalid To) is on the message.
        bad = await kit.messages.receive(
            channel="sms",
            sender="+15005550001",
            text="hi",
            metadata={"channel": {"account": "twilio", "from": "+15005550001", "to": BUSINESS}},
        )
        failed = await kit.messages.send(bad.conversation.id, "hi", author=Author.agent(agent.id))
        await kit.channels.drain()
        delivery = (await kit.messages.get(failed.id)).delivery
        assert delivery is not None
        assert delivery.state is DeliveryState.FAILED
        assert delivery.error_code == "21211"
        assert "not a valid phone number" in (delivery.error or "")


async def test_bad_webhooks_are_refused_and_write_nothing(
    tmp_path: Path, emulator: TwilioEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}")
    async with kit, serve(kit.asgi()) as base:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    public_url=base,
                    api_base_url=emulator.url,
                )
            )
        )
        url = f"{base}/channels/twilio/messages"
        from chatkit_integrations.twilio.emulator import EmulatedMessage

        message = EmulatedMessage(
            sid="SM" + "a" * 32,
            account_sid=emulator.account_sid,
            to=BUSINESS,
            from_=CUSTOMER,
            body="secret text",
            direction="inbound",
            status="received",
            date_created=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
        params = emulator.inbound_params(message)
        good = emulator.signature(url, params)

        async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await client.post(url, content=body, headers=headers)

        form = {"content-type": "application/x-www-form-urlencoded"}
        encoded = urllib.parse.urlencode(params).encode()
        cases = {
            "missing": (encoded, form, 403),
            "wrong": (encoded, {**form, "x-twilio-signature": "AAAA" + good[4:]}, 403),
            "changed body": (
                encoded.replace(b"secret", b"Secret"),
                {**form, "x-twilio-signature": good},
                403,
            ),
            "oversized": (
                encoded + b"&x=" + b"a" * 70_000,
                {**form, "x-twilio-signature": good},
                413,
            ),
            "malformed": (b"\xff\xfe", {**form, "x-twilio-signature": good}, 400),
        }
        for name, (body, headers, status) in cases.items():
            answer = await post(body, headers)
            assert answer.status_code == status, name
        foreign = {**params, "NumMedia": "1", "MediaUrl0": "https://evil.example/x.png"}
        answer = await post(
            urllib.parse.urlencode(foreign).encode(),
            {**form, "x-twilio-signature": emulator.signature(url, foreign)},
        )
        assert answer.status_code == 400
        assert await kit.store.find(ChannelReceipt) == []
        assert (await kit.events.list()).items == []
        assert "secret text" not in caplog.text
        assert emulator.auth_token not in caplog.text
        async with httpx.AsyncClient() as client:
            # No handshake for Twilio; no account of that name.
            assert (await client.get(url)).status_code == 405
            assert (await client.post(f"{base}/channels/nobody/messages")).status_code == 404
        # A proper delivery still goes through.
        answer = await post(encoded, {**form, "x-twilio-signature": good})
        assert answer.status_code == 200
        assert len(await kit.store.find(ChannelReceipt)) == 1


async def _one_reply(kit: AsyncChatKit, text: str = "hi there") -> Message:
    inbound = await kit.messages.receive(
        channel="sms",
        sender=CUSTOMER,
        text="hello",
        metadata={"channel": {"account": "twilio", "from": CUSTOMER, "to": BUSINESS}},
    )
    agent = await kit.agents.create(name="Mia", email=f"mia-{text[:3]}@example.com")
    return await kit.messages.send(inbound.conversation.id, text, author=Author.agent(agent.id))


def _settings(**channels: object) -> object:
    from chatkit import ChatKitSettings
    from chatkit.channels.settings import ChannelSettings

    return ChatKitSettings(channels=ChannelSettings(**channels))  # type: ignore[arg-type]


async def test_a_dispatcher_stopped_after_the_send_does_not_send_twice(
    store_url: str, emulator: TwilioEmulator
) -> None:
    settings = _settings(retry_delay=0, timeout=0.2)
    kit = AsyncChatKit(store_url, settings=settings)  # type: ignore[arg-type]
    async with kit:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                    sms_from=BUSINESS,
                )
            )
        )
        reply = await _one_reply(kit)
        dispatcher = kit.channels.dispatcher()
        await dispatcher._sends.drain()
        emulator.fail_next("slow", seconds=0.5)
        assert await dispatcher._start_due() == 1
        await _wait(lambda: emulator.creates == 1)
        # The worker dies: the provider took the message, the outcome was never written.
        for task in list(dispatcher._tasks):
            task.cancel()
        for task in list(dispatcher._tasks):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert len(emulator.sent()) == 1
        (send,) = await kit.store.find(ChannelSend)
        assert send.status is ChannelSendStatus.PENDING
        assert send.attempts == 1
        await asyncio.sleep(1.5)  # the claim runs out; another dispatcher takes it over
        await kit.channels.drain()
        assert emulator.creates == 1
        (send,) = await kit.store.find(ChannelSend)
        assert send.status is ChannelSendStatus.SENT
        assert send.provider_message_id == emulator.sent()[0].sid
        delivery = (await kit.messages.get(reply.id)).delivery
        assert delivery is not None
        assert delivery.state is DeliveryState.QUEUED


async def test_a_timeout_is_checked_before_sending_again(
    tmp_path: Path, emulator: TwilioEmulator
) -> None:
    settings = _settings(retry_delay=1.5, timeout=5)
    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}", settings=settings)  # type: ignore[arg-type]
    async with kit:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                    sms_from=BUSINESS,
                    timeout=0.3,
                )
            )
        )
        await _one_reply(kit)
        emulator.fail_next("timeout", seconds=0.8)
        await kit.channels.drain()
        (send,) = await kit.store.find(ChannelSend)
        assert send.status is ChannelSendStatus.PENDING  # the client gave up
        await asyncio.sleep(2.0)
        await kit.channels.drain()
        (send,) = await kit.store.find(ChannelSend)
        assert send.status is ChannelSendStatus.SENT
        assert len(emulator.sent()) == 1
        assert emulator.creates == 1


async def test_out_of_order_deliveries_are_written_in_the_providers_order(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from chatkit.channels import InboundMessage
    from chatkit.events import ChannelMessageReceived
    from chatkit.models.conversations import Channel

    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}")
    async with kit:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(account_sid="AC" + "1" * 32, auth_token="t" * 32)  # type: ignore[arg-type]
            )
        )
        now = datetime.now(UTC)
        later = InboundMessage(
            provider_message_id="SM" + "2" * 32,
            channel=Channel.SMS,
            sender=CUSTOMER,
            text="second",
            sent_at=now,
        )
        earlier = later.model_copy(
            update={
                "provider_message_id": "SM" + "1" * 32,
                "text": "first",
                "sent_at": now - timedelta(seconds=5),
            }
        )
        await kit.channels._core.commit(
            [],
            [
                ChannelMessageReceived(account="twilio", inbound=later),
                ChannelMessageReceived(account="twilio", inbound=earlier),
            ],
        )
        await kit.channels.drain()
        texts = [m.text for m in sorted(await kit.store.find(Message), key=lambda m: m.seq)]
        assert texts == ["first", "second"]


async def test_redeliveries_are_written_once_on_every_store(
    store_url: str, emulator: TwilioEmulator
) -> None:
    kit = AsyncChatKit(store_url)
    async with kit:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                )
            )
        )
        url = "https://chat.example.com/channels/twilio/messages"
        from datetime import UTC, datetime

        from chatkit_integrations.twilio.emulator import EmulatedMessage

        message = EmulatedMessage(
            sid="SM" + "c" * 32,
            account_sid=emulator.account_sid,
            to=BUSINESS,
            from_=CUSTOMER,
            body="once",
            direction="inbound",
            status="received",
            date_created=datetime.now(UTC),
        )
        params = emulator.inbound_params(message)
        request = ChannelRequest(
            url=url,
            headers={"x-twilio-signature": emulator.signature(url, params)},
            body=urllib.parse.urlencode(params).encode(),
        )
        # Concurrent redeliveries (as from several web processes) and a late one.
        await asyncio.gather(*(kit.channels.handle_webhook("twilio", request) for _ in range(5)))
        await kit.channels.drain()
        await kit.channels.handle_webhook("twilio", request)
        await kit.channels.drain()
        assert len(await kit.store.find(ChannelReceipt)) == 1
        assert [m.text for m in await kit.store.find(Message)] == ["once"]


async def test_old_replies_are_not_sent_when_channels_are_turned_on(
    tmp_path: Path, emulator: TwilioEmulator
) -> None:
    settings = _settings(max_reply_age=0.5)
    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}", settings=settings)  # type: ignore[arg-type]
    async with kit:
        await _one_reply(kit, "an old reply")
        await asyncio.sleep(0.7)
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                    sms_from=BUSINESS,
                )
            )
        )
        await kit.channels.drain()
        assert emulator.creates == 0
        assert await kit.store.find(ChannelSend) == []


def test_settings_from_the_environment_keep_the_token_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from chatkit.errors import IntegrationConfigError

    env = {
        "CHATKIT_TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "CHATKIT_TWILIO_AUTH_TOKEN": "tok-very-secret",
        "CHATKIT_TWILIO_PUBLIC_URL": "https://chat.example.com/chat/",
        "CHATKIT_TWILIO_SMS_FROM": BUSINESS,
    }
    settings = TwilioSettings.from_env(environ=env)
    assert settings.public_url == "https://chat.example.com/chat"
    assert settings.auth_token.get_secret_value() == "tok-very-secret"
    adapter = TwilioAdapter(settings)
    for shown in (repr(settings), str(settings), repr(adapter), settings.model_dump_json()):
        assert "tok-very-secret" not in shown
    assert adapter.status_callback("msg_1") == (
        "https://chat.example.com/chat/channels/twilio/status?m=msg_1"
    )
    with pytest.raises(IntegrationConfigError) as caught:
        TwilioSettings.from_env(environ={"CHATKIT_TWILIO_AUTH_TOKEN": "tok-very-secret"})
    assert "CHATKIT_TWILIO_ACCOUNT_SID" in str(caught.value)
    with pytest.raises(IntegrationConfigError) as caught:
        TwilioSettings.from_env(
            environ={**env, "CHATKIT_TWILIO_ACCOUNT_SID": "nope", "CHATKIT_TWILIO_AUTH_TOKEN": "x"}
        )
    assert "ACCOUNT_SID" in str(caught.value)
    assert "nope" not in str(caught.value)
    eu = TwilioSettings.from_env(
        "twilio-eu",
        environ={
            "CHATKIT_TWILIO_EU_ACCOUNT_SID": "AC" + "b" * 32,
            "CHATKIT_TWILIO_EU_AUTH_TOKEN": "t",
        },
    )
    assert eu.name == "twilio-eu"


def test_accounts_from_chatkit_channels() -> None:
    from chatkit.errors import PluginNotFoundError

    kit = AsyncChatKit("memory://")
    env = {
        "CHATKIT_CHANNELS": "twilio, twilio-eu=twilio",
        "CHATKIT_TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
        "CHATKIT_TWILIO_AUTH_TOKEN": "t1",
        "CHATKIT_TWILIO_EU_ACCOUNT_SID": "AC" + "b" * 32,
        "CHATKIT_TWILIO_EU_AUTH_TOKEN": "t2",
    }
    added = kit.channels.add_from_env(env)
    assert [a.name for a in added] == ["twilio", "twilio-eu"]
    assert [a.name for a in kit.channels.accounts()] == ["twilio", "twilio-eu"]
    assert kit.channels.add_from_env({}) == []
    with pytest.raises(PluginNotFoundError):
        AsyncChatKit("memory://").channels.add_from_env({"CHATKIT_CHANNELS": "carrier-pigeon"})


async def test_media_over_the_limit_is_left_out_and_the_text_kept(
    tmp_path: Path, emulator: TwilioEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kit = AsyncChatKit(f"sqlite:///{tmp_path / 'chat.db'}")
    async with kit, serve(kit.asgi()) as base:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    public_url=base,
                    api_base_url=emulator.url,
                    max_media_bytes=2048,
                )
            )
        )
        emulator.webhook_url = f"{base}/channels/twilio"
        small = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
        big = b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000
        answer = await anyio.to_thread.run_sync(
            lambda: emulator.text(
                CUSTOMER, "two pictures", media=[("image/png", big), ("image/png", small)]
            )
        )
        assert answer.status_code == 200
        await kit.channels.drain()
        (message,) = await kit.store.find(Message)
        assert message.text == "two pictures"
        assert [a.size for a in message.attachments] == [len(small)]
        assert "too_large" in caplog.text


async def test_the_worker_writes_what_came_in_and_sends_the_reply(
    tmp_path: Path, emulator: TwilioEmulator
) -> None:
    from chatkit import ChatKitSettings

    kit = AsyncChatKit(
        f"sqlite:///{tmp_path / 'chat.db'}", settings=ChatKitSettings(event_poll_interval=0.05)
    )
    async with kit:
        kit.channels.add(
            TwilioAdapter(
                TwilioSettings(
                    account_sid=emulator.account_sid,
                    auth_token=emulator.auth_token,  # type: ignore[arg-type]
                    api_base_url=emulator.url,
                    sms_from=BUSINESS,
                )
            )
        )
        url = "https://chat.example.com/channels/twilio/messages"
        from datetime import UTC, datetime

        from chatkit_integrations.twilio.emulator import EmulatedMessage

        params = emulator.inbound_params(
            EmulatedMessage(
                sid="SM" + "f" * 32,
                account_sid=emulator.account_sid,
                to=BUSINESS,
                from_=CUSTOMER,
                body="via the worker",
                direction="inbound",
                status="received",
                date_created=datetime.now(UTC),
            )
        )
        await kit.channels.handle_webhook(
            "twilio",
            ChannelRequest(
                url=url,
                headers={"x-twilio-signature": emulator.signature(url, params)},
                body=urllib.parse.urlencode(params).encode(),
            ),
        )
        agent = await kit.agents.create(name="Mia", email="mia@example.com")

        async def reply_when_written() -> None:
            while not (found := await kit.store.find(Message)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await kit.messages.send(
                found[0].conversation_id, "from the worker", author=Author.agent(agent.id)
            )

        async with asyncio.timeout(20):
            await asyncio.gather(
                kit.run_worker(only=["channels"], duration=4), reply_when_written()
            )
        assert [m.body for m in emulator.sent()] == ["from the worker"]
