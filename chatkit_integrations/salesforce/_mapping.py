"""Between chatkit records and Salesforce fields (Contact, Case, CaseComment)."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

__all__ = [
    "COMMENT_BODY_BYTES",
    "case_fields",
    "case_to_chatkit",
    "comment_body",
    "contact_fields",
    "contact_to_chatkit",
    "owner_email",
]

COMMENT_BODY_BYTES = 4000
"""CaseComment.CommentBody holds at most 4,000 bytes."""

_PRIORITY_OUT = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}
_PRIORITY_IN = {"low": "low", "medium": "normal", "high": "high", "critical": "urgent"}
_STATUS_IN = {
    "new": "open",
    "working": "open",
    "escalated": "open",
    "on hold": "pending",
    "waiting on customer": "pending",
    "closed": "resolved",
}


def _text(value: JsonValue | None, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def split_name(name: str) -> tuple[str | None, str]:
    """``("Ann Marie", "Smith")`` from ``"Ann Marie Smith"``: Salesforce's first and last name."""
    first, _, last = name.strip().rpartition(" ")
    return (first.strip() or None), last


def contact_fields(data: dict[str, JsonValue]) -> dict[str, Any]:
    """Contact fields for a chatkit contact (``name``, ``email``, ``phone``).

    ``LastName`` is required by Salesforce: the name's last word, else the
    email, else the phone, else ``"Unknown"``.
    """
    name = _text(data.get("name"), 200)
    email = _text(data.get("email"), 80)
    phone = _text(data.get("phone"), 40)
    first: str | None = None
    if name:
        first, last = split_name(name)
    else:
        last = email or phone or "Unknown"
    return {
        "FirstName": first[:40] if first else None,
        "LastName": last[:80],
        "Email": email,
        "Phone": phone,
    }


def owner_email(data: dict[str, JsonValue]) -> str | None:
    """The email of a conversation's owner (``assignee_email``), lower case; ``None`` if none."""
    email = data.get("assignee_email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    return None


def case_fields(
    data: dict[str, JsonValue], *, origin: str | None, owner_id: str | None = None
) -> dict[str, Any]:
    """Case fields for a chatkit conversation: Subject, Status, Priority (and Origin).

    ``owner_id`` is the Salesforce User owning the case (the conversation's
    assignee, looked up by email); without one, OwnerId is left out: a new
    case gets the org's default owner, an existing one keeps its owner.
    """
    status = str(data.get("status") or "open")
    escalated = bool(data.get("escalations"))
    if status in ("resolved", "closed"):
        case_status = "Closed"
    elif escalated:
        case_status = "Escalated"
    elif status == "open" and not data.get("assignee_id"):
        case_status = "New"
    else:  # pending, snoozed, or open with an agent on it
        case_status = "Working"
    fields: dict[str, Any] = {
        "Subject": _text(data.get("subject"), 255) or "Chat conversation",
        "Status": case_status,
        "Priority": _PRIORITY_OUT.get(str(data.get("priority") or "normal"), "Medium"),
    }
    if origin:
        fields["Origin"] = origin
    if owner_id:
        fields["OwnerId"] = owner_id
    return fields


def comment_body(text: JsonValue | None) -> str:
    """The message text cut to what CommentBody holds (4,000 bytes of UTF-8)."""
    body = str(text or "")
    encoded = body.encode("utf-8")
    if len(encoded) <= COMMENT_BODY_BYTES:
        return body
    return encoded[:COMMENT_BODY_BYTES].decode("utf-8", "ignore")


def contact_to_chatkit(record: dict[str, Any]) -> dict[str, JsonValue]:
    """A Contact as chatkit contact data: ``name``, ``email``, ``phone``."""
    return {
        "name": record.get("Name"),
        "email": record.get("Email"),
        "phone": record.get("Phone") or record.get("MobilePhone"),
    }


def case_to_chatkit(record: dict[str, Any]) -> dict[str, JsonValue]:
    """A Case as chatkit conversation data: ``subject``, ``status``, ``priority``.

    Closed cases come back ``resolved`` (a customer may still reopen them);
    unknown statuses and priorities are left out, so the engine keeps its own.
    """
    data: dict[str, JsonValue] = {"subject": record.get("Subject")}
    status = _STATUS_IN.get(str(record.get("Status") or "").lower())
    if status is not None:
        data["status"] = status
    priority = _PRIORITY_IN.get(str(record.get("Priority") or "").lower())
    if priority is not None:
        data["priority"] = priority
    return data
