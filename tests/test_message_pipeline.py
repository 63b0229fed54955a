"""The message pipeline: one ordered seam for what a message sets off, and no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitSettings,
    ContactBlockedError,
    InvalidInputError,
)
from chatkit.events import ContactUpdated, MessageCreated
from chatkit.models import Contact
from chatkit.services._core import bump
from chatkit.services.pipeline import Arrival, MessageDraft, MessagePipeline, Screening
from chatkit.stores.base import Update

SERVICES = Path(__file__).resolve().parent.parent / "chatkit" / "services"

# -- the import graph ------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVICES.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it runs: at the top or inside functions.

    Imports under ``if TYPE_CHECKING:`` are left out (they never run).
    """
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_of(path.read_text(encoding="utf-8"), package)


def _imports_of(source: str, package: str) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # ``from . import x`` / ``from .pkg import mod`` import modules too
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SERVICES.rglob("*.py")}
    return {name: _imports(path) & files.keys() for name, path in files.items()}


def test_messages_imports_none_of_what_a_message_sets_off() -> None:
    imported = _imports(SERVICES / "messages.py")
    features = {
        f"chatkit.services.{name}"
        for name in (
            "abuse",
            "autoreplies",
            "bots",
            "routing",
            "understanding",
            "workload",
            "ticket_clocks",
        )
    }
    assert not {m for m in imported if m in features or m.startswith("chatkit.services.routing.")}
    # and the graph walk sees imports at all (a broken parser would pass the line above)
    assert {"chatkit.services.pipeline", "chatkit.services.contacts"} <= imported


def test_no_import_cycles_among_services() -> None:
    graph = _graph()
    # the package __init__ re-exports everything: a module importing its own
    # package's __init__ is how relative imports start, not a dependency
    graph.pop("chatkit.services", None)
    for edges in graph.values():
        edges.discard("chatkit.services")
    assert graph["chatkit.services.messages"], "the parser found no imports"
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert cycles == []


def test_the_import_walk_sees_deferred_imports_and_skips_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .hidden import X\n"
        "def f():\n    from .bots import Bots\n"
        "from .. import errors\n"
    )
    found = _imports_of(source, "chatkit.services")
    assert {"chatkit.services.bots", "chatkit.errors"} <= found
    assert "chatkit.services.hidden" not in found


# -- the pipeline a kit starts with ------------------------------------------


pytestmark = pytest.mark.anyio


def test_every_kit_starts_with_the_features_in_order() -> None:
    pipeline = MessagePipeline.standard()
    assert pipeline.names("screen") == ["abuse"]
    assert pipeline.names("step") == ["understanding", "workload", "clocks"]
    assert pipeline.names("reaction") == ["bots", "auto_replies"]


def test_bad_registrations_are_refused() -> None:
    pipeline = MessagePipeline.standard()

    async def noop(draft: MessageDraft) -> None:
        return None

    with pytest.raises(InvalidInputError, match="already registered"):
        pipeline.add_step("workload", noop)
    with pytest.raises(InvalidInputError, match="stage name"):
        pipeline.add_step("Bad Name", noop)
    with pytest.raises(InvalidInputError, match="order"):
        pipeline.add_step("fine", noop, order="1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no reaction"):
        pipeline.remove("reaction", "nothing")
    assert pipeline.names("step") == ["understanding", "workload", "clocks"]


async def _customer(kit: AsyncChatKit) -> tuple[Contact, str]:
    contact = await kit.contacts.create(name="Ada")
    conversation = await kit.conversations.create(contact_id=contact.id)
    return contact, conversation.id


async def test_a_step_writes_in_the_message_commit(kit: AsyncChatKit) -> None:
    contact, conv_id = await _customer(kit)

    async def count(draft: MessageDraft) -> None:
        if draft.message.author.role.value != "customer":
            return
        store = await draft.core.ready()
        current = await store.get(Contact, draft.before.contact_id)
        assert current is not None
        seen = int(str(current.attributes.get("messages", 0))) + 1
        counted = bump(current, attributes={**current.attributes, "messages": seen})
        draft.ops.append(Update(counted))
        draft.trailing.append(
            ContactUpdated(contact_id=counted.id, contact=counted, changed=["attributes"])
        )

    kit.messages.pipeline.add_step("count", count)
    assert kit.messages.pipeline.names("step")[-1] == "count"
    before = await kit.store.last_position()
    await kit.messages.send(conv_id, "one", author=Author.customer(contact.id))
    await kit.messages.send(conv_id, "two", author=Author.customer(contact.id))
    assert (await kit.contacts.get(contact.id)).attributes["messages"] == 2
    events = (await kit.events.list(after=before)).items
    kinds = [type(e) for e in events]
    assert kinds == [MessageCreated, ContactUpdated, MessageCreated, ContactUpdated]
    # one commit per message: the step's event sits right after its message's
    assert events[1].position == events[0].position + 1


async def test_a_failing_step_writes_nothing(kit: AsyncChatKit) -> None:
    contact, conv_id = await _customer(kit)

    async def refuse(draft: MessageDraft) -> None:
        raise InvalidInputError("not today", field="text")

    kit.messages.pipeline.add_step("refuse", refuse, order=250)
    before = await kit.store.last_position()
    with pytest.raises(InvalidInputError, match="not today"):
        await kit.messages.send(conv_id, "hello", author=Author.customer(contact.id))
    assert await kit.store.last_position() == before
    assert (await kit.conversations.get(conv_id)).last_seq == 0


async def test_screens_refuse_before_anything_is_written(kit: AsyncChatKit) -> None:
    seen: list[Screening] = []

    async def refuse_sms(screening: Screening) -> None:
        seen.append(screening)
        if screening.channel == "sms":
            raise ContactBlockedError(block_id="blk_sms", kind="channel")

    kit.messages.pipeline.add_screen("no-sms", refuse_sms)
    before = await kit.store.last_position()
    with pytest.raises(ContactBlockedError):
        await kit.messages.receive(channel="sms", sender="+90 555 010 0000", text="hi")
    assert await kit.store.last_position() == before
    assert seen[0].identity is not None
    assert seen[0].contact_id is None
    inbound = await kit.messages.receive(channel="web", sender="v-1", text="hi", ip="192.0.2.1")
    # receive screens once (with what the widget saw); its own send does not screen again
    assert [(s.channel, s.ip) for s in seen[1:]] == [("web", "192.0.2.1")]
    assert inbound.message.text == "hi"


async def test_reactions_run_in_order_and_one_can_take_the_message(tmp_path: Path) -> None:
    async with AsyncChatKit(
        f"sqlite:///{tmp_path / 'kit.db'}", settings=ChatKitSettings(acknowledgement="Hello!")
    ) as kit:
        first = await kit.messages.receive(channel="web", sender="v-1", text="hi")
        assert first.acknowledgement is not None
        assert first.acknowledgement.text == "Hello!"

        seen: list[tuple[str, bool, str | None]] = []

        async def take(arrival: Arrival) -> None:
            arrival.taken = True

        async def watch(arrival: Arrival) -> None:
            ack = arrival.acknowledgement
            seen.append((arrival.message.text, arrival.new_conversation, ack and ack.text))

        kit.messages.pipeline.add_reaction("watch", watch)
        second = await kit.messages.receive(channel="web", sender="v-2", text="hey")
        assert seen == [("hey", True, "Hello!")]
        assert second.acknowledgement is not None

        kit.messages.pipeline.add_reaction("take", take, order=150)  # between bots and replies
        third = await kit.messages.receive(channel="web", sender="v-3", text="yo")
        assert third.acknowledgement is None
        assert [m.text for m in (await kit.messages.list(third.conversation.id)).items] == ["yo"]
        assert seen[-1] == ("yo", True, None)


async def test_each_kit_has_its_own_pipeline(tmp_path: Path) -> None:
    async def noop(draft: MessageDraft) -> None:
        return None

    async with (
        AsyncChatKit("memory://") as one,
        AsyncChatKit(f"sqlite:///{tmp_path / 'two.db'}") as two,
    ):
        one.messages.pipeline.add_step("noop", noop)
        assert "noop" in one.messages.pipeline.names("step")
        assert "noop" not in two.messages.pipeline.names("step")
        assert "noop" not in MessagePipeline.standard().names("step")
        one.messages.pipeline.remove("reaction", "bots")
        assert two.messages.pipeline.names("reaction") == ["bots", "auto_replies"]
