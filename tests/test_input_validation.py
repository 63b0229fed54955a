"""Bad input gets a typed error and changes nothing; good input round-trips exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitError,
    Identity,
    InvalidInputError,
    MessageTooLargeError,
    NotFoundError,
)
from chatkit.models import normalize_identity
from chatkit.models.contacts import IdentityKind

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(scenario: Callable[[AsyncChatKit], Awaitable[None]]) -> None:
    async def main() -> None:
        async with AsyncChatKit("memory://") as kit:
            await scenario(kit)

    asyncio.run(main())


async def _fresh_conversation(kit: AsyncChatKit) -> tuple[str, str]:
    inbound = await kit.messages.receive(channel="web", sender="visitor", text="hello")
    return inbound.conversation.id, inbound.contact.id


async def _state(kit: AsyncChatKit, conversation_id: str) -> tuple[int, list[str]]:
    page = await kit.messages.list(conversation_id, limit=1000)
    return await kit.store.last_position(), [m.id for m in page.items]


bad_text = st.one_of(
    st.just(""),
    st.text(alphabet=" \t\n\r", min_size=1, max_size=20),
    st.text(min_size=0, max_size=30).map(lambda t: t + "\ud800"),
    st.text(min_size=0, max_size=30).map(lambda t: "\udfff" + t),
    st.text(min_size=0, max_size=30).map(lambda t: t + "\x00" + "x"),
    st.integers(min_value=10_001, max_value=12_000).map(lambda n: "a" * n),
)


@SETTINGS
@given(text=bad_text)
def test_bad_text_is_refused_and_nothing_is_written(text: str) -> None:
    async def scenario(kit: AsyncChatKit) -> None:
        conv_id, contact_id = await _fresh_conversation(kit)
        before = await _state(kit, conv_id)
        with pytest.raises(InvalidInputError):
            await kit.messages.send(conv_id, text, author=Author.customer(contact_id))
        assert await _state(kit, conv_id) == before

    _run(scenario)


@SETTINGS
@given(
    text=st.text(min_size=1, max_size=2000).filter(
        lambda t: t.strip() and "\x00" not in t and not any(0xD800 <= ord(c) <= 0xDFFF for c in t)
    )
)
def test_valid_unicode_round_trips_exactly(text: str) -> None:
    async def scenario(kit: AsyncChatKit) -> None:
        conv_id, contact_id = await _fresh_conversation(kit)
        sent = await kit.messages.send(conv_id, text, author=Author.customer(contact_id))
        [stored] = (await kit.messages.list(conv_id, limit=1)).items
        assert stored.text == text
        assert stored == sent

    _run(scenario)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_valid_unicode_round_trips_on_sqlite_too(store: str, tmp_path: Any) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path}/u.db"
    samples = [
        "배송이 늦어요",
        "siparişim gecikti 😡",
        "emoji 👩🏽‍💻 zwj",
        "\u202eRTL override",
        "tab\tnew\nline",
    ]

    async def main() -> None:
        async with AsyncChatKit(url) as kit:
            conv_id, contact_id = await _fresh_conversation(kit)
            for text in samples:
                await kit.messages.send(conv_id, text, author=Author.customer(contact_id))
            stored = [m.text for m in (await kit.messages.list(conv_id)).items][1:]
            assert stored == samples

    asyncio.run(main())


WRONG: list[tuple[str, Callable[[AsyncChatKit, str, str], Awaitable[Any]]]] = [
    ("int conversation id", lambda k, c, p: k.messages.send(42, "x", author=Author.customer(p))),  # type: ignore[arg-type]
    ("None text", lambda k, c, p: k.messages.send(c, None, author=Author.customer(p))),  # type: ignore[arg-type]
    ("str author", lambda k, c, p: k.messages.send(c, "x", author="customer")),  # type: ignore[arg-type]
    ("bad kind", lambda k, c, p: k.messages.send(c, "x", author=Author.customer(p), kind="shout")),
    (
        "bad channel",
        lambda k, c, p: k.messages.send(c, "x", author=Author.customer(p), channel="fax"),
    ),
    ("bad status", lambda k, c, p: k.conversations.set_status(c, "deleted")),
    ("naive snooze", lambda k, c, p: k.conversations.snooze(c, datetime(2030, 1, 1))),
    ("bad priority", lambda k, c, p: k.conversations.set_priority(c, 3)),  # type: ignore[arg-type]
    ("tag too long", lambda k, c, p: k.conversations.add_tags(c, "t" * 65)),
    ("empty tag", lambda k, c, p: k.conversations.add_tags(c, "  ")),
    (
        "naive due date",
        lambda k, c, p: k.tickets.create(subject="s", contact_id=p, due_at=datetime(2030, 1, 1)),
    ),
    ("empty subject", lambda k, c, p: k.tickets.create(subject="", contact_id=p)),
    ("bad limit", lambda k, c, p: k.messages.list(c, limit=0)),
    ("bool limit", lambda k, c, p: k.conversations.list(limit=True)),
    ("bad cursor", lambda k, c, p: k.contacts.list(cursor="%%%")),
    ("bad identity tuple", lambda k, c, p: k.contacts.add_identity(p, ("email",))),  # type: ignore[arg-type]
    ("bad email", lambda k, c, p: k.contacts.add_identity(p, ("email", "nope"))),
    (
        "bad receive channel",
        lambda k, c, p: k.messages.receive(channel="pigeon", sender="x", text="x"),
    ),
    (
        "api channel without identity",
        lambda k, c, p: k.messages.receive(channel="api", sender="x", text="x"),
    ),
    ("lone surrogate name", lambda k, c, p: k.contacts.update(p, name="\ud800")),
    ("bad time zone", lambda k, c, p: k.agents.create(name="A", time_zone="Nowhere/City")),
    ("zero capacity", lambda k, c, p: k.agents.create(name="A", max_concurrent_chats=0)),
    ("negative after", lambda k, c, p: k.events.list(after=-1)),
]


@pytest.mark.parametrize(("case", "call"), WRONG, ids=[w[0] for w in WRONG])
def test_wrong_arguments_raise_typed_errors_and_write_nothing(
    case: str, call: Callable[[AsyncChatKit, str, str], Awaitable[Any]]
) -> None:
    async def scenario(kit: AsyncChatKit) -> None:
        conv_id, contact_id = await _fresh_conversation(kit)
        before = await _state(kit, conv_id)
        with pytest.raises(InvalidInputError):
            await call(kit, conv_id, contact_id)
        assert await _state(kit, conv_id) == before

    _run(scenario)


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.conversations.get("conv_nope"),
        lambda k: k.messages.send("conv_nope", "x", author=Author.system()),
        lambda k: k.tickets.add_note("tkt_nope", "x"),
        lambda k: k.agents.update("ag_nope", name="x"),
        lambda k: k.contacts.update("ct_nope", name="x"),
    ],
)
def test_unknown_ids_raise_not_found(call: Callable[[AsyncChatKit], Awaitable[Any]]) -> None:
    async def scenario(kit: AsyncChatKit) -> None:
        with pytest.raises(NotFoundError):
            await call(kit)

    _run(scenario)


def test_every_error_is_a_chatkit_error() -> None:
    assert issubclass(MessageTooLargeError, ChatKitError)
    assert issubclass(NotFoundError, ChatKitError)


emails = st.emails()
phones = st.from_regex(r"\+?[1-9][0-9]{4,14}", fullmatch=True).map(
    lambda d: " ".join(d[i : i + 3] for i in range(0, len(d), 3))
)


@settings(max_examples=200, deadline=None)
@given(value=emails)
def test_email_normalisation_is_idempotent(value: str) -> None:
    try:
        once = normalize_identity(IdentityKind.EMAIL, value)
    except ValueError:
        return
    assert normalize_identity(IdentityKind.EMAIL, once) == once
    assert Identity(kind="email", value=value.upper()).value == once.lower()  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(value=phones)
def test_phone_normalisation_is_idempotent_and_ignores_formatting(value: str) -> None:
    once = normalize_identity(IdentityKind.PHONE, value)
    assert normalize_identity(IdentityKind.PHONE, once) == once
    assert once == value.replace(" ", "")


def test_international_prefix_00_becomes_plus() -> None:
    assert normalize_identity(IdentityKind.PHONE, "0090 555 010 0000") == "+905550100000"
    with pytest.raises(ValueError, match="not a phone number"):
        normalize_identity(IdentityKind.PHONE, "000 00")
