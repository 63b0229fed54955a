"""Zendesk part: pull, from the incremental user and ticket exports and the ticket
event export (comments), with its cursor."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from chatkit.errors import PermanentIntegrationError
from chatkit.integrations import PullPage

from ._client import BATCH, EVENTS_PER_PAGE, _ZendeskClient, logger
from ._mapping import comment_change, parse_time, ticket_change, user_change
from ._zenpy import RecordNotFoundException

_CURSOR_VERSION = 2


@dataclass(frozen=True)
class _EventsAt:
    """Where the ticket event export stands: the second to start at, and the
    ids of the events of that second already returned."""

    since: int = 0
    seen: tuple[int, ...] = ()


@dataclass(frozen=True)
class _PullState:
    """A pull cursor: the two export cursors, whether the ticket export had
    caught up, and the event export's position."""

    users: str | None = None
    tickets: str | None = None
    tickets_done: bool = False
    events: _EventsAt = field(default_factory=_EventsAt)

    def encode(self) -> str:
        state = {
            "v": _CURSOR_VERSION,
            "users": self.users,
            "tickets": self.tickets,
            "tickets_done": self.tickets_done,
            "events": {"since": self.events.since, "seen": list(self.events.seen)},
        }
        raw = json.dumps(state, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> _PullState:
        """Raises ValueError (and kin) for anything this integration did not make.

        A version 1 cursor (comments read per ticket) carries on with its
        export cursors; its event export starts at the beginning (the apply
        step skips comments it has).
        """
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        version = state.get("v")
        users, tickets = state.get("users"), state.get("tickets")
        if not all(v is None or isinstance(v, str) for v in (users, tickets)):
            raise ValueError("malformed cursor")
        if version == 1:
            return cls(users=users, tickets=tickets)
        if version != _CURSOR_VERSION:
            raise ValueError("unknown cursor version")
        events = state["events"]
        since, seen = events["since"], events["seen"]
        done = state["tickets_done"]
        if not isinstance(since, int) or since < 0 or not isinstance(done, bool):
            raise ValueError("malformed cursor")
        if not isinstance(seen, list) or not all(isinstance(i, int) for i in seen):
            raise ValueError("malformed cursor")
        return cls(users, tickets, done, _EventsAt(since, tuple(seen)))


@dataclass
class _EventsRead:
    """One read of the ticket event export: its comments (with their ticket
    ids), where it leaves the export, and tickets read along the way."""

    position: _EventsAt
    done: bool
    comments: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)


class _Pull(_ZendeskClient):
    """Users, tickets and comments changed in Zendesk, inbound."""

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Users, tickets and comments changed after ``cursor``.

        Reads one page of the incremental user export and one of the ticket
        export (``limit`` records each, Zendesk's own opaque cursors), and one
        page of the ticket event export with its comments
        (``include=comment_events``, ``events_per_page`` events): a few calls
        whatever the number of tickets. Agents and admins are not contacts and
        are left out. ``has_more`` is true until all three reach
        ``end_of_stream``.

        A comment is only given once its ticket has been: events are read
        only when the ticket export had caught up at the end of the previous
        pull, and before this pull's ticket page; if that page does not catch
        up, the events read are left for a later pull. Changes come users,
        then tickets, then comments.

        The event export is time-based and starts at a second, inclusive: the
        cursor keeps the last second read and the ids of its events, so the
        next pull starts at that second and skips those (events added in that
        second since are read, none twice). When a full page holds only events
        already read (more events in one second than a page holds, which
        Zendesk cannot page past), the comments of that second are read from
        the tickets changed since (`_overflow`) and the export goes on at the
        next second.

        Raises:
            PermanentIntegrationError: ``cursor`` is not one this integration made.
        """
        state = self._decode_cursor(cursor)
        return await self._run(lambda: self._pull(state, max(1, min(limit, 1000))))

    def _pull(self, state: _PullState, limit: int) -> PullPage:
        users, user_cursor, users_done = self._export(self._client.users, state.users, limit)
        read = self._events(state) if state.tickets_done else None
        tickets, ticket_cursor, tickets_done = self._export(
            self._client.tickets, state.tickets, limit
        )
        if read is not None and not tickets_done:
            read = None  # tickets changed faster than a page: their comments wait
        me = self._me_id()
        names = {int(u["id"]): (u.get("name"), u.get("role") == "end-user") for u in users}
        changes = [c for c in (user_change(u) for u in users) if c is not None]
        ticket_changes = {str(t["id"]): t for t in tickets}
        if read is not None:
            for ticket in read.tickets:
                ticket_changes.setdefault(str(ticket["id"]), ticket)
        changes.extend(ticket_change(t) for t in ticket_changes.values())
        deleted = {k for k, t in ticket_changes.items() if str(t.get("status")) == "deleted"}
        comments = [] if read is None else read.comments
        comments = [(c, tid) for c, tid in comments if str(tid) not in deleted]
        authors = {int(c["author_id"]) for c, _ in comments if c.get("author_id")}
        names.update(self._user_names(sorted(authors - set(names))))
        for comment, ticket_id in comments:
            name, customer = names.get(int(comment.get("author_id") or 0), (None, False))
            changes.append(
                comment_change(
                    comment,
                    ticket_id=ticket_id,
                    our_user_id=me,
                    author_name=name,
                    from_customer=customer,
                )
            )
        events = state.events if read is None else read.position
        next_cursor = _PullState(
            users=user_cursor, tickets=ticket_cursor, tickets_done=tickets_done, events=events
        ).encode()
        events_done = read is not None and read.done
        return PullPage(
            changes=tuple(changes),
            cursor=next_cursor,
            has_more=not (users_done and tickets_done and events_done),
        )

    def _events(self, state: _PullState) -> _EventsRead:
        """One page of the ticket event export after ``state.events``, with its comments."""
        since, seen = state.events.since, set(state.events.seen)
        size = self.config.events_per_page
        page = self._client.tickets.events(
            start_time=since,
            include="comment_events",
            per_page=size if size != EVENTS_PER_PAGE else None,
        )
        raw = [event.to_dict() for event in (page.values or [])]
        fresh = [
            e
            for e in raw
            if int(e["timestamp"]) > since
            or (int(e["timestamp"]) == since and int(e["id"]) not in seen)
        ]
        if not fresh:
            if len(raw) >= size:  # a full second that cannot be paged past
                return self._overflow(since, seen)
            return _EventsRead(position=state.events, done=bool(page.end_of_stream))
        fresh.sort(key=lambda e: (int(e["timestamp"]), int(e["id"])))
        last = int(fresh[-1]["timestamp"])
        at_last = {int(e["id"]) for e in raw if int(e["timestamp"]) == last}
        if last == since:
            at_last |= seen
        comments = [
            (
                {**child, "created_at": child.get("created_at") or event.get("created_at")},
                event["ticket_id"],
            )
            for event in fresh
            for child in event.get("child_events") or []
            if child.get("event_type") == "Comment" and "body" in child
        ]
        return _EventsRead(
            position=_EventsAt(since=last, seen=tuple(sorted(at_last))),
            done=bool(page.end_of_stream),
            comments=comments,
        )

    def _overflow(self, second: int, seen: set[int]) -> _EventsRead:
        """The comments of ``second`` not in ``seen`` (audit ids), read ticket by ticket.

        Only when one second holds more events than a page: every ticket
        changed since that second is listed (cursor export) and its comments
        read; the export then goes on at the next second.
        """
        tickets: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            if cursor is None:
                page = self._client.tickets.incremental(start_time=second, per_page=1000)
            else:
                page = self._client.tickets.incremental(cursor=cursor, per_page=1000)
            tickets.extend(item.to_dict() for item in (page.values or []))
            cursor = getattr(page, "after_cursor", None)
            if bool(getattr(page, "end_of_stream", True)) or not cursor:
                break
        found: list[tuple[dict[str, Any], Any]] = []
        touched: list[dict[str, Any]] = []
        for ticket in tickets:
            if str(ticket.get("status")) == "deleted":
                continue
            try:
                listed = [c.to_dict() for c in self._client.tickets.comments(ticket=ticket["id"])]
            except RecordNotFoundException:
                continue
            mine = [
                c
                for c in listed
                if c.get("created_at")
                and int(parse_time(c["created_at"]).timestamp()) == second
                and int(c.get("audit_id") or 0) not in seen
            ]
            if mine:
                touched.append(ticket)
                found.extend((c, ticket["id"]) for c in mine)
        logger.warning(
            "zendesk: more ticket events at %d than a page holds; read %d comments of that "
            "second from %d tickets",
            second,
            len(found),
            len(tickets),
        )
        return _EventsRead(
            position=_EventsAt(since=second + 1, seen=()),
            done=False,
            comments=found,
            tickets=touched,
        )

    def _export(
        self, api: Any, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """One page of a cursor-based incremental export: ``(records, after_cursor, end)``."""
        if cursor is None:
            page = api.incremental(start_time=0, per_page=limit)
        else:
            page = api.incremental(cursor=cursor, per_page=limit)
        records = [item.to_dict() for item in (page.values or [])]
        after = getattr(page, "after_cursor", None) or cursor
        return records, after, bool(getattr(page, "end_of_stream", True))

    def _user_names(self, ids: list[int]) -> dict[int, tuple[str | None, bool]]:
        """Name, and whether an end user (a customer), of each of ``ids``."""
        names: dict[int, tuple[str | None, bool]] = {}
        for start in range(0, len(ids), BATCH):
            for user in self._client.users(ids=ids[start : start + BATCH]):
                names[int(user.id)] = (user.name, user.role == "end-user")
        return names

    def _decode_cursor(self, cursor: str | None) -> _PullState:
        if cursor is None:
            return _PullState()
        try:
            return _PullState.decode(cursor)
        except (ValueError, TypeError, AttributeError, KeyError, binascii.Error):
            raise PermanentIntegrationError(
                "not a Zendesk pull cursor of this integration", integration=self.name
            ) from None
