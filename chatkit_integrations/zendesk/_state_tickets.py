"""The tickets of the emulated Zendesk account: create, update, comments, audits, delete.

Every change that makes an audit also joins the ticket event export; a
write-only ``assignee_email`` resolves to the agent or admin with that email.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._records import (
    ADMIN_USER_ID,
    CREATE_EVENT_FIELDS,
    TICKET_FIELDS,
    Record,
    audit_record,
    comment_record,
    invalid,
    iso,
    not_found,
    str_or_none,
    ticket_event_record,
    ticket_record,
    via,
)
from ._state_users import _UserState


class _TicketState(_UserState):
    """Tickets and comments of `ZendeskState` (requesters are users, hence the base)."""

    tickets: dict[int, Record]
    comments: dict[int, list[Record]]
    ticket_events: list[Record]
    uploads: dict[str, list[int]]
    attachments: dict[int, tuple[Record, bytes]]
    _ticket_ids: itertools.count[int]
    _event_ids: itertools.count[int]
    _change_seq: dict[int, int]
    _generated: dict[int, int]

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
