"""chatkit records ↔ HubSpot properties: contacts, tickets, and notes with their kind label.

HubSpot notes have no public/private flag. The integration writes what a
note is as the first paragraph of its body, in bold: ``Chat message from the
customer``, ``Chat reply from an agent``, ``Chat message from a bot``,
``Chat message`` (system entries), ``Internal note`` or ``Chat transcript``.
Reading back, a note starting with ``Internal note`` — or with no label at
all (written by an agent in HubSpot) — is a private note; the others are
chatkit's own messages and transcripts echoed back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import JsonValue

from .._time import parse_iso_datetime

__all__ = [
    "INTERNAL_NOTE",
    "NOTE_BODY_MAX",
    "contact_data",
    "contact_properties",
    "note_body",
    "parse_note",
    "ticket_data",
    "ticket_properties",
]

NOTE_BODY_MAX = 65_536
INTERNAL_NOTE = "Internal note"
TRANSCRIPT = "Chat transcript"
_MESSAGE_LABELS = {
    "customer": "Chat message from the customer",
    "agent": "Chat reply from an agent",
    "bot": "Chat message from a bot",
    "system": "Chat message",
}
_OUR_LABELS = (*_MESSAGE_LABELS.values(), INTERNAL_NOTE, TRANSCRIPT)
_LABEL = re.compile(r"^\s*<p>\s*<strong>([^<]*)</strong>(.*?)</p>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>|</div>\s*<div>", re.IGNORECASE)

PRIORITY_OUT = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "HIGH"}
PRIORITY_IN = {"LOW": "low", "MEDIUM": "normal", "HIGH": "high", "URGENT": "urgent"}
INBOUND_STATUSES = ("open", "pending", "resolved", "closed")


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def contact_properties(data: Mapping[str, JsonValue]) -> dict[str, str]:
    """HubSpot contact properties from a chatkit contact (``name``, ``email``, ``phone``)."""
    properties: dict[str, str] = {}
    name = _text(data.get("name"))
    if name:
        first, _, last = name.strip().partition(" ")
        properties["firstname"] = first
        properties["lastname"] = last.strip()
    for key in ("email", "phone"):
        value = _text(data.get(key))
        if value:
            properties[key] = value.strip()
    return properties


def contact_data(properties: Mapping[str, str | None]) -> dict[str, JsonValue]:
    """chatkit contact data (``name``, ``email``, ``phone``) from what HubSpot has."""
    data: dict[str, JsonValue] = {}
    name = " ".join(p for p in (properties.get("firstname"), properties.get("lastname")) if p)
    if name.strip():
        data["name"] = name.strip()
    for key in ("email", "phone"):
        value = properties.get(key)
        if value:
            data[key] = value
    return data


def owner_email(data: Mapping[str, JsonValue]) -> str | None:
    """The email of a conversation's owner (``assignee_email``), lower case; ``None`` if none."""
    email = data.get("assignee_email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    return None


def ticket_properties(
    data: Mapping[str, JsonValue],
    local_id: str,
    *,
    pipeline: str,
    stages: Mapping[str, str],
    owners: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """HubSpot ticket properties from a chatkit conversation.

    ``subject`` (``Conversation <id>`` when it has none), the pipeline and the
    stage of its status, ``hs_ticket_priority`` (urgent becomes ``HIGH``),
    ``content`` naming the channel and tags, and ``hubspot_owner_id``: the
    owner in ``owners`` (email → owner id) with the email of the assignee,
    or ``""`` (no owner) when it is unassigned or not a HubSpot owner. Data
    without the ``assignee_email`` key leaves the owner alone.
    """
    status = _text(data.get("status")) or "open"
    priority = _text(data.get("priority")) or "normal"
    subject = _text(data.get("subject")) or f"Conversation {local_id}"
    channel = _text(data.get("channel")) or "web"
    raw_tags = data.get("tags")
    tags = [t for t in raw_tags if isinstance(t, str)] if isinstance(raw_tags, list) else []
    content = f"chatkit conversation {local_id} ({channel})"
    if tags:
        content += f"; tags: {', '.join(tags)}"
    properties = {
        "subject": subject[:500],
        "content": content,
        "hs_pipeline": pipeline,
        "hs_pipeline_stage": stages.get(status, stages.get("open", "1")),
        "hs_ticket_priority": PRIORITY_OUT.get(priority, "MEDIUM"),
    }
    if "assignee_email" in data:
        email = owner_email(data)
        properties["hubspot_owner_id"] = (owners or {}).get(email or "", "")
    return properties


def ticket_data(
    properties: Mapping[str, str | None], *, pipeline: str, stages: Mapping[str, str]
) -> dict[str, JsonValue]:
    """chatkit conversation data (``subject``, ``status``, ``priority``) from a ticket.

    A stage maps to the first of open, pending, resolved, closed configured
    for it (the default ``Closed`` stage reads as resolved, so a customer can
    still reopen); a stage only ``snoozed`` uses reads as open; stages of
    other pipelines give no status.
    """
    data: dict[str, JsonValue] = {}
    if properties.get("subject"):
        data["subject"] = properties["subject"]
    stage = properties.get("hs_pipeline_stage")
    if stage and (properties.get("hs_pipeline") or pipeline) == pipeline:
        inbound: dict[str, str] = {}
        for status in INBOUND_STATUSES:
            if status in stages:
                inbound.setdefault(stages[status], status)
        for stage_id in stages.values():
            inbound.setdefault(stage_id, "open")
        if stage in inbound:
            data["status"] = inbound[stage]
    priority = PRIORITY_IN.get(properties.get("hs_ticket_priority") or "")
    if priority:
        data["priority"] = priority
    return data


def note_body(kind: str, data: Mapping[str, JsonValue]) -> str:
    """The HTML body of a note: the bold label line, then the text (cut to HubSpot's limit).

    Args:
        kind: ``"message"``, ``"note"`` or ``"transcript"``.
        data: The chatkit message dump (``text``, ``author.role``) or the
            transcript (``text``, ``filename``).
    """
    if kind == "note":
        label = INTERNAL_NOTE
    elif kind == "transcript":
        filename = _text(data.get("filename"))
        label = TRANSCRIPT + (f" ({filename})" if filename else "")
    else:
        author = data.get("author")
        role = author.get("role") if isinstance(author, dict) else None
        label = _MESSAGE_LABELS.get(role if isinstance(role, str) else "", "Chat message")
    head = f"<p><strong>{html.escape(label)}</strong></p>"
    text = data.get("text") if isinstance(data.get("text"), str) else ""
    assert isinstance(text, str)
    room = NOTE_BODY_MAX - len(head) - 64
    body = _paragraph(text)
    if len(body) > room:  # cut the text, not the markup
        cut = text
        while len(_paragraph(cut)) > room:
            cut = cut[: max(0, len(cut) - (len(_paragraph(cut)) - room) - 16)]
        body = _paragraph(cut + " … (truncated)")
    return head + body


def _paragraph(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def parse_note(body: str | None) -> tuple[str | None, str]:
    """``(label, text)`` of a note body; ``label`` is ``None`` when it is not one of ours."""
    raw = body or ""
    label: str | None = None
    match = _LABEL.match(raw)
    if match:
        candidate = html.unescape(match.group(1)).strip()
        if candidate.startswith(_OUR_LABELS):
            label = candidate
            raw = raw[match.end() :]
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", raw))).strip()
    return label, text


def is_internal(label: str | None) -> bool:
    """Whether a parsed note is a private note (labelled so, or written in HubSpot)."""
    return label is None or label == INTERNAL_NOTE


def hubspot_datetime(value: str | None) -> datetime | None:
    """A HubSpot datetime property (ISO 8601 or epoch millis) as an aware datetime."""
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    try:
        moment = parse_iso_datetime(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def millis(moment: datetime) -> int:
    """Epoch milliseconds."""
    return round(moment.timestamp() * 1000)
