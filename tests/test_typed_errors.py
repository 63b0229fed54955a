"""Hostile arguments to public methods raise short typed errors and change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitError,
    InvalidInputError,
    NotFoundError,
    RemoteServiceError,
    SMTPSettings,
)

BIG = "x" * 10_000_000  # 10 MB
MAX_MESSAGE = 1000

Call = Callable[[AsyncChatKit, str], Awaitable[Any]]


async def _send(kit: AsyncChatKit, conv: str, **kwargs: Any) -> Any:
    return await kit.messages.send(conv, "hi", author=Author.system(), **kwargs)


def _smtp(port: int = 1) -> SMTPSettings:
    return SMTPSettings(host="127.0.0.1", port=port, sender="support@example.com", timeout=5)


CASES: dict[str, tuple[Call, type[ChatKitError]]] = {
    "messages.send attachments=5": (
        lambda kit, conv: _send(kit, conv, attachments=5),
        InvalidInputError,
    ),
    "messages.send huge metadata key": (
        lambda kit, conv: _send(kit, conv, metadata={BIG: 1}),
        InvalidInputError,
    ),
    "messages.send huge kind": (
        lambda kit, conv: _send(kit, conv, kind=BIG),
        InvalidInputError,
    ),
    "messages.send huge conversation id": (
        lambda kit, conv: kit.messages.send(BIG, "hi", author=Author.system()),
        NotFoundError,
    ),
    "conversations.get huge id": (
        lambda kit, conv: kit.conversations.get(BIG),
        NotFoundError,
    ),
    "contacts.create identities=1.0": (
        lambda kit, conv: kit.contacts.create(identities=1.0),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "contacts.create huge name": (
        lambda kit, conv: kit.contacts.create(name=BIG),
        InvalidInputError,
    ),
    "contacts.create huge identity": (
        lambda kit, conv: kit.contacts.create(identities=[("email", BIG)]),
        InvalidInputError,
    ),
    "transcripts.select tag=1": (
        lambda kit, conv: kit.transcripts.select(tag=1),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "transcripts.select huge channel": (
        lambda kit, conv: kit.transcripts.select(channel=BIG),
        InvalidInputError,
    ),
    "retention.purge batch_size='9'*50": (
        lambda kit, conv: kit.retention.purge(batch_size="9" * 50),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "sync.status 123": (
        lambda kit, conv: kit.sync.status(123),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "sync.status surrogate": (
        lambda kit, conv: kit.sync.status("hub\ud800"),
        InvalidInputError,
    ),
    "sync.link surrogate integration": (
        lambda kit, conv: kit.sync.link("\ud800", conv),
        InvalidInputError,
    ),
    "sync.link surrogate local_id": (
        lambda kit, conv: kit.sync.link("hubspot", "ct_\ud800"),
        InvalidInputError,
    ),
    "sync.decisions surrogate": (
        lambda kit, conv: kit.sync.decisions("\ud800"),
        InvalidInputError,
    ),
    "sync.decisions surrogate local_id": (
        lambda kit, conv: kit.sync.decisions("hubspot", local_id="\udfff"),
        InvalidInputError,
    ),
    "events.list after=10**30": (
        lambda kit, conv: kit.events.list(after=10**30),
        InvalidInputError,
    ),
    "events.list after='9'*40": (
        lambda kit, conv: kit.events.list(after="9" * 40),
        InvalidInputError,
    ),
    "transcripts.render time_zone='9'*400": (
        lambda kit, conv: kit.transcripts.render(conv, time_zone="9" * 400),
        InvalidInputError,
    ),
    "transcripts.render huge time_zone": (
        lambda kit, conv: kit.transcripts.render(conv, time_zone=BIG),
        InvalidInputError,
    ),
    "attachments.upload [2**60]": (
        lambda kit, conv: kit.attachments.upload(
            conv, [2**60], name="a.bin", author=Author.system()
        ),
        InvalidInputError,
    ),
    "transcripts.email CR/LF in to": (
        lambda kit, conv: kit.transcripts.email(
            conv, smtp=_smtp(), to="a@example.com\r\nBcc: victim@example.com"
        ),
        InvalidInputError,
    ),
    "transcripts.email CR/LF in subject": (
        lambda kit, conv: kit.transcripts.email(
            conv, smtp=_smtp(), to="a@example.com", subject="hi\nBcc: victim@example.com"
        ),
        InvalidInputError,
    ),
    "transcripts.email SMTP server down": (
        lambda kit, conv: kit.transcripts.email(conv, smtp=_smtp(), to="a@example.com"),
        RemoteServiceError,
    ),
}


async def _snapshot(kit: AsyncChatKit) -> tuple[int, int, int]:
    store = kit.store
    contacts = await kit.contacts.list(limit=1000)
    return await store.last_position(), len(contacts.items), len(await kit.transcripts.select())


def _run(url: str, call: Call, error: type[ChatKitError]) -> None:
    async def main() -> None:
        async with AsyncChatKit(url) as kit:
            inbound = await kit.messages.receive(channel="web", sender="visitor", text="hello")
            conv = inbound.conversation.id
            before = await _snapshot(kit)
            with pytest.raises(ChatKitError) as caught:
                await call(kit, conv)
            assert isinstance(caught.value, error), repr(caught.value)[:300]
            assert len(str(caught.value)) < MAX_MESSAGE
            assert "site-packages" not in str(caught.value)
            assert str(Path(__file__).parent.parent) not in str(caught.value)
            assert await _snapshot(kit) == before

    asyncio.run(main())


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_argument_is_a_short_typed_error_on_memory(name: str) -> None:
    call, error = CASES[name]
    _run("memory://", call, error)


STORE_CASES = [
    "sync.status surrogate",
    "sync.link surrogate integration",
    "sync.decisions surrogate",
    "events.list after=10**30",
    "transcripts.select tag=1",
    "conversations.get huge id",
]


@pytest.mark.parametrize("name", STORE_CASES)
def test_hostile_argument_is_a_short_typed_error_on_every_store(name: str, store_url: str) -> None:
    call, error = CASES[name]
    _run(store_url, call, error)
