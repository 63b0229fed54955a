"""The public contract suite for `chatkit.stores.Store` implementations.

Every built-in store passes it unchanged, and so must a third-party one:

```python
import pytest
from chatkit.testing import StoreContract
from mypackage import MyStore


class TestMyStore(StoreContract):
    persistent = True  # data survives close() and a new store on the same location

    def make_store(self, location):
        # ``location`` is a fresh temporary directory (a pathlib.Path) per test;
        # two calls with the same location must reach the same data.
        return MyStore.from_url(f"mystore:///{location}/db")
```

Requires pytest and anyio's pytest plugin (installed with anyio).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ..errors import ConflictError, DuplicateKeyError
from ..events import ContactCreated, MessageCreated
from ..models import (
    Agent,
    AgentStatus,
    Article,
    Author,
    Contact,
    Conversation,
    Message,
    Priority,
    Ticket,
)
from ..models._base import new_id
from ..models.agents import routing_list
from ..stores.base import Delete, DeleteEvents, Gt, In, Insert, Lt, SetCursor, Store, Update

__all__ = ["StoreContract"]


def _contact(**fields: Any) -> Contact:
    return Contact(id=new_id("ct"), **fields)


def _conversation(contact: Contact, **fields: Any) -> Conversation:
    return Conversation(id=new_id("conv"), contact_id=contact.id, **fields)


def _message(conversation: Conversation, seq: int, **fields: Any) -> Message:
    fields.setdefault("author", Author.customer(conversation.contact_id))
    fields.setdefault("text", f"message {seq}")
    return Message(id=new_id("msg"), conversation_id=conversation.id, seq=seq, **fields)


class StoreContract:
    """Base class of a store's contract tests. Subclass it and define `make_store`.

    Attributes:
        persistent: Set to ``True`` when a store made again on the same
            location sees the data of the first (enables durability tests).
    """

    persistent = False
    pytestmark = pytest.mark.anyio

    def make_store(self, location: Path) -> Store:
        """Return a new, unopened store keeping its data under ``location``."""
        raise NotImplementedError("subclasses of StoreContract define make_store()")

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def location(self, tmp_path: Path) -> Path:
        return tmp_path

    @pytest.fixture
    async def store(self, location: Path) -> AsyncIterator[Store]:
        store = self.make_store(location)
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    async def _seed(self, store: Store) -> tuple[Contact, Conversation]:
        contact = _contact(name="Ada")
        conversation = _conversation(contact)
        await store.commit([Insert(contact), Insert(conversation)])
        return contact, conversation

    # -- records ---------------------------------------------------------------

    async def test_get_missing_returns_none(self, store: Store) -> None:
        assert await store.get(Contact, "ct_missing") is None

    async def test_insert_then_get_round_trips(self, store: Store) -> None:
        contact = _contact(name="Zoë 🚀", attributes={"plan": "pro", "seats": 3, "vip": True})
        await store.commit([Insert(contact)])
        assert await store.get(Contact, contact.id) == contact

    async def test_insert_of_existing_id_conflicts_and_writes_nothing(self, store: Store) -> None:
        contact = _contact()
        await store.commit([Insert(contact)])
        other = _contact()
        with pytest.raises(ConflictError):
            await store.commit([Insert(other), Insert(contact.model_copy(update={"name": "X"}))])
        assert await store.get(Contact, other.id) is None
        assert await store.get(Contact, contact.id) == contact

    async def test_update_applies_the_next_version_only(self, store: Store) -> None:
        contact = _contact(name="v1")
        await store.commit([Insert(contact)])
        v2 = contact.model_copy(update={"name": "v2", "version": 2})
        await store.commit([Update(v2)])
        assert await store.get(Contact, contact.id) == v2
        stale = contact.model_copy(update={"name": "stale", "version": 2})
        with pytest.raises(ConflictError):
            await store.commit([Update(stale)])
        assert await store.get(Contact, contact.id) == v2

    async def test_update_of_missing_record_conflicts(self, store: Store) -> None:
        ghost = _contact(version=2)
        with pytest.raises(ConflictError):
            await store.commit([Update(ghost)])
        assert await store.get(Contact, ghost.id) is None

    async def test_concurrent_updates_of_one_version_let_exactly_one_win(
        self, store: Store
    ) -> None:
        contact = _contact(name="start")
        await store.commit([Insert(contact)])
        attempts = [
            store.commit([Update(contact.model_copy(update={"name": f"w{i}", "version": 2}))])
            for i in range(10)
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
        stored = await store.get(Contact, contact.id)
        assert stored is not None
        assert stored.version == 2

    async def test_a_stale_update_is_reported_before_a_later_unique_clash(
        self, store: Store
    ) -> None:
        _, conversation = await self._seed(store)
        first = _message(conversation, 1)
        bumped = conversation.model_copy(update={"last_seq": 1, "version": 2})
        await store.commit([Update(bumped), Insert(first)])
        # A writer that read version 1 builds message 1 again: the stale
        # version, not the duplicate seq, is what it must be told about.
        with pytest.raises(ConflictError) as caught:
            await store.commit([Update(bumped), Insert(_message(conversation, 1))])
        assert not isinstance(caught.value, DuplicateKeyError)
        assert len(await store.find(Message, {"conversation_id": conversation.id})) == 1

    async def test_delete_removes_and_is_idempotent(self, store: Store) -> None:
        contact = _contact()
        await store.commit([Insert(contact)])
        await store.commit([Delete(Contact, contact.id)])
        assert await store.get(Contact, contact.id) is None
        await store.commit([Delete(Contact, contact.id)])

    async def test_returned_records_do_not_alias_stored_state(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        got = await store.get(Conversation, conversation.id)
        assert got is not None
        # A store may hand out shared records whose lists are read-only (a cache).
        with contextlib.suppress(TypeError):
            got.tags.append("mutated")
        again = await store.get(Conversation, conversation.id)
        assert again is not None
        assert again.tags == []

    # -- unique keys -----------------------------------------------------------

    async def test_unique_key_is_enforced(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        await store.commit([Insert(_message(conversation, 1))])
        duplicate = _message(conversation, 1)
        with pytest.raises(DuplicateKeyError) as caught:
            await store.commit([Insert(duplicate)])
        assert caught.value.table == "messages"
        assert set(caught.value.columns) == {"conversation_id", "seq"}
        assert await store.get(Message, duplicate.id) is None

    async def test_unique_key_is_enforced_within_one_commit(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        first, second = _message(conversation, 1), _message(conversation, 1)
        with pytest.raises(DuplicateKeyError):
            await store.commit([Insert(first), Insert(second)])
        assert await store.get(Message, first.id) is None

    async def test_null_never_clashes_in_a_unique_key(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        await store.commit([Insert(_message(conversation, n)) for n in (1, 2, 3)])
        keyed = [_message(conversation, 4, idempotency_key="k")]
        await store.commit([Insert(m) for m in keyed])
        with pytest.raises(DuplicateKeyError):
            await store.commit([Insert(_message(conversation, 5, idempotency_key="k"))])

    async def test_same_key_in_another_scope_is_fine(self, store: Store) -> None:
        contact, first = await self._seed(store)
        second = _conversation(contact)
        await store.commit([Insert(second)])
        await store.commit(
            [
                Insert(_message(first, 1, idempotency_key="k")),
                Insert(_message(second, 1, idempotency_key="k")),
            ]
        )
        assert len(await store.find(Message, {"idempotency_key": "k"})) == 2

    async def test_unique_value_freed_by_an_update_can_be_reused(self, store: Store) -> None:
        agent = Agent(id=new_id("ag"), name="A", email="a@example.com")
        await store.commit([Insert(agent)])
        moved = agent.model_copy(update={"email": "b@example.com", "version": 2})
        newcomer = Agent(id=new_id("ag"), name="B", email="a@example.com")
        await store.commit([Update(moved), Insert(newcomer)])
        found = await store.find(Agent, {"email": "a@example.com"})
        assert [a.id for a in found] == [newcomer.id]

    # -- queries ---------------------------------------------------------------

    async def test_find_filters_orders_and_limits(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        await store.commit([Insert(_message(conversation, n)) for n in range(1, 11)])
        where = {"conversation_id": conversation.id}
        newest = await store.find(Message, where, order_by="seq", descending=True, limit=3)
        assert [m.seq for m in newest] == [10, 9, 8]
        window = await store.find(
            Message, {**where, "seq": Lt(6)}, order_by="seq", descending=False
        )
        assert [m.seq for m in window] == [1, 2, 3, 4, 5]
        after = await store.find(Message, {**where, "seq": Gt(8)}, order_by="seq")
        assert [m.seq for m in after] == [9, 10]
        chosen = await store.find(Message, {**where, "seq": In([2, 4, 99])}, order_by="seq")
        assert [m.seq for m in chosen] == [2, 4]
        assert await store.find(Message, {**where, "seq": In([])}) == []

    async def test_find_none_means_is_null(self, store: Store) -> None:
        contact, conversation = await self._seed(store)
        agent = Agent(id=new_id("ag"), name="A")
        assigned = _conversation(contact, assignee_id=agent.id)
        await store.commit([Insert(agent), Insert(assigned)])
        unassigned = await store.find(Conversation, {"assignee_id": None})
        assert [c.id for c in unassigned] == [conversation.id]
        mine = await store.find(Conversation, {"assignee_id": agent.id})
        assert [c.id for c in mine] == [assigned.id]

    async def test_find_sorts_enum_and_text_columns(self, store: Store) -> None:
        contact, _ = await self._seed(store)
        tickets = [
            Ticket(id=new_id("tkt"), subject=p.value, contact_id=contact.id, priority=p)
            for p in (Priority.LOW, Priority.URGENT, Priority.NORMAL, Priority.HIGH)
        ]
        await store.commit([Insert(t) for t in tickets])
        ordered = await store.find(Ticket, {"status": "open"}, order_by="queue_key")
        assert [t.priority for t in ordered] == [
            Priority.URGENT,
            Priority.HIGH,
            Priority.NORMAL,
            Priority.LOW,
        ]
        reverse = await store.find(Ticket, order_by="queue_key", descending=True, limit=2)
        assert [t.priority for t in reverse] == [Priority.LOW, Priority.NORMAL]

    async def test_find_puts_nulls_last_in_both_directions(self, store: Store) -> None:
        contact, _ = await self._seed(store)
        agent = Agent(id=new_id("ag"), name="A")
        convs = [_conversation(contact, assignee_id=agent.id), _conversation(contact)]
        await store.commit([Insert(agent), *(Insert(c) for c in convs)])
        for descending in (False, True):
            found = await store.find(
                Conversation,
                {"contact_id": contact.id},
                order_by="assignee_id",
                descending=descending,
            )
            assert found[0].assignee_id == agent.id
            assert found[-1].assignee_id is None

    async def test_find_rejects_unknown_columns(self, store: Store) -> None:
        with pytest.raises(ValueError, match="no queryable column"):
            await store.find(Contact, {"name": "Ada"})
        with pytest.raises(ValueError, match="no queryable column"):
            await store.find(Contact, order_by="name")

    # -- outbox ----------------------------------------------------------------

    async def test_events_get_increasing_positions_in_commit_order(self, store: Store) -> None:
        assert await store.last_position() == 0
        contacts = [_contact(name=f"c{i}") for i in range(5)]
        positions = []
        for contact in contacts:
            positions += await store.commit(
                [Insert(contact)], [ContactCreated(contact_id=contact.id, contact=contact)]
            )
        assert positions == sorted(positions)
        assert len(set(positions)) == 5
        events = await store.read_events(0, 100)
        assert [e.position for e in events] == positions
        assert [e.contact_id for e in events] == [c.id for c in contacts]
        assert await store.last_position() == positions[-1]

    async def test_read_events_pages_after_a_position(self, store: Store) -> None:
        for _ in range(7):
            contact = _contact()
            await store.commit([Insert(contact)], [ContactCreated(contact=contact)])
        first = await store.read_events(0, 3)
        rest = await store.read_events(first[-1].position or 0, 100)
        assert len(first) == 3
        assert len(rest) == 4
        positions = [e.position or 0 for e in first + rest]
        assert positions == sorted(set(positions))
        assert await store.read_events(rest[-1].position or 0, 10) == []

    async def test_events_round_trip_with_their_payload(self, store: Store) -> None:
        _, conversation = await self._seed(store)
        message = _message(conversation, 1, text="héllo <b>")
        event = MessageCreated(conversation_id=conversation.id, message=message)
        [position] = await store.commit([Insert(message)], [event])
        [stored] = await store.read_events(position - 1, 1)
        assert stored == event.model_copy(update={"position": position})

    async def test_failed_commit_writes_no_event_and_no_record(self, store: Store) -> None:
        existing = _contact()
        await store.commit([Insert(existing)])
        before = await store.last_position()
        fresh = _contact()
        with pytest.raises(ConflictError):
            await store.commit(
                [Insert(fresh), Insert(existing), SetCursor("c", 99)],
                [ContactCreated(contact=fresh)],
            )
        assert await store.last_position() == before
        assert await store.get(Contact, fresh.id) is None
        assert await store.get_cursor("c") == 0

    async def test_concurrent_commits_all_land_with_unique_positions(self, store: Store) -> None:
        contacts = [_contact() for _ in range(40)]
        results = await asyncio.gather(
            *(store.commit([Insert(c)], [ContactCreated(contact=c)]) for c in contacts)
        )
        positions = [p for r in results for p in r]
        assert len(set(positions)) == 40
        events = await store.read_events(0, 100)
        assert sorted(e.contact.id for e in events if isinstance(e, ContactCreated)) == sorted(
            c.id for c in contacts
        )

    async def test_one_failing_commit_does_not_sink_concurrent_ones(self, store: Store) -> None:
        taken = _contact()
        await store.commit([Insert(taken)])
        good = [_contact() for _ in range(10)]
        jobs = [store.commit([Insert(c)]) for c in good] + [store.commit([Insert(taken)])]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert isinstance(results[-1], ConflictError)
        assert not any(isinstance(r, BaseException) for r in results[:-1])
        for contact in good:
            assert await store.get(Contact, contact.id) == contact

    async def test_delete_events_removes_one_conversations_events_only(self, store: Store) -> None:
        contact, first = await self._seed(store)
        second = _conversation(contact)
        await store.commit([Insert(second)])
        for conv in (first, second, first):
            message = _message(
                conv, len(await store.find(Message, {"conversation_id": conv.id})) + 1
            )
            await store.commit(
                [Insert(message)], [MessageCreated(conversation_id=conv.id, message=message)]
            )
        before = await store.read_events(0, 100)
        await store.commit([DeleteEvents(first.id)])
        after = await store.read_events(0, 100)
        assert [e.position for e in after] == [
            e.position for e in before if e.conversation_id != first.id
        ]
        [position] = await store.commit(
            [], [ContactCreated(contact_id=contact.id, contact=contact)]
        )
        assert position > max(e.position or 0 for e in before)

    # -- ordered lists and counts ----------------------------------------------

    @staticmethod
    def _agent(name: str, active: int, teams: list[str]) -> Agent:
        return Agent(
            id=new_id("agt"),
            name=name,
            teams=teams,
            max_concurrent_chats=4,
            active_chats=active,
            status=AgentStatus.AVAILABLE,
        )

    @staticmethod
    async def _listed(store: Store, team: str | None = None) -> list[str]:
        return [a.name for a in await store.find_listed(Agent, routing_list("load", team))]

    async def test_find_listed_reads_one_list_in_key_order(self, store: Store) -> None:
        busy = self._agent("busy", 3, ["sales"])
        free = self._agent("free", 0, ["sales", "billing"])
        half = self._agent("half", 2, ["billing"])
        await store.commit([Insert(busy), Insert(free), Insert(half)])
        names = await self._listed(store)
        assert names == ["free", "half", "busy"]
        assert await self._listed(store, "sales") == ["free", "busy"]
        assert await self._listed(store, "billing") == ["free", "half"]
        assert await self._listed(store, "nobody") == []
        first = await store.find_listed(Agent, routing_list("load"), limit=1)
        assert [a.name for a in first] == ["free"]
        key = dict(first[0].list_entries())[routing_list("load")]
        rest = await store.find_listed(Agent, routing_list("load"), after=key, limit=5)
        assert [a.name for a in rest] == ["half", "busy"]

    async def test_list_entries_follow_every_write(self, store: Store) -> None:
        ada = self._agent("ada", 1, ["sales"])
        bob = self._agent("bob", 2, ["sales"])
        await store.commit([Insert(ada), Insert(bob)])
        moved = ada.model_copy(update={"version": 2, "active_chats": 3, "teams": ["billing"]})
        await store.commit([Update(moved)])
        assert await self._listed(store, "sales") == ["bob"]
        assert await self._listed(store, "billing") == ["ada"]
        assert await self._listed(store) == ["bob", "ada"]
        away = bob.model_copy(update={"version": 2, "status": AgentStatus.AWAY})
        await store.commit([Update(away)])
        assert await self._listed(store) == ["ada"]
        await store.commit([Delete(Agent, ada.id)])
        assert await self._listed(store) == []

    async def test_a_failed_commit_leaves_the_lists_alone(self, store: Store) -> None:
        ada = self._agent("ada", 0, ["sales"])
        await store.commit([Insert(ada)])
        away = ada.model_copy(update={"version": 2, "status": AgentStatus.AWAY})
        stale = _contact().model_copy(update={"version": 2})  # no such contact: a conflict
        with pytest.raises(ConflictError):
            await store.commit([Update(away), Update(stale)])
        assert await self._listed(store, "sales") == ["ada"]

    async def test_count_matches_find(self, store: Store) -> None:
        contact, first = await self._seed(store)
        second = _conversation(contact, team="sales")
        await store.commit([Insert(second)])
        assert await store.count(Conversation) == 2
        assert await store.count(Conversation, {"contact_id": contact.id}) == 2
        assert await store.count(Conversation, {"team": "sales"}) == 1
        assert await store.count(Conversation, {"team": None}) == 1
        assert await store.count(Conversation, {"id": In([])}) == 0
        assert await store.count(Conversation, {"id": Gt(first.id)}) == len(
            await store.find(Conversation, {"id": Gt(first.id)})
        )

    # -- consumer cursors ------------------------------------------------------

    async def test_cursors_default_to_zero_and_upsert(self, store: Store) -> None:
        assert await store.get_cursor("crm") == 0
        await store.commit([SetCursor("crm", 5)])
        await store.commit([SetCursor("crm", 9), SetCursor("audit", 2)])
        assert await store.get_cursor("crm") == 9
        assert await store.get_cursor("audit") == 2

    # -- dispatch groups -------------------------------------------------------

    async def _publish(self, store: Store, count: int) -> list[int]:
        positions: list[int] = []
        for _ in range(count):
            contact = _contact()
            positions += await store.commit([Insert(contact)], [ContactCreated(contact=contact)])
        return positions

    async def test_leases_hand_out_disjoint_ranges_in_order(self, store: Store) -> None:
        positions = await self._publish(store, 7)
        _, a = await store.lease_events("g", "a", limit=3, lease_seconds=60)
        _, b = await store.lease_events("g", "b", limit=3, lease_seconds=60)
        _, c = await store.lease_events("g", "c", limit=3, lease_seconds=60)
        assert a is not None
        assert b is not None
        assert c is not None
        assert [e.position for e in a.events] == positions[:3]
        assert [e.position for e in b.events] == positions[3:6]
        assert [e.position for e in c.events] == positions[6:]
        assert (a.first, a.last, a.owner, a.attempts) == (positions[0], positions[2], "a", 1)
        assert a.expires_at > time.time() + 30
        assert await store.lease_events("g", "d", limit=3, lease_seconds=60) == (False, None)
        status = await store.dispatch_status("g")
        assert (status.claimed_upto, status.done_upto, status.in_flight, status.expired) == (
            positions[-1],
            positions[0] - 1,
            3,
            0,
        )

    async def test_finishing_moves_the_group_forward(self, store: Store) -> None:
        positions = await self._publish(store, 4)
        _, a = await store.lease_events("g", "a", limit=2, lease_seconds=60)
        _, b = await store.lease_events("g", "b", limit=2, lease_seconds=60)
        assert a is not None
        assert b is not None
        finished, nothing = await store.lease_events("g", "b", limit=2, lease_seconds=60, done=b)
        assert (finished, nothing) == (True, None)
        assert (await store.dispatch_status("g")).done_upto == positions[0] - 1
        more = await self._publish(store, 1)
        finished, nxt = await store.lease_events("g", "a", limit=2, lease_seconds=60, done=a)
        assert finished
        assert nxt is not None
        assert [e.position for e in nxt.events] == more
        status = await store.dispatch_status("g")
        assert (status.done_upto, status.in_flight) == (more[0] - 1, 1)

    async def test_groups_are_independent(self, store: Store) -> None:
        positions = await self._publish(store, 2)
        _, one = await store.lease_events("webhooks", "a", limit=10, lease_seconds=60)
        _, two = await store.lease_events("crm", "a", limit=10, lease_seconds=60)
        assert one is not None
        assert two is not None
        assert [e.position for e in one.events] == [e.position for e in two.events] == positions
        status = await store.dispatch_status("never-ran")
        assert (status.claimed_upto, status.done_upto, status.in_flight) == (0, 0, 0)

    async def test_a_new_group_can_start_after_a_position(self, store: Store) -> None:
        old = await self._publish(store, 3)
        new = await self._publish(store, 2)
        _, lease = await store.lease_events("g", "a", limit=10, lease_seconds=60, start=old[-1])
        assert lease is not None
        assert [e.position for e in lease.events] == new

    async def test_an_expired_lease_goes_to_the_next_dispatcher(self, store: Store) -> None:
        positions = await self._publish(store, 3)
        _, dead = await store.lease_events("g", "dead", limit=2, lease_seconds=0.05)
        assert dead is not None
        await asyncio.sleep(0.15)
        assert (await store.dispatch_status("g")).expired == 1
        _, taken = await store.lease_events("g", "alive", limit=2, lease_seconds=60)
        assert taken is not None
        assert (taken.first, taken.owner, taken.attempts) == (dead.first, "alive", 2)
        assert [e.position for e in taken.events] == positions[:2]
        # The first holder has lost it: it can neither finish, renew nor release it.
        finished, nxt = await store.lease_events("g", "dead", limit=2, lease_seconds=60, done=dead)
        assert not finished
        assert nxt is not None
        assert [e.position for e in nxt.events] == positions[2:]
        assert await store.renew_lease(dead, 60) is None
        assert not await store.release_lease(dead, 0)
        assert (await store.dispatch_status("g")).in_flight == 2

    async def test_renewing_keeps_a_lease(self, store: Store) -> None:
        await self._publish(store, 1)
        _, lease = await store.lease_events("g", "a", limit=5, lease_seconds=0.2)
        assert lease is not None
        renewed = await store.renew_lease(lease, 60)
        assert renewed is not None
        assert renewed.expires_at > lease.expires_at
        await asyncio.sleep(0.3)
        assert await store.lease_events("g", "b", limit=5, lease_seconds=60) == (False, None)
        finished, _ = await store.lease_events("g", "a", limit=5, lease_seconds=60, done=renewed)
        assert finished

    async def test_a_released_lease_is_retried_after_its_delay(self, store: Store) -> None:
        positions = await self._publish(store, 2)
        _, lease = await store.lease_events("g", "a", limit=5, lease_seconds=60)
        assert lease is not None
        assert await store.release_lease(lease, 60)
        assert await store.lease_events("g", "b", limit=5, lease_seconds=60) == (False, None)
        _, again = await store.lease_events("g", "c", limit=5, lease_seconds=60)
        assert again is None
        _, other = await store.lease_events("h", "a", limit=5, lease_seconds=60)
        assert other is not None
        assert await store.release_lease(other, 0)
        await asyncio.sleep(0.05)
        _, retried = await store.lease_events("h", "b", limit=5, lease_seconds=60)
        assert retried is not None
        assert retried.attempts == 2
        assert [e.position for e in retried.events] == positions

    async def test_purged_events_leave_their_lease_range(self, store: Store) -> None:
        contact, conversation = await self._seed(store)
        message = _message(conversation, 1)
        await store.commit(
            [Insert(message)], [MessageCreated(conversation_id=conversation.id, message=message)]
        )
        [kept] = await store.commit([], [ContactCreated(contact=contact)])
        _, lease = await store.lease_events("g", "a", limit=5, lease_seconds=0.05)
        assert lease is not None
        assert len(lease.events) == 2
        await store.commit([DeleteEvents(conversation.id)])
        await asyncio.sleep(0.15)
        _, again = await store.lease_events("g", "b", limit=5, lease_seconds=60)
        assert again is not None
        assert [e.position for e in again.events] == [kept]

    async def test_concurrent_dispatchers_get_every_event_exactly_once(self, store: Store) -> None:
        positions = await self._publish(store, 60)
        seen: list[int] = []

        async def dispatcher(owner: str) -> None:
            done = None
            while True:
                _, done = await store.lease_events("g", owner, limit=7, lease_seconds=60, done=done)
                if done is None:
                    return
                seen.extend(e.position or 0 for e in done.events)
                await asyncio.sleep(0)

        await asyncio.gather(*(dispatcher(f"d{n}") for n in range(5)))
        assert sorted(seen) == positions
        status = await store.dispatch_status("g")
        assert (status.done_upto, status.in_flight) == (positions[-1], 0)

    # -- lifecycle -------------------------------------------------------------

    async def test_close_is_idempotent(self, location: Path) -> None:
        store = self.make_store(location)
        await store.open()
        await store.close()
        await store.close()

    async def test_data_survives_reopening(self, location: Path) -> None:
        if not self.persistent:
            pytest.skip("this store does not keep data across instances (persistent = False)")
        store = self.make_store(location)
        await store.open()
        contact, conversation = await self._seed(store)
        message = _message(conversation, 1)
        await store.commit([Insert(message), SetCursor("x", 1)], [ContactCreated(contact=contact)])
        await store.close()
        again = self.make_store(location)
        await again.open()
        try:
            assert await again.get(Message, message.id) == message
            assert await again.get_cursor("x") == 1
            assert await again.last_position() == 1
        finally:
            await again.close()

    # -- full-text search ------------------------------------------------------

    async def _articles(self, store: Store, *specs: dict[str, Any]) -> list[Article]:
        articles = [Article(id=new_id("kb"), **{"published": True, **spec}) for spec in specs]
        await store.commit([Insert(a) for a in articles])
        return articles

    async def test_search_text_ranks_a_title_hit_above_a_body_hit(self, store: Store) -> None:
        body_hit, title_hit, _ = await self._articles(
            store,
            {"title": "Payments", "body": "Your refund reaches the card in five days."},
            {"title": "Refund policy", "body": "Money back within thirty days."},
            {"title": "Passwords", "body": "Reset it from the sign-in page."},
        )
        hits = await store.search_text(Article, "refund")
        assert [a.id for a, _ in hits] == [title_hit.id, body_hit.id]
        assert 0 < hits[1][1] < hits[0][1] < 1
        assert len(await store.search_text(Article, "refund", limit=1)) == 1

    async def test_search_text_filters_with_where(self, store: Store) -> None:
        en, _, draft = await self._articles(
            store,
            {"title": "Delivery times", "language": "en"},
            {"title": "Delivery times", "language": "de"},
            {"title": "Delivery times", "language": "en", "published": False},
        )
        hits = await store.search_text(Article, "delivery", where={"language": "en"})
        assert {a.id for a, _ in hits} == {en.id, draft.id}
        published = await store.search_text(
            Article, "delivery", where={"language": In(["en", "fr"]), "published": True}
        )
        assert [a.id for a, _ in published] == [en.id]
        assert await store.search_text(Article, "delivery", where={"language": In([])}) == []

    async def test_search_text_follows_updates_and_deletes(self, store: Store) -> None:
        (article,) = await self._articles(store, {"title": "Invoices", "tags": ["billing"]})
        assert [a for a, _ in await store.search_text(Article, "billing")] == [article]
        renamed = article.model_copy(
            update={"version": 2, "title": "Receipts", "tags": ["tax"], "body": "PDF copies."}
        )
        await store.commit([Update(renamed)])
        assert await store.search_text(Article, "invoices") == []
        assert await store.search_text(Article, "billing") == []
        assert [a for a, _ in await store.search_text(Article, "receipts pdf")] == [renamed]
        assert [a for a, _ in await store.search_text(Article, "tax")] == [renamed]
        await store.commit([Delete(Article, article.id)])
        assert await store.search_text(Article, "receipts") == []

    async def test_search_text_takes_hostile_text_as_words(self, store: Store) -> None:
        (article,) = await self._articles(store, {"title": "Order status", "body": "Near you."})
        for query in [
            '"',
            "*",
            "OR",
            "NEAR(",
            "'; DROP TABLE kb_articles; --",
            "🚀🔥",
            "",
            "   ",
            'order" OR "x',
            "title:order",
            "order*",
            "-order",
            "(order",
            "order & | !",
            "\\",
        ]:
            hits = await store.search_text(Article, query)
            assert all(a.id == article.id for a, _ in hits), query
        assert [a.id for a, _ in await store.search_text(Article, "NEAR(")] == [article.id]
        assert [a.id for a, _ in await store.search_text(Article, '"order" OR')] == [article.id]

    async def test_search_text_matches_suffixed_and_folded_words(self, store: Store) -> None:
        korean, turkish = await self._articles(
            store,
            {"title": "배송 안내", "body": "배송 조회 방법", "language": "ko"},
            {"title": "Sipariş takibi", "body": "Kargonuzu izleyin.", "language": "tr"},
        )
        assert [a.id for a, _ in await store.search_text(Article, "배송이 늦어요")] == [korean.id]
        assert [a.id for a, _ in await store.search_text(Article, "방법은")] == [korean.id]
        for query in ["siparişim nerede", "SİPARİŞ", "siparis", "takibini"]:
            assert [a.id for a, _ in await store.search_text(Article, query)] == [turkish.id], query

    async def test_search_text_needs_a_text_index(self, store: Store) -> None:
        with pytest.raises(TypeError, match="full-text"):
            await store.search_text(Contact, "ada")
        with pytest.raises(ValueError, match="queryable"):
            await store.search_text(Article, "ada", where={"title": "x"})

    # -- rate limits (optional: skipped for a store that does not keep them) ---

    @staticmethod
    async def _rate_hit(store: Store, key: str, now: float) -> bool:
        try:
            allowed, _ = await store.rate_hit(key, now=now, increment=10.0, tolerance=30.0)
        except NotImplementedError:
            pytest.skip("this store does not keep rate limits")
        return allowed

    async def test_rate_hits_pass_up_to_the_tolerance_then_refuse(self, store: Store) -> None:
        assert [await self._rate_hit(store, "k", 1000.0) for _ in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        assert await store.rate_peek("k") == 1030.0  # the refused hit changed nothing
        assert await store.rate_hit("k", now=1000.0, increment=10.0, tolerance=30.0) == (
            False,
            1030.0,
        )
        assert await self._rate_hit(store, "k", 1010.0)  # one interval later, one more
        assert await self._rate_hit(store, "other", 1000.0)  # keys are independent

    async def test_rate_cells_reset_and_purge(self, store: Store) -> None:
        await self._rate_hit(store, "a", 1000.0)
        await self._rate_hit(store, "b", 1000.0)
        await self._rate_hit(store, "b", 1000.0)
        assert await store.rate_purge(1015.0) == 1  # a ran out at 1010, b runs to 1020
        assert await store.rate_peek("a") is None
        assert await store.rate_peek("b") == 1020.0
        await store.rate_reset("b")
        assert await store.rate_peek("b") is None

    async def test_concurrent_rate_hits_never_pass_more_than_the_tolerance(
        self, store: Store
    ) -> None:
        await self._rate_hit(store, "warm-up", 1000.0)
        results = await asyncio.gather(
            *(store.rate_hit("busy", now=1000.0, increment=1.0, tolerance=20.0) for _ in range(60))
        )
        assert sum(allowed for allowed, _ in results) == 20
