"""Transcripts: formats, escaping, notes, time zones, exports, e-mail."""

from __future__ import annotations

import json
import socket
import zipfile
from datetime import timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from chatkit import AsyncChatKit, Author, ChatKitSettings, InvalidInputError, SMTPSettings
from chatkit.blobs import LocalBlobStore
from chatkit.models import Attachment, AttachmentKind, Conversation, new_id, utcnow
from chatkit.stores.base import Insert

pytestmark = pytest.mark.anyio

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


async def _chat(kit: AsyncChatKit) -> tuple[Conversation, str]:
    inbound = await kit.messages.receive(
        channel="email", sender="ada@example.com", text=HOSTILE, name="Ada <b>Lovelace</b>"
    )
    mia = await kit.agents.create(name="Mia")
    conv = inbound.conversation
    await kit.messages.send(conv.id, "Hello Ada, on it.", author=Author.agent(mia.id))
    await kit.messages.note(conv.id, "internal: refund approved", agent_id=mia.id)
    await kit.conversations.add_tags(conv.id, "refund")
    return conv, mia.id


async def test_html_escapes_everything_from_users(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    page = await kit.transcripts.render(conv.id, format="html")
    assert "<script>" not in page
    assert "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "onerror=&quot;alert(2)&quot;" in page
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page
    assert "default-src 'none'" in page


async def test_text_transcript_hides_notes_unless_asked(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    plain = await kit.transcripts.render(conv.id, format="text")
    assert "Hello Ada, on it." in plain
    assert "refund approved" not in plain
    with_notes = await kit.transcripts.render(conv.id, format="text", include_notes=True)
    assert "(private note, email): internal: refund approved" in with_notes


async def test_time_stamps_in_the_chosen_zone(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    seoul = await kit.transcripts.render(conv.id, format="text", time_zone="Asia/Seoul")
    istanbul = await kit.transcripts.render(conv.id, format="text", time_zone="Europe/Istanbul")
    assert "+0900]" in seoul
    assert "+0300]" in istanbul
    with pytest.raises(InvalidInputError):
        await kit.transcripts.render(conv.id, time_zone="Mars/Olympus")


async def test_json_transcript_round_trips_the_messages(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    data = json.loads(await kit.transcripts.render(conv.id, format="json", time_zone="UTC"))
    assert data["conversation"]["id"] == conv.id
    assert [m["text"] for m in data["messages"]] == [HOSTILE, "Hello Ada, on it."]
    assert data["time_zone"] == "UTC"
    assert data["includes_notes"] is False


async def test_unknown_format_is_rejected(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    with pytest.raises(InvalidInputError):
        await kit.transcripts.render(conv.id, format="pdf")


async def test_select_filters_by_agent_tag_channel_and_time(kit: AsyncChatKit) -> None:
    conv, mia = await _chat(kit)
    other = await kit.messages.receive(channel="sms", sender="+15550100000", text="hi")
    await kit.conversations.assign(conv.id, mia)
    ids = lambda found: {c.id for c in found}  # noqa: E731
    assert ids(await kit.transcripts.select(agent_id=mia)) == {conv.id}
    assert ids(await kit.transcripts.select(tag="Refund")) == {conv.id}
    assert ids(await kit.transcripts.select(channel="sms")) == {other.conversation.id}
    now = utcnow()
    assert ids(await kit.transcripts.select(since=now - timedelta(minutes=5))) == {
        conv.id,
        other.conversation.id,
    }
    assert await kit.transcripts.select(until=now - timedelta(minutes=5)) == []
    with pytest.raises(InvalidInputError):
        await kit.transcripts.select(since=now.replace(tzinfo=None))


async def test_export_single_file_and_zip_with_attachments(
    kit: AsyncChatKit, tmp_path: Path
) -> None:
    conv, _ = await _chat(kit)
    single = await kit.transcripts.export(
        tmp_path / "one.html", conversation_ids=[conv.id], format="html"
    )
    assert "Hello Ada" in single.read_text()
    contact_id = conv.contact_id
    photo = await kit.attachments.upload(
        conv.id,
        b"GIF89a\x02\x00\x02\x00" + b"\0" * 30,
        name="../x.gif",
        author=Author.customer(contact_id),
    )
    await kit.messages.send(
        conv.id, "look", author=Author.customer(contact_id), attachments=[photo.id]
    )
    bundle = await kit.transcripts.export(
        tmp_path / "all.zip", tag="refund", format="text", attachments=True
    )
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert f"{conv.id}.txt" in names
        member = f"attachments/{conv.id}/{photo.id}-x.gif"
        assert member in names
        assert archive.read(member) == await kit.attachments.read(photo.id)
        assert "[attachment] x.gif (image/gif" in archive.read(f"{conv.id}.txt").decode()


SVG_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b"<script>fetch('/api/me')</script></svg>"
)
SVG_INERT = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect/></svg>'
PAGE = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


async def _stored_as_before(
    kit: AsyncChatKit, conv: Conversation, content: bytes, name: str, mime_type: str
) -> Attachment:
    """An attachment written by a release that stored active content under its own type."""

    async def body() -> Any:
        yield content

    attachment_id = new_id("att")
    key = f"att/{attachment_id[4:6]}/{attachment_id}"
    info = await kit._core.blobs.put(key, body())
    record = Attachment(
        id=attachment_id,
        conversation_id=conv.id,
        uploaded_by=Author.customer(conv.contact_id),
        blob_key=key,
        name=name,
        mime_type=mime_type,
        kind=AttachmentKind.IMAGE if mime_type.startswith("image/") else AttachmentKind.FILE,
        size=info.size,
        sha256=info.sha256,
    )
    await kit._core.commit([Insert(record)])
    return record


async def test_exported_attachments_are_named_by_their_type_never_as_active_content(
    store_url: str, tmp_path: Path
) -> None:
    settings = ChatKitSettings(
        attachments={"active_content": "download", "allowed_types": ("image/*", "text/*")}  # type: ignore[arg-type]
    )
    blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as kit:
        conv, _ = await _chat(kit)
        who = Author.customer(conv.contact_id)
        upload = kit.attachments.upload
        svg = await upload(conv.id, SVG_SCRIPT, name="logo.svg", author=who)
        page = await upload(conv.id, PAGE, name="notes.html", author=who)
        inert = await upload(conv.id, SVG_INERT, name="icon.svg", author=who)
        gif = await upload(
            conv.id, b"GIF89a\x02\x00\x02\x00" + b"\0" * 30, name="photo.jpg", author=who
        )
        text = await upload(conv.id, b"just words", name="readme", author=who)
        late = SVG_INERT.replace(b"<rect/>", b"<!--" + b"x" * 70_000 + b"--><script/>")
        old_svg = await _stored_as_before(kit, conv, SVG_SCRIPT, "old.svg", "image/svg+xml")
        old_late = await _stored_as_before(kit, conv, late, "late.svg", "image/svg+xml")
        old_page = await _stored_as_before(kit, conv, PAGE, "page.htm", "text/plain")
        rtl = await _stored_as_before(kit, conv, PAGE, "invoice\u202elmth.exe", "text/html")
        attached = [svg, page, inert, gif, text, old_svg, old_late, old_page, rtl]
        await kit.messages.send(conv.id, "files", author=who, attachments=[a.id for a in attached])
        bundle = await kit.transcripts.export(
            tmp_path / "all.zip", conversation_ids=[conv.id], attachments=True
        )
        with zipfile.ZipFile(bundle) as archive:
            folder = f"attachments/{conv.id}/"
            names = {n.removeprefix(folder) for n in archive.namelist() if n.startswith(folder)}
            assert names == {
                f"{svg.id}-logo.bin",
                f"{page.id}-notes.bin",
                f"{inert.id}-icon.svg",
                f"{gif.id}-photo.gif",
                f"{text.id}-readme.txt",
                f"{old_svg.id}-old.bin",
                f"{old_late.id}-late.bin",
                f"{old_page.id}-page.bin",
                f"{rtl.id}-invoicelmth.bin",
            }
            for attachment in attached:
                member = next(n for n in archive.namelist() if attachment.id in n)
                assert archive.read(member) == await kit.attachments.read(attachment.id)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


async def test_email_sends_html_and_text_to_the_contact(kit: AsyncChatKit) -> None:
    conv, _ = await _chat(kit)
    inbox = _Inbox()
    port = _free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        smtp = SMTPSettings(
            host="127.0.0.1",
            port=port,
            sender="support@example.com",
            starttls=False,
        )
        sent_to = await kit.transcripts.email(conv.id, smtp=smtp, time_zone="Europe/Istanbul")
    finally:
        server.stop()
    assert sent_to == "ada@example.com"
    assert inbox.recipients == [["ada@example.com"]]
    mail = inbox.mails[0]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert "Hello Ada, on it." in parts["text/plain"]
    assert "&lt;script&gt;" in parts["text/html"]
    assert "refund approved" not in parts["text/plain"] + parts["text/html"]


async def test_email_needs_an_address(kit: AsyncChatKit) -> None:
    inbound = await kit.messages.receive(channel="web", sender="visitor-9", text="hi")
    smtp = SMTPSettings(host="127.0.0.1", port=1, sender="support@example.com")
    with pytest.raises(InvalidInputError, match="no e-mail address"):
        await kit.transcripts.email(inbound.conversation.id, smtp=smtp)


def test_smtp_password_is_not_shown() -> None:
    smtp = SMTPSettings(host="h", sender="s@example.com", password="hunter2")  # type: ignore[arg-type]
    assert "hunter2" not in repr(smtp)
