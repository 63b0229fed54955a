"""Transcripts: render, export (with attachments) and e-mail conversations."""

from __future__ import annotations

import builtins
import contextlib
import smtplib
import ssl
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio.to_thread

from ..errors import InvalidInputError, RemoteServiceError, quoted
from ..hours import time_zone
from ..mail import SMTPSettings
from ..media import (
    MARKUP_TYPES,
    SNIFF_BYTES,
    ActiveContentScanner,
    Sniffed,
    sniff,
    typed_filename,
)
from ..models import (
    Agent,
    Attachment,
    AuthorRole,
    Channel,
    Conversation,
    IdentityKind,
    Message,
    MessageKind,
)
from ..stores.base import In
from ..transcripts import Transcript, TranscriptFormat, render
from ._core import short
from .contacts import Contacts, Service, check_key, encodable

__all__ = ["SMTPSettings", "Transcripts"]


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str):
        raise InvalidInputError("time_zone must be an IANA zone name", field="time_zone")
    try:
        return time_zone(name)
    except (ValueError, OSError):
        # ZoneInfo's own errors can show the install path: name the zone only.
        raise InvalidInputError(f"unknown time zone {short(name)!r}", field="time_zone") from None


def _format(value: TranscriptFormat | str) -> TranscriptFormat:
    try:
        if not isinstance(value, str):
            raise ValueError(value)  # TranscriptFormat() would quote it, and may not manage to
        return TranscriptFormat(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"format must be one of {[f.value for f in TranscriptFormat]}", field="format"
        ) from exc


@contextlib.contextmanager
def _writable(target: Path) -> Iterator[None]:
    """Turn a path that cannot be written into `InvalidInputError` naming ``path``."""
    try:
        yield
    except (OSError, ValueError) as exc:  # ValueError: a NUL or a lone surrogate
        reason = getattr(exc, "strerror", None) or "not a usable file name"
        raise InvalidInputError(
            f"cannot write {quoted(str(target))}: {reason}", field="path"
        ) from exc


class Transcripts(Service):
    """Conversations as readable records for managers, customers and archives.

    Example:
        ```python
        print(await kit.transcripts.render(conv.id, format="text", time_zone="Asia/Seoul"))
        await kit.transcripts.export("week.zip", since=monday, tag="refund", attachments=True)
        ```
    """

    async def get(self, conversation_id: str, *, include_notes: bool = False) -> Transcript:
        """Gather one conversation's transcript (private notes only on request).

        Raises:
            NotFoundError: No such conversation.
        """
        if not isinstance(include_notes, bool):
            raise InvalidInputError("include_notes must be True or False", field="include_notes")
        conversation = await self._load(Conversation, conversation_id, "conversation")
        contact = await Contacts(self._core).get(conversation.contact_id)
        store = self._core.store
        messages = await store.find(Message, {"conversation_id": conversation.id}, order_by="seq")
        if not include_notes:
            messages = [m for m in messages if m.kind is not MessageKind.NOTE]
        agent_ids = {
            m.author.id for m in messages if m.author.role is AuthorRole.AGENT and m.author.id
        }
        agents = {a.id: a for a in await store.find(Agent, {"id": In(sorted(agent_ids))})}
        return Transcript(
            conversation=conversation,
            contact=contact,
            agents=agents,
            messages=messages,
            includes_notes=include_notes,
        )

    async def render(
        self,
        conversation_id: str,
        *,
        format: TranscriptFormat | str = TranscriptFormat.TEXT,
        include_notes: bool = False,
        time_zone: str = "UTC",
    ) -> str:
        """Render one conversation as text, HTML or JSON.

        Args:
            conversation_id: The conversation.
            format: ``text``, ``html`` or ``json``.
            include_notes: Include agents' private notes.
            time_zone: IANA zone for the time stamps, e.g. ``"Europe/Istanbul"``.
        """
        fmt, zone = _format(format), _zone(time_zone)
        return render(await self.get(conversation_id, include_notes=include_notes), fmt, zone)

    async def select(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        agent_id: str | None = None,
        tag: str | None = None,
        channel: Channel | str | None = None,
    ) -> builtins.list[Conversation]:
        """Conversations active in ``[since, until)`` matching every filter given.

        Args:
            since: Last activity at or after this (aware) time.
            until: Last activity before this time.
            agent_id: Assigned to this agent.
            tag: Carrying this tag.
            channel: Used this channel at some point.
        """
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                raise InvalidInputError(f"{name} must be a timezone-aware datetime", field=name)
        if tag is not None and not isinstance(tag, str):
            raise InvalidInputError("tag must be a string", field="tag")
        if agent_id is not None:
            check_key(agent_id, "agent_id")
        try:
            if channel is not None and not isinstance(channel, str):
                raise ValueError(channel)  # Channel() would quote it, and may not manage to
            wanted_channel = Channel(channel) if channel is not None else None
        except ValueError:
            raise InvalidInputError(
                f"channel must be one of {[c.value for c in Channel]}", field="channel"
            ) from None
        where = {"assignee_id": agent_id} if agent_id is not None else None
        store = await self._core.ready()
        found = []
        for conv in await store.find(Conversation, where, order_by="activity_key"):
            active = conv.last_message_at or conv.updated_at
            if since is not None and active < since:
                continue
            if until is not None and active >= until:
                continue
            if tag is not None and tag.strip().lower() not in conv.tags:
                continue
            if wanted_channel is not None and wanted_channel not in conv.channels:
                continue
            found.append(conv)
        return found

    async def export(
        self,
        path: str | Path,
        *,
        conversation_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        agent_id: str | None = None,
        tag: str | None = None,
        channel: Channel | str | None = None,
        format: TranscriptFormat | str = TranscriptFormat.HTML,
        include_notes: bool = False,
        time_zone: str = "UTC",
        attachments: bool = False,
    ) -> Path:
        """Write transcripts to ``path``.

        One conversation without attachments becomes a single file; anything
        more becomes a zip with one transcript per conversation and, with
        ``attachments=True``, the attachment files under
        ``attachments/<conversation id>/``, named
        ``<attachment id>-<name>`` with the extension of the type sniffed
        from their bytes (`chatkit.media.typed_filename`): content a
        browser would run (HTML, SVG or XML with script, anything stored as
        ``application/octet-stream``) is written as ``.bin``, never under an
        ``.html`` or ``.svg`` name.

        Returns:
            The path written.
        """
        fmt, zone = _format(format), _zone(time_zone)
        if conversation_ids is None:
            chosen = [
                c.id
                for c in await self.select(
                    since=since, until=until, agent_id=agent_id, tag=tag, channel=channel
                )
            ]
        elif not isinstance(conversation_ids, list | tuple) or not all(
            isinstance(c, str) for c in conversation_ids
        ):
            raise InvalidInputError(
                "conversation_ids must be a list of ids", field="conversation_ids"
            )
        else:
            chosen = list(conversation_ids)
        if not isinstance(path, str | Path):
            raise InvalidInputError("path must be a file path", field="path")
        if not isinstance(attachments, bool):
            raise InvalidInputError("attachments must be True or False", field="attachments")
        target = Path(path)
        transcripts = [await self.get(c, include_notes=include_notes) for c in chosen]
        if len(transcripts) == 1 and not attachments:
            text = render(transcripts[0], fmt, zone)
            with _writable(target):
                await anyio.to_thread.run_sync(lambda: target.write_text(text, encoding="utf-8"))
            return target
        with _writable(target):
            archive = await anyio.to_thread.run_sync(lambda: zipfile.ZipFile(target, "w"))
        try:
            for transcript in transcripts:
                conv_id = transcript.conversation.id
                body = render(transcript, fmt, zone)
                await anyio.to_thread.run_sync(archive.writestr, f"{conv_id}{fmt.suffix}", body)
                if attachments:
                    await self._bundle(archive, transcript)
        finally:
            await anyio.to_thread.run_sync(archive.close)
        return target

    async def _bundle(self, archive: zipfile.ZipFile, transcript: Transcript) -> None:
        for message in transcript.messages:
            for info in message.attachments:
                record = await self._load(Attachment, info.id, "attachment")
                mime_type = await self._exported_type(record)
                file_name = typed_filename(record.name, mime_type)
                name = f"attachments/{transcript.conversation.id}/{info.id}-{file_name}"
                handle = await anyio.to_thread.run_sync(archive.open, name, "w")
                try:
                    async for chunk in self._core.blobs.open(record.blob_key):
                        await anyio.to_thread.run_sync(handle.write, chunk)
                finally:
                    await anyio.to_thread.run_sync(handle.close)

    async def _exported_type(self, record: Attachment) -> str:
        """The type of an attachment's bytes as they are now, for its exported name.

        Stored ``application/octet-stream`` stays so. Otherwise the bytes are
        sniffed again (stores written before active content was refused
        may hold an SVG with script as ``image/svg+xml``), SVG and XML
        scanned to their end; active content is ``application/octet-stream``.
        """
        download = "application/octet-stream"
        if record.mime_type == download:
            return download
        chunks = self._core.blobs.open(record.blob_key)
        try:
            found = await _sniff_all(chunks)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        return download if found.active is not None else found.mime_type

    async def email(
        self,
        conversation_id: str,
        *,
        smtp: SMTPSettings,
        to: str | None = None,
        time_zone: str = "UTC",
        subject: str | None = None,
    ) -> str:
        """E-mail a conversation's transcript (HTML with a plain-text part) to the customer.

        Private notes are never included.

        Args:
            conversation_id: The conversation.
            smtp: The SMTP server to use.
            to: Recipient; default: the contact's e-mail identity.
            time_zone: Zone for the time stamps.
            subject: Subject line; a sensible default otherwise.

        Returns:
            The address it was sent to.

        Raises:
            InvalidInputError: No recipient (the contact has no e-mail address), or
                ``to`` or ``subject`` is not one line of text.
            RemoteServiceError: The SMTP server could not be reached or refused the mail.
        """
        if not isinstance(smtp, SMTPSettings):
            raise InvalidInputError("smtp must be SMTPSettings", field="smtp")
        zone = _zone(time_zone)
        for field, header in (("to", to), ("subject", subject)):
            if header is not None and (
                not isinstance(header, str)
                or "\x00" in header
                or not encodable(header)
                or "".join(header.splitlines()) != header  # CR, LF and every other line break
            ):
                raise InvalidInputError(
                    f"{field} must be one line of text (no line break, NUL or lone surrogate)",
                    field=field,
                )
        transcript = await self.get(conversation_id, include_notes=False)
        if to is None:
            emails = [
                i.value for i in transcript.contact.identities if i.kind is IdentityKind.EMAIL
            ]
            if not emails:
                raise InvalidInputError("the contact has no e-mail address; pass to=", field="to")
            to = emails[0]
        mail = EmailMessage()
        mail["From"] = smtp.sender
        mail["To"] = to
        mail["Subject"] = subject or "Your conversation with our support team"
        mail.set_content(render(transcript, TranscriptFormat.TEXT, zone))
        mail.add_alternative(render(transcript, TranscriptFormat.HTML, zone), subtype="html")
        try:
            await anyio.to_thread.run_sync(_send_mail, smtp, mail)
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS, auth
            raise RemoteServiceError(
                f"could not send the transcript through {short(smtp.host)}:{smtp.port}: "
                f"{short(exc, 200)}",
                service="smtp",
            ) from exc
        return to


async def _sniff_all(chunks: AsyncIterator[bytes]) -> Sniffed:
    """`sniff` the first bytes; SVG and XML are then scanned to their end."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    found = sniff(head[:SNIFF_BYTES])
    if len(head) < SNIFF_BYTES or found.active is not None or found.mime_type not in MARKUP_TYPES:
        return found  # a file shorter than the window was sniffed (and scanned) whole
    scanner = ActiveContentScanner(found.mime_type)
    reason = scanner.feed(head)
    async for chunk in chunks:
        if reason is not None:
            break
        reason = scanner.feed(chunk)
    reason = reason or scanner.feed(b"", final=True)
    return Sniffed(found.mime_type, active=reason) if reason is not None else found


def _send_mail(settings: SMTPSettings, mail: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.use_tls:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.starttls and not settings.use_tls:
            client.starttls(context=context)
        if settings.username and settings.password:
            client.login(settings.username, settings.password.get_secret_value())
        client.send_message(mail)
