"""Hostile arguments to public methods raise short typed errors and change nothing."""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    BusinessHours,
    ChatKitError,
    ContactBlockedError,
    InvalidInputError,
    NotFoundError,
    RemoteServiceError,
    SMTPSettings,
    Template,
    TemplateError,
)
from chatkit.errors import quoted

BIG = "x" * 10_000_000  # 10 MB
MAX_MESSAGE = 1000

Call = Callable[[AsyncChatKit, str], Awaitable[Any]]


async def _send(kit: AsyncChatKit, conv: str, **kwargs: Any) -> Any:
    return await kit.messages.send(conv, "hi", author=Author.system(), **kwargs)


def _deep(depth: int) -> object:
    data: object = 1
    for _ in range(depth):
        data = {"a": data}
    return data


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

HUGE = 10**5000  # str() and repr() of it raise ValueError
DEEP = _deep(5000)  # repr() of it raises RecursionError
BAD: Any = None  # hostile values, typed so that mypy lets them through
FIVE: Any = 5

HOSTILE_CASES: dict[str, Call] = {
    "agents.heartbeat agent_ids=None": lambda kit, conv: kit.agents.heartbeat(BAD),
    "agents.list status=1.5": lambda kit, conv: kit.agents.list(status=cast(Any, 1.5)),
    "agents.set_presence deep": lambda kit, conv: kit.agents.set_presence("ag_x", cast(Any, DEEP)),
    "abuse.record message_ids=None": lambda kit, conv: kit.abuse.record(
        "ct_x", category="spam", reported_by=Author.system(), message_ids=BAD
    ),
    "abuse.blocks kind=huge int": lambda kit, conv: kit.abuse.blocks(kind=cast(Any, HUGE)),
    "automation.handle events=[1]": lambda kit, conv: kit.automation.handle(cast(Any, [1])),
    "automation.check_idle now=5": lambda kit, conv: kit.automation.check_idle(now=cast(Any, 5)),
    "bots.handle message=None": lambda kit, conv: kit.bots.handle(BAD),
    "bots.receive message={}": lambda kit, conv: kit.bots.receive(
        cast(Any, {}), new_conversation=True
    ),
    "bots.start flow=[]": lambda kit, conv: kit.bots.start(conv, cast(Any, [])),
    "canned.suggest intent=1.5": lambda kit, conv: kit.canned.suggest(intent=cast(Any, 1.5)),
    "canned.use message_id=True": lambda kit, conv: kit.canned.use(
        "canned_x", message_id=cast(Any, True)
    ),
    "canned.render context=True": lambda kit, conv: kit.canned.render("/x", cast(Any, True)),
    "canned.send context=True": lambda kit, conv: kit.canned.send(
        conv, "/x", agent_id="ag_x", context=cast(Any, True)
    ),
    "conversations.add_tags huge int": lambda kit, conv: kit.conversations.add_tags(
        conv, cast(Any, HUGE)
    ),
    "conversations.add_tags deep": lambda kit, conv: kit.conversations.add_tags(
        conv, cast(Any, DEEP)
    ),
    "conversations.set_priority deep": lambda kit, conv: kit.conversations.set_priority(
        conv, cast(Any, DEEP)
    ),
    "conversations.set_status huge int": lambda kit, conv: kit.conversations.set_status(
        conv, cast(Any, HUGE)
    ),
    "conversations.list status=deep": lambda kit, conv: kit.conversations.list(
        status=cast(Any, DEEP)
    ),
    "tickets.list status=deep": lambda kit, conv: kit.tickets.list(status=cast(Any, DEEP)),
    "tickets.list status=[huge int]": lambda kit, conv: kit.tickets.list(status=cast(Any, [HUGE])),
    "tickets.set_status deep": lambda kit, conv: kit.tickets.set_status("tk_x", cast(Any, DEEP)),
    "surveys.list status=deep": lambda kit, conv: kit.surveys.list(status=cast(Any, DEEP)),
    "messages.send kind=deep": lambda kit, conv: _send(kit, conv, kind=DEEP),
    "messages.receive channel=huge int": lambda kit, conv: kit.messages.receive(
        channel=cast(Any, HUGE), sender="visitor", text="hi"
    ),
    "messages.note agent_id=5": lambda kit, conv: kit.messages.note(conv, "hi", agent_id=FIVE),
    "exports.read_jsonl source=None": lambda kit, conv: kit.exports.read_jsonl(BAD),
    "exports.read_jsonl missing file": lambda kit, conv: kit.exports.read_jsonl("missing.jsonl"),
    "exports.read_jsonl a directory": lambda kit, conv: kit.exports.read_jsonl("."),
    "exports.read_jsonl NUL in the path": lambda kit, conv: kit.exports.read_jsonl("a\x00b"),
    "exports.read_jsonl surrogate in the path": lambda kit, conv: kit.exports.read_jsonl(
        "a\udfffb"
    ),
    "exports.read_jsonl not UTF-8": lambda kit, conv: kit.exports.read_jsonl(
        io.BytesIO(b"\xff\xfe\n")
    ),
    "exports.write_jsonl target=1.5": lambda kit, conv: kit.exports.write_jsonl(cast(Any, 1.5)),
    "exports.write_jsonl conversation_ids=5": lambda kit, conv: kit.exports.write_jsonl(
        "out.jsonl", conversation_ids=FIVE
    ),
    "kit.health groups=None": lambda kit, conv: kit.health(groups=BAD),
    "notifications.get_log notification={}": lambda kit, conv: kit.notifications.get_log(
        "email", cast(Any, {})
    ),
    "notifications.build event=None": lambda kit, conv: kit.notifications.build(BAD),
    "notifications.handle events=None": lambda kit, conv: kit.notifications.handle(BAD),
    "retention.purge policy=5": lambda kit, conv: kit.retention.purge(policy=FIVE),
    "retention.purge dry_run='x'": lambda kit, conv: kit.retention.purge(dry_run=cast(Any, "x")),
    "retention.purge now=5": lambda kit, conv: kit.retention.purge(now=cast(Any, 5)),
    "retention.purge progress=5": lambda kit, conv: kit.retention.purge(progress=cast(Any, 5)),
    "retention.release hold_id={}": lambda kit, conv: kit.retention.release(cast(Any, {})),
    "routing.request_callback phone=None": lambda kit, conv: kit.routing.request_callback(
        conv, BAD, window_start=BAD, window_end=BAD
    ),
    "sync.retry local_ids=5": lambda kit, conv: kit.sync.retry("hubspot", FIVE),
    "sync.resume surrogate": lambda kit, conv: kit.sync.resume("hub\ud800"),
    "transcripts.export path=None": lambda kit, conv: kit.transcripts.export(
        BAD, conversation_ids=[conv]
    ),
    "transcripts.export conversation_ids=True": lambda kit, conv: kit.transcripts.export(
        "out.html", conversation_ids=FIVE
    ),
    "transcripts.export into a directory": lambda kit, conv: kit.transcripts.export(
        ".", conversation_ids=[conv]
    ),
    "transcripts.export attachments='x'": lambda kit, conv: kit.transcripts.export(
        "out.zip", conversation_ids=[conv], attachments=cast(Any, "x")
    ),
    "transcripts.get include_notes=date": lambda kit, conv: kit.transcripts.get(
        conv, include_notes=cast(Any, date(2024, 1, 1))
    ),
    "transcripts.email smtp=None": lambda kit, conv: kit.transcripts.email(
        conv, smtp=BAD, to="a@example.com"
    ),
    "understanding.analyze language=['x']": lambda kit, conv: kit.understanding.analyze(
        "hello", language=cast(Any, ["x"])
    ),
    "understanding.analyze language=huge int": lambda kit, conv: kit.understanding.analyze(
        "hello", language=cast(Any, HUGE)
    ),
    "understanding.negative_terms top=1.5": lambda kit, conv: kit.understanding.negative_terms(
        top=cast(Any, 1.5)
    ),
    "understanding.patterns min_count=None": lambda kit, conv: kit.understanding.patterns(
        min_count=BAD
    ),
    "understanding.patterns threshold=nan": lambda kit, conv: kit.understanding.patterns(
        threshold=math.nan
    ),
    "conversations.create channel=deep": lambda kit, conv: _create_conversation(kit, DEEP),
    "transcripts.select channel=deep": lambda kit, conv: kit.transcripts.select(
        channel=cast(Any, DEEP)
    ),
    "transcripts.render format=deep": lambda kit, conv: kit.transcripts.render(
        conv, format=cast(Any, DEEP)
    ),
    "transcripts.email form feed in subject": lambda kit, conv: kit.transcripts.email(
        conv, smtp=_smtp(), to="a@example.com", subject="hi\x0cBcc: victim@example.com"
    ),
    "transcripts.email U+2028 in to": lambda kit, conv: kit.transcripts.email(
        conv, smtp=_smtp(), to="a@example.com\u2028Bcc: victim@example.com"
    ),
    "reviews.queue kind=huge int": lambda kit, conv: kit.reviews.queue(cast(Any, HUGE)),
    "routing.request_callback note=huge int": lambda kit, conv: _callback(kit, conv, HUGE),
    "events.dispatcher max_retry_delay='x'": lambda kit, conv: _dispatcher(kit, "x"),
    "events.dispatcher max_retry_delay=nan": lambda kit, conv: _dispatcher(kit, math.nan),
    "teams.get surrogate": lambda kit, conv: kit.teams.get("a\udfffb"),
    "transcripts.email surrogate in subject": lambda kit, conv: kit.transcripts.email(
        conv, smtp=_smtp(), to="a@example.com", subject="\ud800"
    ),
    "understanding.negative_terms limit=10**30": lambda kit, conv: kit.understanding.negative_terms(
        limit=10**30
    ),
    "run_worker jobs=None": lambda kit, conv: kit.run_worker(jobs=BAD, duration=0.1),
    "run_worker sync=None": lambda kit, conv: kit.run_worker(sync=BAD, duration=0.1),
    "run_worker skip=None": lambda kit, conv: kit.run_worker(skip=BAD, duration=0.1),
    "run_worker every=[1]": lambda kit, conv: kit.run_worker(every=cast(Any, [1]), duration=0.1),
}


async def _create_conversation(kit: AsyncChatKit, channel: object) -> object:
    contact = (await kit.contacts.list(limit=1)).items[0]
    return await kit.conversations.create(contact_id=contact.id, channel=cast(Any, channel))


async def _callback(kit: AsyncChatKit, conv: str, note: object) -> object:
    soon = datetime.now(UTC) + timedelta(hours=1)
    return await kit.routing.request_callback(
        conv,
        "+905551112233",
        window_start=soon,
        window_end=soon + timedelta(hours=1),
        note=cast(Any, note),
    )


async def _dispatcher(kit: AsyncChatKit, max_retry_delay: object) -> object:
    async def handler(events: object) -> None:
        pass

    return kit.events.dispatcher("g", handler, max_retry_delay=cast(Any, max_retry_delay))


@pytest.mark.parametrize("name", sorted(HOSTILE_CASES))
def test_hostile_argument_raised_a_raw_error_before(name: str) -> None:
    """Each of these escaped as TypeError, AttributeError, ValueError, RecursionError,
    OSError or pydantic's ValidationError before; now InvalidInputError, writing nothing."""
    _run("memory://", HOSTILE_CASES[name], InvalidInputError)


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
    "teams.get surrogate",
    "understanding.negative_terms limit=10**30",
    "sync.status surrogate",
    "sync.link surrogate integration",
    "sync.decisions surrogate",
    "events.list after=10**30",
    "transcripts.select tag=1",
    "conversations.get huge id",
]


@pytest.mark.parametrize("name", STORE_CASES)
def test_hostile_argument_is_a_short_typed_error_on_every_store(name: str, store_url: str) -> None:
    call, error = CASES[name] if name in CASES else (HOSTILE_CASES[name], InvalidInputError)
    _run(store_url, call, error)


def test_extreme_times_in_business_hours_are_refused() -> None:
    """``datetime.max`` made `BusinessHours.is_open` (and `Agents.on_duty`) overflow."""

    async def main() -> None:
        async with AsyncChatKit("memory://") as kit:
            shift = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"})
            await kit.agents.create(name="Bo", shift=shift)
            for at in (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)):
                with pytest.raises(InvalidInputError) as caught:
                    await kit.agents.on_duty(at=at)
                assert caught.value.field == "at"
            assert shift.is_open(datetime(2026, 12, 7, 10, tzinfo=UTC))

    asyncio.run(main())


def test_screen_refuses_a_channel_that_is_not_a_name() -> None:
    """A non-string channel reached the ``message.refused`` event as a ValidationError."""

    async def main() -> None:
        async with AsyncChatKit("memory://") as kit:
            await kit.abuse.block(ip="203.0.113.9")
            for channel in (date(2024, 1, 1), "\ud800", 5):
                with pytest.raises(InvalidInputError) as caught:
                    await kit.abuse.screen(ip="203.0.113.9", channel=cast(Any, channel))
                assert caught.value.field == "channel"
            assert (await kit.abuse.blocks()).items[0].refused == 0
            with pytest.raises(ContactBlockedError):
                await kit.abuse.screen(ip="203.0.113.9", channel="web")

    asyncio.run(main())


def test_a_number_too_long_to_print_in_a_template_context() -> None:
    """``str()`` of a huge integer raised ValueError while filling a template in."""
    template = Template.parse("Order {{ order.number }}", roots=("order",))
    with pytest.raises(TemplateError, match="too long to print"):
        template.render({"order": {"number": HUGE}})
    assert template.render({"order": {"number": 17}}) == "Order 17"


def test_quoted_input_never_fails() -> None:
    """Error messages quote input through `quoted`: huge, deep or odd values stay short."""
    assert quoted(HUGE) == "<a very large int>"
    assert quoted(DEEP) == "<dict>"
    assert quoted(["x"] * 10_000) == "<list>"
    assert quoted("x" * 10_000).endswith("\u2026")
    assert len(quoted("x" * 10_000)) < 110
    assert quoted("late") == "'late'"
    assert quoted(None) == "None"
    assert quoted(1.5) == "1.5"
