"""Mapping between chatkit records and Zendesk users, tickets and comments.

Pure functions on plain JSON (dicts as the Zendesk API and zenpy's
``to_dict()`` give them), so they are easy to test and reuse for pulled
records and webhook payloads alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from chatkit.integrations import ChangeAction, InboundChange, OutboundChange, SyncObject

from .._time import parse_iso_datetime

__all__ = [
    "INBOUND_STATUS",
    "OUTBOUND_STATUS",
    "PRIORITIES",
    "comment_change",
    "owner_email",
    "parse_time",
    "ticket_change",
    "ticket_fields",
    "user_change",
    "user_fields",
]

OUTBOUND_STATUS = {
    "open": "open",
    "pending": "pending",
    "snoozed": "hold",
    "resolved": "solved",
    "closed": "closed",
}
"""chatkit conversation status → Zendesk ticket status."""

INBOUND_STATUS = {
    "new": "open",
    "open": "open",
    "pending": "pending",
    "hold": "pending",
    "solved": "resolved",
    "closed": "closed",
}
"""Zendesk ticket status → chatkit status (``hold`` waits on someone: ``pending``)."""

PRIORITIES = frozenset({"low", "normal", "high", "urgent"})
"""Priorities have the same names on both sides."""

DEFAULT_DESCRIPTION = "Conversation from chat"
"""The first (private) comment of a ticket made for a conversation without a subject."""


def parse_time(value: object) -> datetime:
    """A Zendesk timestamp (``2024-01-31T12:00:00Z``) as an aware UTC datetime.

    Any number of fractional digits is read (webhook ``time`` has nine),
    truncated to microseconds, on every Python.

    Raises:
        ValueError: Not a timestamp.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    moment = parse_iso_datetime(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- outbound ------------------------------------------------------------------------


def user_fields(change: OutboundChange) -> dict[str, Any]:
    """The Zendesk user fields for a contact; ``external_id`` is the chatkit id."""
    data = change.data
    email = data.get("email")
    fields: dict[str, Any] = {
        "external_id": change.local_id,
        "name": data.get("name") or email or data.get("phone") or change.local_id,
        "role": "end-user",
    }
    if isinstance(email, str) and email:
        fields["email"] = email
    phone = data.get("phone")
    if isinstance(phone, str) and phone:
        fields["phone"] = phone
    return fields


def ticket_fields(change: OutboundChange, *, owner: bool = True) -> dict[str, Any]:
    """The Zendesk ticket fields for a conversation; ``external_id`` is the chatkit id.

    Status and priority are mapped (see `OUTBOUND_STATUS`); the requester is
    the contact's user (``parent_remote_id``) when it is known. The owner
    (``assignee_email`` of the data, the assigned chatkit agent) becomes the
    ticket's ``assignee_email``, which Zendesk resolves to that agent; an
    unassigned conversation, or one whose owner is dropped (``owner=False``:
    not a Zendesk agent), gets ``assignee_id: None`` (unassigned). Data
    without the ``assignee_email`` key leaves the assignee alone.
    """
    data = change.data
    fields: dict[str, Any] = {"external_id": change.local_id}
    if "assignee_email" in data:
        email = owner_email(change)
        if email is not None and owner:
            fields["assignee_email"] = email
        else:
            fields["assignee_id"] = None
    subject = data.get("subject")
    if isinstance(subject, str) and subject:
        fields["subject"] = subject
    status = data.get("status")
    if isinstance(status, str) and status in OUTBOUND_STATUS:
        fields["status"] = OUTBOUND_STATUS[status]
    priority = data.get("priority")
    if isinstance(priority, str) and priority in PRIORITIES:
        fields["priority"] = priority
    tags = data.get("tags")
    if isinstance(tags, list):
        fields["tags"] = [_tag(tag) for tag in tags if isinstance(tag, str) and tag.strip()]
    if change.parent_remote_id and change.parent_remote_id.isdigit():
        fields["requester_id"] = int(change.parent_remote_id)
    return fields


def owner_email(change: OutboundChange) -> str | None:
    """The owner's email of a conversation (``assignee_email``), trimmed; ``None`` if none."""
    email = change.data.get("assignee_email")
    if isinstance(email, str) and email.strip():
        return email.strip()
    return None


def _tag(tag: str) -> str:
    # Zendesk tags have no spaces: it would split "vip customer" into two tags.
    return "_".join(tag.strip().lower().split())


def first_comment(change: OutboundChange) -> dict[str, Any]:
    """The private comment a new ticket needs (Zendesk refuses a ticket without one)."""
    subject = change.data.get("subject")
    body = subject if isinstance(subject, str) and subject else DEFAULT_DESCRIPTION
    return {"body": body, "public": False}


# -- inbound -------------------------------------------------------------------------


def user_change(user: Mapping[str, Any]) -> InboundChange | None:
    """A contact change from a Zendesk user; ``None`` for agents and admins."""
    if user.get("role", "end-user") != "end-user":
        return None
    updated = user.get("updated_at") or user.get("created_at")
    deleted = user.get("active") is False
    data: dict[str, JsonValue] = {}
    if not deleted:
        data = {"name": user.get("name"), "email": user.get("email"), "phone": user.get("phone")}
        data = {k: v for k, v in data.items() if k in user}
    return InboundChange(
        object=SyncObject.CONTACT,
        action=ChangeAction.DELETE if deleted else ChangeAction.UPSERT,
        remote_type="user",
        remote_id=str(user["id"]),
        remote_version=str(updated) if updated else None,
        local_id=_external_id(user),
        data=data,
        changed_at=parse_time(updated),
    )


def ticket_change(ticket: Mapping[str, Any]) -> InboundChange:
    """A conversation change from a Zendesk ticket (deleted tickets: a delete)."""
    status = str(ticket.get("status") or "").lower()
    updated = ticket.get("updated_at") or ticket.get("created_at")
    data: dict[str, JsonValue] = {}
    if "subject" in ticket:
        data["subject"] = ticket.get("subject")
    if status in INBOUND_STATUS:
        data["status"] = INBOUND_STATUS[status]
    priority = str(ticket.get("priority") or "").lower()
    if priority in PRIORITIES:
        data["priority"] = priority
    if isinstance(ticket.get("tags"), list):
        data["tags"] = [str(tag) for tag in ticket["tags"]]
    requester = ticket.get("requester_id")
    return InboundChange(
        object=SyncObject.CONVERSATION,
        action=ChangeAction.DELETE if status == "deleted" else ChangeAction.UPSERT,
        remote_type="ticket",
        remote_id=str(ticket["id"]),
        remote_version=str(updated) if updated else None,
        local_id=_external_id(ticket),
        parent_remote_id=str(requester) if requester not in (None, "", "0") else None,
        data={} if status == "deleted" else data,
        changed_at=parse_time(updated),
    )


def comment_change(
    comment: Mapping[str, Any],
    *,
    ticket_id: object,
    our_user_id: int | None,
    author_name: str | None,
    from_customer: bool = False,
) -> InboundChange:
    """A message (public comment) or note (private comment) of ticket ``ticket_id``.

    ``from_customer``: the author is an end user (a reply by e-mail or from
    the help center), so chatkit shows it as the customer's message.
    """
    public = bool(comment.get("public", True))
    created = comment.get("created_at")
    author = comment.get("author_id")
    text = comment.get("plain_body") or comment.get("body") or ""
    return InboundChange(
        object=SyncObject.MESSAGE if public else SyncObject.NOTE,
        remote_type="comment" if public else "private_comment",
        remote_id=str(comment["id"]),
        remote_version=str(created) if created else None,
        parent_remote_id=str(ticket_id),
        data={
            "text": str(text),
            "author_name": author_name,
            "from_integration": author is not None
            and our_user_id is not None
            and str(author) == str(our_user_id),
            "from_customer": from_customer,
        },
        changed_at=parse_time(created),
    )


def _external_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("external_id")
    return str(value) if value not in (None, "") else None
