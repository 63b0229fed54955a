"""Zoho CRM part: how chatkit's fields map to Zoho's (statuses, priorities, note titles)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import JsonValue

from chatkit.integrations import (
    SyncObject,
)

from .._time import parse_iso_datetime

STATUS_OUT = {
    "open": "New",
    "pending": "On Hold",
    "snoozed": "On Hold",
    "resolved": "Closed",
    "closed": "Closed",
}
STATUS_IN = {"New": "open", "Escalated": "open", "On Hold": "pending", "Closed": "resolved"}
PRIORITY_OUT = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}
PRIORITY_IN = {"Low": "low", "Medium": "normal", "High": "high"}
FIELDS = {
    "Contacts": ("First_Name", "Last_Name", "Email", "Phone", "Modified_Time"),
    "Cases": ("Subject", "Status", "Priority", "Contact_Name", "Modified_Time"),
    "Notes": ("Note_Title", "Note_Content", "Parent_Id", "Created_By", "Modified_Time"),
}
KINDS = {"Contacts": SyncObject.CONTACT, "Cases": SyncObject.CONVERSATION, "Notes": SyncObject.NOTE}
REMOTE_TYPES = {"Contacts": "Contact", "Cases": "Case", "Notes": "Note"}
_MARK = re.compile(r"\[([A-Za-z0-9_]+)\]\s*$")
_TITLES = {
    SyncObject.MESSAGE: "Chat message",
    SyncObject.NOTE: "Private note",
    SyncObject.TRANSCRIPT: "Chat transcript",
}
RESUBSCRIBE_MARGIN = timedelta(minutes=10)
CHANNEL_LIFETIME = timedelta(hours=23)


def _text(value: JsonValue) -> str:
    return value.strip() if isinstance(value, str) else ""


def _stamp(value: object) -> datetime:
    moment = parse_iso_datetime(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
