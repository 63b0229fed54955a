"""Rendering conversations as transcripts: plain text, HTML and JSON.

Rendering is pure: it takes a `Transcript` (gathered by
`chatkit.services.transcripts.Transcripts`) and returns text. In HTML every
value that came from a user (messages, names, tags, file names) is escaped,
so ``<script>`` or an ``onerror=`` attribute shows as text and never runs.
"""

from __future__ import annotations

import html
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from .models import Agent, Contact, Conversation, Message, MessageKind

__all__ = ["Transcript", "TranscriptFormat", "render", "render_html", "render_json", "render_text"]


class TranscriptFormat(str, Enum):
    """Output formats of a transcript."""

    TEXT = "text"
    HTML = "html"
    JSON = "json"

    @property
    def suffix(self) -> str:
        """File name suffix for this format."""
        return {"text": ".txt", "html": ".html", "json": ".json"}[self.value]


class Transcript(BaseModel):
    """One conversation with what it takes to show it.

    Attributes:
        conversation: The conversation.
        contact: Its customer.
        agents: Agents who wrote in it, by id.
        messages: The messages shown, oldest first.
        includes_notes: Whether private notes are among ``messages``.
    """

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    contact: Contact
    agents: dict[str, Agent]
    messages: list[Message]
    includes_notes: bool

    def author_name(self, message: Message) -> str:
        """Display name of a message's author."""
        author = message.author
        if author.role.value == "customer":
            return self.contact.name or "Customer"
        if author.role.value == "agent" and author.id in self.agents:
            return self.agents[author.id].name
        return author.id or author.role.value


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z")


def render_text(transcript: Transcript, zone: ZoneInfo) -> str:
    """Plain text, one line per message (continuation lines indented)."""
    conv = transcript.conversation
    lines = [
        f"Conversation {conv.id}",
        f"Customer: {transcript.contact.name or '-'} ({transcript.contact.id})",
        f"Status: {conv.status.value}   Tags: {', '.join(conv.tags) or '-'}",
        f"Time zone: {zone.key}",
        "",
    ]
    for message in transcript.messages:
        label = "private note" if message.kind is MessageKind.NOTE else message.author.role.value
        head = f"[{_stamp(message.created_at, zone)}] {transcript.author_name(message)}"
        body = message.text.replace("\n", "\n    ")
        lines.append(f"{head} ({label}, {message.channel.value}): {body}")
        for attachment in message.attachments:
            kind = f"{attachment.mime_type}, {attachment.size} bytes"
            lines.append(f"    [attachment] {attachment.name} ({kind})")
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;color:#222}"
    ".m{margin:.6rem 0;padding:.5rem .8rem;border-radius:.5rem;background:#f3f4f6}"
    ".customer{background:#e0f2fe}.note{background:#fef9c3;border:1px dashed #ca8a04}"
    ".meta{font-size:.8rem;color:#555}.text{white-space:pre-wrap}"
)


def render_html(transcript: Transcript, zone: ZoneInfo) -> str:
    """A standalone HTML page; every user-supplied value is escaped."""
    esc = html.escape
    conv = transcript.conversation
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No script may run in a transcript, whatever it contains.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>Conversation {esc(conv.id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Conversation with {esc(transcript.contact.name or 'customer')}</h1>",
        f'<p class="meta">{esc(conv.id)} · status {esc(conv.status.value)} · tags '
        f"{esc(', '.join(conv.tags) or '-')} · times in {esc(zone.key)}</p>",
    ]
    for message in transcript.messages:
        css = "note" if message.kind is MessageKind.NOTE else message.author.role.value
        label = "private note" if message.kind is MessageKind.NOTE else message.author.role.value
        parts.append(
            f'<div class="m {esc(css)}"><div class="meta">'
            f"{esc(_stamp(message.created_at, zone))} · "
            f"<strong>{esc(transcript.author_name(message))}</strong> · {esc(label)} · "
            f'{esc(message.channel.value)}</div><div class="text">{esc(message.text)}</div>'
        )
        for attachment in message.attachments:
            parts.append(
                f'<div class="meta">📎 {esc(attachment.name)} ({esc(attachment.mime_type)}, '
                f"{attachment.size} bytes)</div>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_json(transcript: Transcript, zone: ZoneInfo) -> str:
    """JSON of the whole transcript; times keep UTC, ``time_zone`` says the chosen zone."""
    data = transcript.model_dump(mode="json")
    data["time_zone"] = zone.key
    return TranscriptJSON.model_validate(data).model_dump_json(indent=2)


class TranscriptJSON(Transcript):
    """The JSON export shape: a `Transcript` plus the chosen time zone."""

    time_zone: str


def render(transcript: Transcript, fmt: TranscriptFormat, zone: ZoneInfo) -> str:
    """Render in the given format."""
    renderers = {
        TranscriptFormat.TEXT: render_text,
        TranscriptFormat.HTML: render_html,
        TranscriptFormat.JSON: render_json,
    }
    return renderers[fmt](transcript, zone)
