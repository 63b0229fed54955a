"""The state of an emulated Zendesk account: users, tickets, comments, uploads, job statuses.

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in Zendesk". Shapes follow the
Zendesk Support API as recorded in ``vendor-fixtures`` (ticket, audit,
incremental page, job status, 400 ``TooManyValues``).
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._records import (
    ADMIN_USER_ID,
    BULK_LIMIT,
    CREATE_EVENT_FIELDS,
    TICKET_FIELDS,
    USER_FIELDS,
    Record,
    ZendeskAPIError,
    attachment_record,
    audit_record,
    comment_record,
    decode_cursor,
    encode_cursor,
    export_event,
    invalid,
    iso,
    not_found,
    str_or_none,
    ticket_event_record,
    ticket_record,
    user_record,
    via,
)

__all__ = ["BULK_LIMIT", "FailurePlan", "Record", "ZendeskAPIError", "ZendeskState"]


@dataclass
class FailurePlan:
    """Fail ``remaining`` API calls with ``status`` (and ``Retry-After``) after ``skip`` pass."""

    status: int
    remaining: int
    retry_after: int | None = None
    skip: int = 0


@dataclass
class _Job:
    record: Record
    results: list[Record]
    polls_left: int
    total: int = field(default=0)


class ZendeskState:
    """Users, tickets, comments and jobs of one emulated Zendesk account.

    Thread-safe: the emulator serves from its own thread while a test reads and
    edits the same state (an agent editing a ticket "in Zendesk").

    Args:
        subdomain: Used in the ``url`` fields until the emulator sets `base_url`.
        clock: Returns the current time (timezone-aware); tests may pin it.
        job_polls: How many polls of a job status answer ``working`` before
            ``completed`` (the POST itself always answers ``queued``).
    """

    def __init__(
        self,
        *,
        subdomain: str = "chatkit",
        clock: Callable[[], datetime] | None = None,
        job_polls: int = 1,
    ) -> None:
        self.base_url = f"https://{subdomain}.zendesk.com"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.job_polls = job_polls
        self.lock = threading.RLock()
        self.users: dict[int, Record] = {}
        self.tickets: dict[int, Record] = {}
        self.comments: dict[int, list[Record]] = {}
        self.ticket_events: list[Record] = []
        self.jobs: dict[str, _Job] = {}
        self.uploads: dict[str, list[int]] = {}
        self.attachments: dict[int, tuple[Record, bytes]] = {}
        self.failures: list[FailurePlan] = []
        self.requests: list[tuple[str, str]] = []
        self._user_ids = itertools.count(ADMIN_USER_ID)
        self._ticket_ids = itertools.count(1)
        self._event_ids = itertools.count(6164039218714)
        self._changes = itertools.count(1)
        self._change_seq: dict[int, int] = {}
        self._generated: dict[int, int] = {}
        self._user_seq: dict[int, int] = {}
        self._user_generated: dict[int, int] = {}
        self._attachment_ids = itertools.count(6164039200000)
        self.create_user({"name": "Admin", "email": "admin@example.com", "role": "admin"})

    # -- failures ------------------------------------------------------------------

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: int | None = None, after: int = 0
    ) -> None:
        """Answer ``times`` API calls with ``status`` (429, 500, 401, ...), after ``after`` pass."""
        with self.lock:
            self.failures.append(FailurePlan(status, times, retry_after, after))

    def take_failure(self) -> FailurePlan | None:
        """Consume one planned failure, if any."""
        with self.lock:
            while self.failures and self.failures[0].remaining <= 0:
                self.failures.pop(0)
            if not self.failures:
                return None
            plan = self.failures[0]
            if plan.skip > 0:
                plan.skip -= 1
                return None
            plan.remaining -= 1
            return FailurePlan(plan.status, 1, plan.retry_after)

    # -- users ---------------------------------------------------------------------

    def _user_url(self, user_id: int) -> str:
        return f"{self.base_url}/api/v2/users/{user_id}.json"

    def _check_unique(self, data: Mapping[str, Any], *, except_id: int | None = None) -> None:
        for user in self.users.values():
            if user["id"] == except_id:
                continue
            email = data.get("email")
            if email and user["email"] and user["email"].lower() == str(email).lower():
                raise invalid(
                    "email",
                    f"Email: {email} is already being used by another user",
                    "DuplicateValue",
                )
            external_id = data.get("external_id")
            if external_id is not None and user["external_id"] == str(external_id):
                raise invalid("external_id", "External has already been taken", "DuplicateValue")

    def create_user(self, data: Mapping[str, Any]) -> Record:
        """Create a user as ``POST /api/v2/users.json`` does; returns a copy."""
        with self.lock:
            if not data.get("name"):
                raise invalid("name", "Name:  is too short (minimum one character)", "BlankValue")
            self._check_unique(data)
            user_id = next(self._user_ids)
            now = iso(self.clock())
            user = user_record(user_id, self._user_url(user_id), data, now)
            self.users[user_id] = user
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def get_user(self, user_id: int) -> Record:
        """The user ``user_id``; raises a 404 `ZendeskAPIError` when missing."""
        with self.lock:
            if user_id not in self.users:
                raise not_found()
            return copy.deepcopy(self.users[user_id])

    def update_user(self, user_id: int, data: Mapping[str, Any]) -> Record:
        """Change a user's fields (as an admin would in Zendesk)."""
        with self.lock:
            if user_id not in self.users:
                raise not_found()
            self._check_unique(data, except_id=user_id)
            user = self.users[user_id]
            for key in USER_FIELDS:
                if key in data:
                    value = data[key]
                    user[key] = str(value) if key == "external_id" and value is not None else value
            user["updated_at"] = iso(self.clock())
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def _touch_user(self, user_id: int) -> None:
        self._user_seq[user_id] = next(self._changes)
        self._user_generated[user_id] = int(self.clock().timestamp())

    def user_id_by_email(self, email: str) -> int | None:
        """The id of the user with this email (case-insensitive), if any."""
        with self.lock:
            found = self.search_users(email=email)
            return int(found[0]["id"]) if found else None

    def delete_user(self, user_id: int) -> Record:
        """Soft-delete a user as ``DELETE /api/v2/users/{id}.json`` does: ``active`` false.

        The user is still shown (and exported once more), but no longer found
        by search, external id or email.
        """
        with self.lock:
            user = self.users.get(user_id)
            if user is None or not user["active"]:
                raise not_found()
            user.update(active=False, external_id=None, email=None, updated_at=iso(self.clock()))
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def search_users(
        self, *, external_id: str | None = None, email: str | None = None
    ) -> list[Record]:
        """Users whose external id or email (case-insensitive) matches."""
        with self.lock:
            found = [
                u
                for u in self.users.values()
                if (external_id is not None and u["external_id"] == external_id)
                or (email is not None and (u["email"] or "").lower() == email.lower())
            ]
            return copy.deepcopy(found)

    def create_or_update_user(self, data: Mapping[str, Any]) -> tuple[Record, bool]:
        """Update the user matched by external_id, else email; else create. ``(user, created)``."""
        with self.lock:
            matches: list[Record] = []
            if data.get("external_id") is not None:
                matches = self.search_users(external_id=str(data["external_id"]))
            if not matches and data.get("email"):
                matches = self.search_users(email=str(data["email"]))
            if matches:
                return self.update_user(matches[0]["id"], data), False
            return self.create_user(data), True

    # -- tickets -------------------------------------------------------------------

    def _touch(self, ticket_id: int) -> None:
        self._change_seq[ticket_id] = next(self._changes)
        self._generated[ticket_id] = int(self.clock().timestamp())

    def _audit(
        self,
        audit_id: int,
        ticket_id: int,
        author_id: int,
        events: list[Record],
        client: str,
        moment: datetime,
    ) -> Record:
        """The audit of one ticket change; a change with events also joins the event export."""
        audit = audit_record(audit_id, ticket_id, author_id, events, client, iso(moment))
        if events:
            self.ticket_events.append(ticket_event_record(audit, timestamp=int(moment.timestamp())))
        return audit

    def _comment(self, data: Mapping[str, Any], author_id: int, audit_id: int) -> Record:
        comment = comment_record(next(self._event_ids), data, author_id, audit_id)
        # Upload tokens become the comment's attachments; unknown tokens are ignored.
        for token in data.get("uploads") or []:
            for attachment_id in self.uploads.pop(str(token), []):
                comment["attachments"].append(copy.deepcopy(self.attachments[attachment_id][0]))
        return comment

    def _resolve_requester(self, data: Mapping[str, Any], author_id: int) -> int:
        if data.get("requester_id") is not None:
            requester_id = int(data["requester_id"])
            if requester_id not in self.users:
                raise invalid("requester", "Requester: is invalid", "InvalidValue")
            return requester_id
        requester = data.get("requester")
        if isinstance(requester, Mapping):
            email = requester.get("email")
            found = self.search_users(email=str(email)) if email else []
            if found:
                return int(found[0]["id"])
            return int(
                self.create_user({"name": requester.get("name") or email, **requester})["id"]
            )
        return author_id

    def _resolve_assignee(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """``data`` with a write-only ``assignee_email`` turned into ``assignee_id``.

        The assignee must be an active agent or admin: an email or id of
        anyone else (an end user, no user at all) is refused with 422
        ``RecordInvalid`` on ``assignee``, as Zendesk does.
        """
        if "assignee_email" not in data and data.get("assignee_id") is None:
            return data
        resolved = {k: v for k, v in data.items() if k != "assignee_email"}
        email = data.get("assignee_email")
        if email:
            found = [
                u
                for u in self.users.values()
                if u["active"] and (u["email"] or "").lower() == str(email).lower()
            ]
            if not found or found[0]["role"] not in ("agent", "admin"):
                raise invalid("assignee", "Assignee: is invalid", "InvalidValue")
            resolved["assignee_id"] = int(found[0]["id"])
        elif resolved.get("assignee_id") is not None:
            user = self.users.get(int(resolved["assignee_id"]))
            if user is None or not user["active"] or user["role"] not in ("agent", "admin"):
                raise invalid("assignee", "Assignee: is invalid", "InvalidValue")
            resolved["assignee_id"] = int(resolved["assignee_id"])
        return resolved

    def create_ticket(
        self, data: Mapping[str, Any], *, author_id: int = ADMIN_USER_ID, client: str = "emulator"
    ) -> tuple[Record, Record]:
        """Create a ticket as ``POST /api/v2/tickets.json`` does: ``(ticket, audit)``.

        ``assignee_email`` (write only) assigns the agent with that email.
        """
        with self.lock:
            data = self._resolve_assignee(data)
            comment_data = data.get("comment")
            if not isinstance(comment_data, Mapping):
                description = data.get("description")
                if not description:
                    raise invalid("base", "Description: cannot be blank", "BlankValue")
                comment_data = {"body": description}
            requester_id = self._resolve_requester(data, author_id)
            ticket_id = next(self._ticket_ids)
            audit_id = next(self._event_ids)
            comment = self._comment(comment_data, author_id, audit_id)
            moment = self.clock()
            now = iso(moment)
            ticket = ticket_record(
                ticket_id,
                f"{self.base_url}/api/v2/tickets/{ticket_id}.json",
                data,
                comment=comment,
                requester_id=requester_id,
                author_id=author_id,
                now=now,
            )
            events = [comment]
            for name in CREATE_EVENT_FIELDS:
                value = ticket[name]
                events.append(
                    {
                        "id": next(self._event_ids),
                        "type": "Create",
                        "value": None if value is None else str(value),
                        "field_name": name,
                    }
                )
            self.tickets[ticket_id] = ticket
            self.comments[ticket_id] = [{**comment, "via": via(), "created_at": now}]
            self._touch(ticket_id)
            audit = self._audit(audit_id, ticket_id, author_id, events, client, moment)
            return copy.deepcopy(ticket), audit

    def get_ticket(self, ticket_id: int) -> Record:
        """The ticket ``ticket_id``; raises a 404 `ZendeskAPIError` when missing."""
        with self.lock:
            if ticket_id not in self.tickets or self.tickets[ticket_id]["status"] == "deleted":
                raise not_found()
            return copy.deepcopy(self.tickets[ticket_id])

    def update_ticket(
        self,
        ticket_id: int,
        data: Mapping[str, Any],
        *,
        author_id: int = ADMIN_USER_ID,
        client: str = "emulator",
    ) -> tuple[Record, Record]:
        """Change a ticket as ``PUT /api/v2/tickets/{id}.json`` does: ``(ticket, audit)``.

        ``data`` may hold ticket fields and a ``comment`` (``body``,
        ``public``); ``assignee_email`` (write only) assigns the agent with
        that email, ``assignee_id: None`` unassigns. A closed ticket cannot be
        updated (422), as in Zendesk. Tests call this to play an agent
        editing the ticket in Zendesk.
        """
        with self.lock:
            if ticket_id not in self.tickets or self.tickets[ticket_id]["status"] == "deleted":
                raise not_found()
            ticket = self.tickets[ticket_id]
            if ticket["status"] == "closed":
                raise invalid("status", "Status: closed prevents ticket update", "InvalidValue")
            data = self._resolve_assignee(data)
            audit_id = next(self._event_ids)
            moment = self.clock()  # the comment, the audit and its export event share it
            events: list[Record] = []
            comment_data = data.get("comment")
            if isinstance(comment_data, Mapping):
                comment = self._comment(comment_data, author_id, audit_id)
                events.append(comment)
                self.comments[ticket_id].append(
                    {**comment, "via": via(), "created_at": iso(moment)}
                )
            for name in TICKET_FIELDS:
                if name not in data:
                    continue
                value = data[name]
                if name == "external_id" and value is not None:
                    value = str(value)
                if name == "requester_id":
                    value = self._resolve_requester(data, author_id)
                if ticket[name] == value:
                    continue
                events.append(
                    {
                        "id": next(self._event_ids),
                        "type": "Change",
                        "value": value if isinstance(value, list) else str_or_none(value),
                        "field_name": name,
                        "previous_value": ticket[name]
                        if isinstance(ticket[name], list)
                        else str_or_none(ticket[name]),
                    }
                )
                ticket[name] = value
                if name == "subject":
                    ticket["raw_subject"] = value
                if name == "custom_fields":
                    ticket["fields"] = value
            if events:
                ticket["updated_at"] = iso(moment)
                self._touch(ticket_id)
            audit = self._audit(audit_id, ticket_id, author_id, events, client, moment)
            return copy.deepcopy(ticket), audit

    def add_comment(
        self, ticket_id: int, body: str, *, public: bool = True, author_id: int = ADMIN_USER_ID
    ) -> Record:
        """Add a public reply or a private (internal) note; returns the comment."""
        self.update_ticket(
            ticket_id, {"comment": {"body": body, "public": public}}, author_id=author_id
        )
        return self.list_comments(ticket_id)[-1]

    def list_comments(self, ticket_id: int) -> list[Record]:
        """The comments of a ticket, oldest first."""
        with self.lock:
            if ticket_id not in self.tickets:
                raise not_found()
            return copy.deepcopy(self.comments[ticket_id])

    def delete_ticket(self, ticket_id: int) -> None:
        """Delete a ticket as ``DELETE /api/v2/tickets/{id}.json`` does.

        It is gone from show, list and update (404), and the incremental
        export reports it once more with status ``deleted``.
        """
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None or ticket["status"] == "deleted":
                raise not_found()
            ticket["status"] = "deleted"
            ticket["updated_at"] = iso(self.clock())
            self._touch(ticket_id)

    def find_tickets(self, *, external_id: str) -> list[Record]:
        """Tickets whose external id is ``external_id`` (not unique in Zendesk), oldest first."""
        with self.lock:
            return [
                copy.deepcopy(t)
                for t in self.tickets.values()
                if t["external_id"] == external_id and t["status"] != "deleted"
            ]

    # -- uploads -------------------------------------------------------------------

    def create_upload(
        self, filename: str, content: bytes, *, content_type: str, token: str | None = None
    ) -> Record:
        """Store a file as ``POST /api/v2/uploads.json`` does; returns the ``upload`` record.

        Passing the ``token`` of an earlier upload adds the file to it. A
        comment that names the token in ``uploads`` gets the files attached.
        """
        with self.lock:
            if not filename:
                raise invalid("filename", "Filename: cannot be blank", "BlankValue")
            if token is not None and token not in self.uploads:
                raise not_found()
            token = token or secrets.token_urlsafe(18)
            attachment_id = next(self._attachment_ids)
            attachment = attachment_record(
                attachment_id,
                base_url=self.base_url,
                token=token,
                filename=filename,
                content_type=content_type,
                size=len(content),
            )
            self.attachments[attachment_id] = (attachment, bytes(content))
            self.uploads.setdefault(token, []).append(attachment_id)
            attachments = [copy.deepcopy(self.attachments[i][0]) for i in self.uploads[token]]
            expires = self.clock() + timedelta(days=3)
            return {
                "token": token,
                "expires_at": iso(expires),
                "attachments": attachments,
                "attachment": copy.deepcopy(attachment),
            }

    def get_attachment(self, attachment_id: int) -> Record:
        """The attachment ``attachment_id``; raises a 404 `ZendeskAPIError` when missing."""
        with self.lock:
            if attachment_id not in self.attachments:
                raise not_found()
            return copy.deepcopy(self.attachments[attachment_id][0])

    def attachment_content(self, attachment_id: int) -> bytes:
        """The bytes of an uploaded file."""
        with self.lock:
            if attachment_id not in self.attachments:
                raise not_found()
            return self.attachments[attachment_id][1]

    # -- incremental export --------------------------------------------------------

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

    # -- bulk jobs -----------------------------------------------------------------

    def start_job(self, results: list[Record]) -> Record:
        """Record a finished bulk job whose status is revealed over the next polls."""
        with self.lock:
            job_id = "V3-" + secrets.token_hex(16)
            record: Record = {
                "id": job_id,
                "url": f"{self.base_url}/api/v2/job_statuses/{job_id}.json",
                "total": len(results),
                "progress": None,
                "status": "queued",
                "message": None,
                "results": None,
            }
            self.jobs[job_id] = _Job(record, results, self.job_polls, len(results))
            return copy.deepcopy(record)

    def poll_job(self, job_id: str) -> Record:
        """The job's status now: ``working`` for `job_polls` polls, then ``completed``."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise not_found()
            if job.polls_left > 0:
                job.polls_left -= 1
                job.record.update(status="working", progress=job.total // 2)
            else:
                stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
                job.record.update(
                    status="completed",
                    progress=job.total,
                    message=f"Completed at {stamp}",
                    results=job.results,
                )
            return copy.deepcopy(job.record)
