"""Records of an emulated Zendesk account, in the shapes of the recorded API answers.

Constants, the API error, and builders for users, tickets, comments and audits
(see ``vendor-fixtures/zendesk_*.json``); `_state` keeps and changes them.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

Record = dict[str, Any]

BULK_LIMIT = 100
"""Items per create_many / update_many job, as in Zendesk."""

# The account constants of the recorded fixtures, so emulated tickets look like them.
ACCOUNT_ID = 18525119
ORGANIZATION_ID = 6130869157658
BRAND_ID = 6130830354842
TICKET_FORM_ID = 6130830344474
CUSTOM_STATUS_ID = 6130830355738
ADMIN_USER_ID = 6130907993114

TICKET_FIELDS = (
    "subject",
    "status",
    "priority",
    "type",
    "tags",
    "assignee_id",
    "group_id",
    "external_id",
    "custom_fields",
    "requester_id",
    "due_at",
)
# The fields a ticket's creation audit records, in Zendesk's order.
CREATE_EVENT_FIELDS = (
    "subject",
    "requester_id",
    "priority",
    "type",
    "status",
    "organization_id",
    "brand_id",
    "ticket_form_id",
    "custom_status_id",
)
USER_FIELDS = (
    "name",
    "email",
    "phone",
    "external_id",
    "role",
    "tags",
    "notes",
    "details",
    "time_zone",
    "locale",
    "organization_id",
    "verified",
    "user_fields",
)


class ZendeskAPIError(Exception):
    """An error answer of the emulated API: status code, JSON body, extra headers."""

    def __init__(
        self, status: int, body: Mapping[str, object], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


def invalid(attribute: str, description: str, error: str) -> ZendeskAPIError:
    details = {attribute: [{"description": description, "error": error}]}
    return ZendeskAPIError(
        422,
        {"error": "RecordInvalid", "description": "Record validation errors", "details": details},
    )


def not_found() -> ZendeskAPIError:
    return ZendeskAPIError(404, {"error": "RecordNotFound", "description": "Not found"})


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def via() -> Record:
    return {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}


def user_record(user_id: int, url: str, data: Mapping[str, Any], now: str) -> Record:
    """A new user in the shape of ``GET /api/v2/users/{id}.json``."""
    external_id = data.get("external_id")
    return {
        "id": user_id,
        "url": url,
        "name": data["name"],
        "email": data.get("email"),
        "created_at": now,
        "updated_at": now,
        "time_zone": data.get("time_zone", "UTC"),
        "iana_time_zone": "Etc/UTC",
        "phone": data.get("phone"),
        "shared_phone_number": None,
        "photo": None,
        "locale_id": 1,
        "locale": data.get("locale", "en-US"),
        "organization_id": data.get("organization_id"),
        "role": data.get("role", "end-user"),
        "verified": bool(data.get("verified", False)),
        "external_id": None if external_id is None else str(external_id),
        "tags": list(data.get("tags") or []),
        "alias": None,
        "active": True,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": None,
        "signature": None,
        "details": data.get("details", ""),
        "notes": data.get("notes", ""),
        "role_type": None,
        "custom_role_id": None,
        "moderator": data.get("role") == "admin",
        "ticket_restriction": "requested",
        "only_private_comments": False,
        "restricted_agent": data.get("role") not in ("admin", "agent"),
        "suspended": False,
        "default_group_id": None,
        "report_csv": False,
        "user_fields": dict(data.get("user_fields") or {}),
    }


def ticket_record(
    ticket_id: int,
    url: str,
    data: Mapping[str, Any],
    *,
    comment: Record,
    requester_id: int,
    author_id: int,
    now: str,
) -> Record:
    """A new ticket in the shape of the recorded ``POST /api/v2/tickets.json`` answer."""
    subject = data.get("subject") or comment["body"][:50]
    status = data.get("status") or ("open" if data.get("assignee_id") else "new")
    external_id = data.get("external_id")
    return {
        "url": url,
        "id": ticket_id,
        "external_id": None if external_id is None else str(external_id),
        "via": via(),
        "created_at": now,
        "updated_at": now,
        "type": data.get("type"),
        "subject": subject,
        "raw_subject": subject,
        "description": comment["body"],
        "priority": data.get("priority"),
        "status": status,
        "recipient": None,
        "requester_id": requester_id,
        "submitter_id": author_id,
        "assignee_id": data.get("assignee_id"),
        "organization_id": ORGANIZATION_ID,
        "group_id": data.get("group_id"),
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": comment["public"],
        "due_at": data.get("due_at"),
        "tags": list(data.get("tags") or []),
        "custom_fields": list(data.get("custom_fields") or []),
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "custom_status_id": CUSTOM_STATUS_ID,
        "fields": list(data.get("custom_fields") or []),
        "followup_ids": [],
        "ticket_form_id": TICKET_FORM_ID,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }


def audit_record(
    audit_id: int, ticket_id: int, author_id: int, events: list[Record], client: str, now: str
) -> Record:
    """A ticket audit in the recorded shape: who changed what, through which client."""
    return {
        "id": audit_id,
        "ticket_id": ticket_id,
        "created_at": now,
        "author_id": author_id,
        "metadata": {
            "system": {
                "client": client,
                "ip_address": "127.0.0.1",
                "location": "Emulated",
                "latitude": 0.0,
                "longitude": 0.0,
            },
            "custom": {},
        },
        "events": events,
        "via": via(),
    }


def comment_record(
    comment_id: int, data: Mapping[str, Any], author_id: int, audit_id: int
) -> Record:
    """A ``Comment`` audit event; ``public=False`` makes it a private (internal) note."""
    body = str(data.get("body") or data.get("html_body") or "")
    return {
        "id": comment_id,
        "type": "Comment",
        "author_id": int(data.get("author_id") or author_id),
        "body": body,
        "html_body": data.get("html_body")
        or f'<div class="zd-comment" dir="auto"><p dir="auto">{html.escape(body)}</p></div>',
        "plain_body": body,
        "public": bool(data.get("public", True)),
        "attachments": [],
        "audit_id": audit_id,
    }


def ticket_event_record(audit: Record, *, timestamp: int) -> Record:
    """An item of ``GET /api/v2/incremental/ticket_events.json``: an audit and its child events.

    Shaped as Zendesk exports them: ``timestamp`` (Unix seconds), ``updater_id``,
    ``via`` as a name (``Web service`` for the API), ``event_type`` ``Audit``, and
    ``child_events`` each with ``event_type`` (``Comment``, ``Create``, ``Change``)
    and ``via_reference_id``. A comment child carries the comment (``body``,
    ``html_body``, ``plain_body``, ``public``, ``author_id``, ``attachments``,
    ``audit_id``, ``created_at``); `export_event` trims it to ``comment_present``
    and ``comment_public`` when ``comment_events`` is not included.
    """
    children: list[Record] = []
    for event in audit["events"]:
        child: Record = {"id": event["id"], "via": audit["via"], "via_reference_id": None}
        if event["type"] == "Comment":
            child.update({k: v for k, v in event.items() if k not in ("id", "type")})
            child.update(type="Comment", created_at=audit["created_at"])
        elif event.get("field_name"):
            child[event["field_name"]] = event.get("value")
            if event["type"] == "Change":
                child["previous_value"] = event.get("previous_value")
        child["event_type"] = event["type"]
        children.append(child)
    return {
        "id": audit["id"],
        "ticket_id": audit["ticket_id"],
        "timestamp": timestamp,
        "created_at": audit["created_at"],
        "updater_id": audit["author_id"],
        "via": "Web service",
        "system": dict(audit["metadata"]["system"]),
        "metadata": {"custom": {}},
        "merged_ticket_ids": [],
        "event_type": "Audit",
        "child_events": children,
    }


def export_event(event: Record, *, comments: bool) -> Record:
    """A copy of a ticket event as exported, with or without the ``comment_events`` sideload."""
    if comments:
        return {**event, "child_events": [dict(c) for c in event["child_events"]]}
    children = []
    for child in event["child_events"]:
        if child["event_type"] == "Comment":
            child = {
                "id": child["id"],
                "via": child["via"],
                "via_reference_id": None,
                "comment_present": True,
                "comment_public": child["public"],
                "event_type": "Comment",
            }
        children.append(dict(child))
    return {**event, "child_events": children}


def attachment_record(
    attachment_id: int, *, base_url: str, token: str, filename: str, content_type: str, size: int
) -> Record:
    """An attachment in the shape of the Attachments API (``upload.attachment``)."""
    content_url = f"{base_url}/attachments/token/{token}/?name={quote(filename)}"
    return {
        "url": f"{base_url}/api/v2/attachments/{attachment_id}.json",
        "id": attachment_id,
        "file_name": filename,
        "content_url": content_url,
        "mapped_content_url": content_url,
        "content_type": content_type,
        "size": size,
        "width": None,
        "height": None,
        "inline": False,
        "deleted": False,
        "malware_access_override": False,
        "malware_scan_result": "malware_not_found",
        "thumbnails": [],
    }


def str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def encode_cursor(generated: int, ticket_id: int, seq: int) -> str:
    # Shaped like Zendesk's opaque cursors (base64 of "1695052663.0||28|").
    return base64.b64encode(f"{generated}.0||{ticket_id}|{seq}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor.encode(), validate=True).decode().split("|")[-1])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZendeskAPIError(
            400, {"error": "InvalidPaginationParameter", "description": "cursor is invalid"}
        ) from exc
