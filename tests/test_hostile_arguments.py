"""Every public kit method, given hostile arguments, raises only short `ChatKitError`s, quickly.

The methods are found by introspection: each public coroutine (or async
generator) method of each resource of `AsyncChatKit`, and of the kit itself.
A public callable that is not a coroutine (constructors of dispatchers,
subscriptions and engines) is called with hostile arguments too, without
running what it builds. A method that runs until cancelled gets a bounded
call (`BOUNDED`); what cannot be driven at all is in `EXCLUDED` with the
reason. `test_every_public_method_is_driven` fails when a method appears that
is neither driven nor excluded. The loaders (rules, flows, survey forms, from
data, text and files) and `ChatKitSettings` get hostile documents the same way.

Each parameter gets either a hostile value (wrong types, huge or non-finite
numbers, lone surrogates, control characters, deep nesting, ids of the wrong
kind or of no record, bad cursors, naive or extreme datetimes ...) or a valid
value (so checks past the first argument are reached too). A call passes when
it succeeds or raises a `ChatKitError` whose message is at most
`MESSAGE_LENGTH` characters and does not show the install path, within
`SECONDS`. Anything else (``TypeError``, ``ValueError``, ``KeyError``,
pydantic's ``ValidationError``, ``OverflowError``, ``RecursionError``, sqlite3
errors, a hang) fails.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chatkit
from chatkit import (
    AsyncChatKit,
    Author,
    BusinessHours,
    ChatKitSettings,
    Flow,
    RetentionPolicy,
    RuleSet,
    SMTPSettings,
    SurveyForm,
)
from chatkit.errors import ChatKitError

MESSAGE_LENGTH = 600
SECONDS = 3.0
INSTALL_PATH = str(Path(chatkit.__file__).resolve().parent.parent)

RESOURCES = (
    "contacts",
    "attachments",
    "agents",
    "conversations",
    "messages",
    "tickets",
    "events",
    "transcripts",
    "retention",
    "teams",
    "routing",
    "understanding",
    "automation",
    "canned",
    "kb",
    "bots",
    "surveys",
    "reviews",
    "abuse",
    "notifications",
    "exports",
    "previews",
    "sync",
    "websites",
    "webhooks",
    "channels",
    "reports",
)

EXCLUDED: dict[str, str] = {
    "kit.open": "no arguments to make hostile; every other test opens the kit",
    "kit.close": "no arguments to make hostile; closing would end the test's kit",
}
"""Public callables not driven here, each with the reason."""

BOUNDED: dict[str, dict[str, object]] = {
    # Runs until cancelled: given a short duration, in the foreground only.
    "kit.run_worker": {"duration": 0.2, "handle_signals": False},
}
"""Arguments fixed so that a call which would run forever ends."""

FLOW = Flow.from_dict(
    {
        "name": "greet",
        "steps": [
            {"id": "hello", "type": "say", "text": "Hi", "next": "end"},
            {"id": "end", "type": "handoff"},
        ],
    }
)


# -- hostile values -----------------------------------------------------------------


def _deep_dict(depth: int) -> object:
    data: object = 1
    for _ in range(depth):
        data = {"a": data}
    return data


def _deep_list(depth: int) -> object:
    data: object = []
    for _ in range(depth):
        data = [data]
    return data


class _Opaque:
    """An object of no type any method expects."""

    def __repr__(self) -> str:
        return "<opaque>"


class _BadStr:
    """An object whose ``str`` and ``repr`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


BAD_STRINGS = (
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00inside",
    "\r\nBcc: victim@example.com",
    "\u202egpj.exe",
    "\x1b[31m",
    "x" * 20_000,
    "9" * 400,
    "../../etc/passwd",
    "conv_" + "0" * 32,
    "ct_" + "f" * 32,
    "!!!not-a-cursor",
    "AAAA",
    "eyJ4IjoxfQ",  # base64 of a JSON object: a cursor chatkit never made
    "{{ x }}{% for %}",
    "%s%n",
    "NaN",
    "-1",
)

HOSTILE: st.SearchStrategy[object] = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            2**31,
            2**63,
            -(2**63) - 1,
            10**30,
            -(10**30),
            10**5000,
            math.nan,
            math.inf,
            -math.inf,
            1.5,
            -0.0,
            1e308,
            b"\xff\xfe",
            bytearray(b"x"),
            [],
            [[]] * 3,
            [None],
            [1, 2],
            ["\ud800"],
            ("a", "b", "c"),
            {},
            {"k": 10**5000},
            {"k": math.nan},
            {1: 2},
            {"\ud800": 1},
            {"a": {"b": [1, {"c": None}]}},
            {1, 2},
            _deep_dict(200),
            _deep_list(200),
            _Opaque(),
            print,
            datetime(2024, 1, 1),  # naive
            datetime.max.replace(tzinfo=UTC),
            datetime.min.replace(tzinfo=UTC),
            date(2024, 1, 1),
            timedelta(days=-1),
            timedelta.max,
            timedelta(0),
            Author.system(),
            Path("/"),
        ]
    ),
    st.sampled_from(BAD_STRINGS),
    # Built on each draw, not sampled: too deep for Python's repr, which hypothesis may call.
    st.builds(_deep_dict, st.just(5000)),
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


# -- the kit and its records --------------------------------------------------------


@dataclass
class World:
    """A kit and one record of each kind, made fresh for each method."""

    kit: AsyncChatKit
    runner: asyncio.Runner
    tmp: Path
    ids: dict[str, list[object]] = field(default_factory=dict)

    def run(self, call: Callable[[], Any]) -> Any:
        return self.runner.run(_awaited(call))


async def _awaited(call: Callable[[], Any]) -> Any:
    result = call()
    if inspect.isawaitable(result):
        return await result
    return result


async def _records(kit: AsyncChatKit, tmp: Path) -> dict[str, list[object]]:
    """One of each record, and valid values for each parameter name."""
    n = secrets.token_hex(6)  # names no earlier world (or import) can have taken
    email = f"ana{n}@example.com"
    contact = await kit.contacts.create(name="Ana", identities=[("email", email)])
    other = await kit.contacts.create(name="Bea")
    agent = await kit.agents.create(name="Bo", email=f"bo{n}@example.com", max_concurrent_chats=5)
    inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="hello there")
    conversation = await kit.conversations.create(contact_id=contact.id, subject="Order")
    message = await kit.messages.send(conversation.id, "hi", author=Author.agent(agent.id))
    ticket = await kit.tickets.create(subject="Late", conversation_id=conversation.id)
    team = await kit.teams.create(f"sales-{n}", categories=["orders"])
    attachment = await kit.attachments.upload(
        conversation.id, b"plain text", name="a.txt", author=Author.agent(agent.id)
    )
    reply = await kit.canned.create(f"/thanks-{n}", "Thanks", "Thank you {{ contact.name }}")
    article = await kit.kb.create("Returns", "How to return a parcel", published=True)
    hold = await kit.retention.hold(reason="audit", conversation_id=conversation.id)
    blocks = await kit.abuse.block(ip="203.0.113.9", note="spam")
    events = (await kit.events.list(limit=5)).items
    await kit.conversations.resolve(inbound.conversation.id)
    survey = await kit.surveys.send(inbound.conversation.id)
    export = tmp / "export.jsonl"
    await kit.exports.write_jsonl(export, conversation_ids=[conversation.id])
    now = datetime.now(UTC)
    hours = BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"})
    return {
        "conversation": [conversation.id, inbound.conversation.id],
        "contact": [contact.id, other.id],
        "agent": [agent.id],
        "ticket": [ticket.id],
        "message": [message.id],
        "attachment": [attachment.id],
        "team": [team.name],
        "reply": [reply.id],
        "shortcut": [reply.shortcut],
        "article": [article.id],
        "hold": [hold.id],
        "block": [b.id for b in blocks],
        "survey": [survey.id],
        "integration": ["hubspot"],
        "text": ["hello", "Where is my parcel?"],
        "identity": [("email", email), ("phone", "+905551112233")],
        "author": [Author.agent(agent.id), Author.system(), Author.bot()],
        "channel": ["web", "email", "sms"],
        "time": [now, now - timedelta(days=400), now + timedelta(days=1)],
        "limit": [1, 10],
        "int": [0, 1, 10],
        "float": [0.5, 1.0],
        "bool": [True, False],
        "language": ["en", "pt-BR"],
        "names": [["a", "b"], ()],
        "events": [events],
        "event": events[:1],
        "messages": [message],
        "flow": [FLOW, "greet", "nope"],
        "hours": [hours, None],
        "policy": [RetentionPolicy()],
        "smtp": [SMTPSettings(host="127.0.0.1", port=1, sender="s@example.com", timeout=2)],
        "path": [tmp / "out.html", str(tmp / "out.jsonl")],
        "source": [export, b"bytes to upload"],
        "mapping": [{"a": 1}, {}],
        "form": [SurveyForm.stars(), None],
        "status": ["open", "resolved", "pending"],
        "priority": ["low", "high", "urgent"],
        "kind": ["text", "worst", "best", "ip", "spam"],
        "every": [timedelta(days=1)],
        "progress": [lambda *_: None],
        "strategy": ["least_busy"],
        "phone": ["+905551112233"],
        "email": [email, "example.com"],
        "ip": ["198.51.100.1"],
        "group": ["g1"],
    }


# parameter name -> key of the valid values above
VALID_BY_NAME: dict[str, str] = {
    "conversation_id": "conversation",
    "conversation_ids": "conversation",
    "contact_id": "contact",
    "other_id": "contact",
    "agent_id": "agent",
    "by_agent": "agent",
    "to_agent": "agent",
    "owner_id": "agent",
    "author_id": "agent",
    "reviewer_id": "agent",
    "assignee_id": "agent",
    "ticket_id": "ticket",
    "message_id": "message",
    "attachment_id": "attachment",
    "team": "team",
    "to_team": "team",
    "name": "team",
    "reply_id": "reply",
    "shortcut_or_id": "shortcut",
    "shortcut": "shortcut",
    "article_id": "article",
    "hold_id": "hold",
    "block_id": "block",
    "survey_id": "survey",
    "incident_id": "block",
    "integration": "integration",
    "local_id": "contact",
    "text": "text",
    "draft": "text",
    "body": "text",
    "title": "text",
    "subject": "text",
    "note": "text",
    "reason": "text",
    "comment": "text",
    "query": "text",
    "topic": "text",
    "description": "text",
    "category": "kind",
    "identity": "identity",
    "sender": "identity",
    "author": "author",
    "reported_by": "author",
    "blocked_by": "author",
    "channel": "channel",
    "now": "time",
    "at": "time",
    "since": "time",
    "until": "time",
    "due_at": "time",
    "snoozed_until": "time",
    "window_start": "time",
    "window_end": "time",
    "occurred_at": "time",
    "limit": "limit",
    "batch_size": "limit",
    "top": "limit",
    "min_count": "limit",
    "page_size": "limit",
    "max_lag": "limit",
    "max_concurrent_chats": "limit",
    "max_attempts": "limit",
    "call_retries": "limit",
    "position": "int",
    "after": "int",
    "threshold": "float",
    "mood": "float",
    "lease_seconds": "float",
    "retry_delay": "float",
    "max_retry_delay": "float",
    "max_wait": "float",
    "park_seconds": "float",
    "claim_seconds": "float",
    "include_notes": "bool",
    "dry_run": "bool",
    "published": "bool",
    "published_only": "bool",
    "attachments": "bool",
    "share_typing": "bool",
    "blocked": "bool",
    "new_conversation": "bool",
    "language": "language",
    "tags": "names",
    "skills": "names",
    "languages": "names",
    "teams": "names",
    "categories": "names",
    "intents": "names",
    "topics": "names",
    "types": "names",
    "groups": "names",
    "agent_ids": "agent",
    "local_ids": "contact",
    "message_ids": "message",
    "events": "events",
    "event": "event",
    "message": "messages",
    "flow": "flow",
    "hours": "hours",
    "shift": "hours",
    "policy": "policy",
    "smtp": "smtp",
    "path": "path",
    "target": "path",
    "source": "source",
    "attributes": "mapping",
    "metadata": "mapping",
    "context": "mapping",
    "answers": "mapping",
    "form": "form",
    "status": "status",
    "priority": "priority",
    "kind": "kind",
    "every": "every",
    "progress": "progress",
    "strategy": "strategy",
    "phone": "phone",
    "email": "email",
    "to": "email",
    "email_domain": "email",
    "ip": "ip",
    "group": "group",
    "consumer": "group",
    "identities": "identity",
    "idempotency_key": "group",
    "time_zone": "language",
    "format": "kind",
    "presence": "status",
}

LISTS = {
    "conversation_ids",
    "agent_ids",
    "local_ids",
    "message_ids",
    "identities",
    "attachments_list",
}

OMIT = object()


def _valid(name: str, world: World) -> list[object]:
    key = VALID_BY_NAME.get(name)
    values = list(world.ids.get(key, [])) if key else []
    if name in LISTS:
        values = [values[:1], values]
    if name == "time_zone":
        values = ["UTC", "Europe/Istanbul"]
    if name == "format":
        values = ["text", "html", "json"]
    if name == "presence":
        values = ["available", "away"]
    return values


ID_KINDS = ("conversation", "contact", "agent", "ticket", "message", "attachment", "reply")
ID_KINDS += ("article", "hold", "block", "survey")


def _strategy(
    param: inspect.Parameter, world: World, *, hostile: bool = True
) -> st.SearchStrategy[object]:
    """Values for ``param``: hostile ones (unless not ``hostile``), valid ones, or none."""
    valid = _valid(param.name, world)
    options: list[st.SearchStrategy[object]] = []
    if hostile or not valid:
        wrong_ids = [i for kind in ID_KINDS for i in world.ids.get(kind, [])]
        options += [HOSTILE, st.sampled_from(wrong_ids)]  # ids of any kind
    if valid:
        options.append(st.sampled_from(valid))
    if param.default is not inspect.Parameter.empty:
        options.append(st.just(OMIT))
    return st.one_of(*options)


# -- which methods ----------------------------------------------------------------


def _public(owner: object) -> Iterator[tuple[str, Any]]:
    for name in sorted(dir(type(owner))):
        if name.startswith("_"):
            continue
        if isinstance(inspect.getattr_static(type(owner), name), property):
            continue
        value = getattr(owner, name)
        if callable(value) and not inspect.isclass(value):
            yield name, value


def _methods(kit: AsyncChatKit) -> dict[str, Any]:
    found: dict[str, Any] = {f"kit.{n}": m for n, m in _public(kit)}
    for resource in RESOURCES:
        for name, method in _public(getattr(kit, resource)):
            found[f"{resource}.{name}"] = method
    return found


def _names() -> list[str]:
    kit = AsyncChatKit("memory://")
    return sorted(name for name in _methods(kit) if name not in EXCLUDED)


DRIVEN = _names()


def test_every_resource_is_listed() -> None:
    kit = AsyncChatKit("memory://")
    resources = {
        name
        for name, value in vars(kit).items()
        if not name.startswith("_") and name != "url" and value is not None
    }
    assert resources == set(RESOURCES)


def test_every_public_method_is_driven() -> None:
    kit = AsyncChatKit("memory://")
    found = set(_methods(kit))
    assert set(EXCLUDED) <= found, sorted(set(EXCLUDED) - found)  # no stale exclusions
    assert found == set(DRIVEN) | set(EXCLUDED)
    assert all(reason for reason in EXCLUDED.values())
    assert len(DRIVEN) > 140


# -- the driver -------------------------------------------------------------------


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def kit_and_runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AsyncChatKit, asyncio.Runner, Path]]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp / 'support.db'}"
    settings_ = ChatKitSettings(event_poll_interval=0.05)
    with asyncio.Runner() as runner:
        kit = AsyncChatKit(url, settings=settings_)
        runner.run(kit.open())
        try:
            yield kit, runner, tmp
        finally:
            runner.run(kit.close())


@pytest.fixture
def world(kit_and_runner: tuple[AsyncChatKit, asyncio.Runner, Path], tmp_path: Path) -> World:
    kit, runner, _ = kit_and_runner
    world = World(kit=kit, runner=runner, tmp=tmp_path)
    world.ids = runner.run(_records(kit, tmp_path))
    return world


async def _drive(method: Any, args: list[object], kwargs: dict[str, object]) -> None:
    with anyio.fail_after(SECONDS):
        result = method(*args, **kwargs)
        if inspect.isasyncgen(result):
            async for _ in result:
                pass
        elif inspect.isawaitable(result):
            await result


def _call(world: World, method: Any, args: list[object], kwargs: dict[str, object]) -> None:
    started = time.perf_counter()
    message = ""
    try:
        world.runner.run(_drive(method, args, kwargs))
    except ChatKitError as exc:  # anything else escapes and fails the test
        message = str(exc)
    took = time.perf_counter() - started
    assert took < SECONDS, f"took {took:.1f}s"
    assert len(message) <= MESSAGE_LENGTH, message[:200]
    assert INSTALL_PATH not in message, message[:200]
    assert "site-packages" not in message, message[:200]


HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("name", DRIVEN)
@HYPOTHESIS
@given(data=st.data())
def test_hostile_arguments(world: World, name: str, data: st.DataObject) -> None:
    owner_name, method_name = name.split(".")
    owner = world.kit if owner_name == "kit" else getattr(world.kit, owner_name)
    method = getattr(owner, method_name)
    parameters = inspect.signature(method).parameters.values()
    starred = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    # Either every argument may be hostile, or one only (the others valid or
    # left out), so that checks behind the first argument are reached too.
    names = [p.name for p in parameters]
    target = data.draw(st.sampled_from([None, *names]), label="only hostile") if names else None
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for param in parameters:
        strategy = _strategy(param, world, hostile=target in (None, param.name))
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            args += data.draw(st.lists(strategy, max_size=3), label=param.name)
            continue
        if param.name in BOUNDED.get(name, {}):
            kwargs[param.name] = BOUNDED[name][param.name]
            continue
        value = data.draw(strategy, label=param.name)
        if starred and param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(value)  # before *args, so never omitted
        elif value is not OMIT:
            kwargs[param.name] = value
    _call(world, method, args, kwargs)


# -- loaders and settings -----------------------------------------------------------

DOCUMENT_KEYS = (
    "name",
    "on",
    "if",
    "then",
    "actions",
    "rules",
    "type",
    "url",
    "payload",
    "steps",
    "id",
    "text",
    "next",
    "start",
    "questions",
    "kind",
    "title",
    "field",
    "validate",
    "priority",
    "comment_max_length",
)

DOCUMENTS: st.SearchStrategy[object] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
        st.sampled_from(["\ud800", "x" * 20_000, "{{ x }}{% for %}"]),
        st.builds(pow, st.just(10), st.sampled_from([30, 5000])),  # built: its repr fails
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(DOCUMENT_KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=15,
)


def _text(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return "{}"


TEXTS: st.SearchStrategy[object] = st.one_of(
    DOCUMENTS.map(_text),
    DOCUMENTS.map(lambda value: _text(value).encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            "a: &a [*a]\n",
            "!!python/object/apply:os.system ['true']\n",
            "{a: 1, a: 2}\n",
            "---\na: 1\n---\nb: 2\n",
            "\tname: x\n",
            b"\xff\xfe",
            "[" * 5000,
            "{" * 5000,
            "- " * 5000 + "x",
            "name: " + "x" * 20_000,
        ]
    ),
    HOSTILE,
)

PATHS = (
    "missing.json",
    "a\x00.yaml",
    "\udfff.json",
    "/",
    ".",
    "x" * 5000 + ".json",
    Path("rules.txt"),
    b"rules.json",
    Path(__file__),
)

DOCUMENTED: dict[str, tuple[type[BaseException], ...]] = {
    "RuleSet.load": (OSError,),  # documented: the file cannot be read (missing, too long ...)
    "Flow.load": (OSError,),
}
"""Errors a loader documents besides `ChatKitError`s."""

LOADERS: dict[str, tuple[Callable[[Any], object], st.SearchStrategy[object]]] = {
    "RuleSet.from_list": (RuleSet.from_list, st.one_of(st.lists(DOCUMENTS, max_size=3), HOSTILE)),
    "RuleSet.from_data": (RuleSet.from_data, st.one_of(DOCUMENTS, HOSTILE)),
    "RuleSet.from_json": (RuleSet.from_json, TEXTS),
    "RuleSet.from_yaml": (RuleSet.from_yaml, TEXTS),
    "Flow.from_dict": (Flow.from_dict, st.one_of(DOCUMENTS, HOSTILE)),
    "Flow.from_json": (Flow.from_json, TEXTS),
    "Flow.from_yaml": (Flow.from_yaml, TEXTS),
    "SurveyForm.from_data": (SurveyForm.from_data, st.one_of(DOCUMENTS, HOSTILE)),
    "SurveyForm.from_json": (SurveyForm.from_json, TEXTS),
    "SurveyForm.from_yaml": (SurveyForm.from_yaml, TEXTS),
    "RuleSet.load": (RuleSet.load, st.one_of(st.sampled_from(PATHS), HOSTILE)),
    "Flow.load": (Flow.load, st.one_of(st.sampled_from(PATHS), HOSTILE)),
    "ChatKitSettings.model_validate": (
        ChatKitSettings.model_validate,
        st.one_of(
            st.dictionaries(
                st.sampled_from(sorted(ChatKitSettings.model_fields)),
                st.one_of(DOCUMENTS, HOSTILE),
                max_size=3,
            ),
            HOSTILE,
        ),
    ),
    "ChatKitSettings": (
        lambda fields: ChatKitSettings(**fields),
        st.dictionaries(
            st.sampled_from(sorted(ChatKitSettings.model_fields)),
            st.one_of(DOCUMENTS, HOSTILE),
            min_size=1,
            max_size=3,
        ),
    ),
}


def _loaded_quickly(
    load: Callable[[Any], object], value: object, documented: tuple[type[BaseException], ...]
) -> None:
    started = time.perf_counter()
    message = ""
    try:
        load(value)
    except ChatKitError as exc:  # anything else escapes and fails the test
        message = str(exc)
    except documented:
        pass
    took = time.perf_counter() - started
    assert took < SECONDS, f"took {took:.1f}s"
    assert len(message) <= MESSAGE_LENGTH, message[:200]
    assert INSTALL_PATH not in message, message[:200]


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(HYPOTHESIS, max_examples=100)
@given(data=st.data())
def test_hostile_documents(name: str, data: st.DataObject) -> None:
    load, values = LOADERS[name]
    _loaded_quickly(load, data.draw(values, label="value"), DOCUMENTED.get(name, ()))
