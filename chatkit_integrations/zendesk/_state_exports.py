"""The incremental exports of the emulated Zendesk account: tickets, users, ticket events."""

from __future__ import annotations

import copy
import threading

from ._records import Record, decode_cursor, encode_cursor, export_event


class _ExportState:
    """The cursor-based and time-based incremental exports of `ZendeskState`."""

    lock: threading.RLock
    users: dict[int, Record]
    tickets: dict[int, Record]
    ticket_events: list[Record]
    _change_seq: dict[int, int]
    _generated: dict[int, int]
    _user_seq: dict[int, int]
    _user_generated: dict[int, int]

    def incremental_tickets(
        self, *, start_time: int | None, cursor: str | None, per_page: int
    ) -> tuple[list[Record], str, bool]:
        """One page of the cursor-based export: ``(tickets, after_cursor, end_of_stream)``.

        Tickets come in the order they last changed, each with
        ``generated_timestamp``; a ticket changed again after being exported
        comes again after the cursor.
        """
        with self.lock:
            after_seq = 0
            if cursor is not None:
                after_seq = decode_cursor(cursor)
            ordered = sorted(self.tickets, key=lambda tid: self._change_seq[tid])
            pending = [
                tid
                for tid in ordered
                if self._change_seq[tid] > after_seq
                and (start_time is None or self._generated[tid] >= start_time)
            ]
            page = pending[:per_page]
            if page:
                last = page[-1]
                after = encode_cursor(self._generated[last], last, self._change_seq[last])
            elif cursor is not None:
                after = cursor
            else:
                last_seq = max(self._change_seq.values(), default=0)
                after = encode_cursor(start_time or 0, 0, last_seq)
            tickets = [
                {**copy.deepcopy(self.tickets[tid]), "generated_timestamp": self._generated[tid]}
                for tid in page
            ]
            return tickets, after, len(pending) <= per_page

    def incremental_users(
        self, *, start_time: int | None, cursor: str | None, per_page: int
    ) -> tuple[list[Record], str, bool]:
        """One page of ``/api/v2/incremental/users/cursor.json``: ``(users, after_cursor, end)``.

        Users come in the order they last changed; a user changed again after
        being exported comes again after the cursor.
        """
        with self.lock:
            after_seq = decode_cursor(cursor) if cursor is not None else 0
            ordered = sorted(self.users, key=lambda uid: self._user_seq[uid])
            pending = [
                uid
                for uid in ordered
                if self._user_seq[uid] > after_seq
                and (start_time is None or self._user_generated[uid] >= start_time)
            ]
            page = pending[:per_page]
            if page:
                last = page[-1]
                after = encode_cursor(self._user_generated[last], last, self._user_seq[last])
            elif cursor is not None:
                after = cursor
            else:
                last_seq = max(self._user_seq.values(), default=0)
                after = encode_cursor(start_time or 0, 0, last_seq)
            users = [copy.deepcopy(self.users[uid]) for uid in page]
            return users, after, len(pending) <= per_page

    def incremental_ticket_events(
        self, *, start_time: int, per_page: int, comments: bool
    ) -> tuple[list[Record], int, bool]:
        """One page of the time-based ticket event export: ``(events, end_time, end_of_stream)``.

        Events at or after ``start_time`` (Unix seconds), oldest first (by
        ``timestamp``, then id), at most ``per_page``. ``end_time`` is the
        ``timestamp`` of the page's last event (``start_time`` for an empty
        page), and the next page starts there, so the events of that second
        come again, as in Zendesk: the reader skips the ones it has. As in
        Zendesk, more than ``per_page`` events in one second cannot be paged
        past (the same page comes back). ``end_of_stream`` is true when the
        page is not full. ``comments`` is the ``comment_events`` sideload.
        """
        with self.lock:
            pending = sorted(
                (e for e in self.ticket_events if e["timestamp"] >= start_time),
                key=lambda e: (e["timestamp"], e["id"]),
            )
            page = [export_event(e, comments=comments) for e in pending[:per_page]]
            end_time = page[-1]["timestamp"] if page else start_time
            return page, end_time, len(page) < per_page
