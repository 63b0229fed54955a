"""Attachments: sniffing, limits, safe names, streaming, sending, downloading."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKit,
    ChatKitSettings,
    InvalidInputError,
    NotFoundError,
)
from chatkit.blobs import LocalBlobStore, MemoryBlobStore
from chatkit.errors import AttachmentTooLargeError, AttachmentTypeError, TooManyAttachmentsError
from chatkit.models import Attachment, AttachmentKind, Conversation

pytestmark = pytest.mark.anyio


def png(width: int = 4, height: int = 3) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        + b"\x00" * 64
    )


async def _setup(kit: AsyncChatKit) -> tuple[str, Conversation]:
    inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="hi")
    return inbound.contact.id, inbound.conversation


def _blob_files(kit: AsyncChatKit) -> list[Path]:
    blobs = kit.blobs
    if isinstance(blobs, LocalBlobStore):
        return [p for p in blobs.root.rglob("*") if p.is_file()] if blobs.root.exists() else []
    assert isinstance(blobs, MemoryBlobStore)
    return [Path(k) for k in blobs._blobs]


async def test_upload_sniffs_type_and_dimensions_then_sends(kit: AsyncChatKit) -> None:
    contact_id, conv = await _setup(kit)
    customer = Author.customer(contact_id)
    photo = await kit.attachments.upload(conv.id, png(640, 480), name="photo.jpg", author=customer)
    assert photo.mime_type == "image/png"  # sniffed, whatever the name says
    assert photo.kind is AttachmentKind.IMAGE
    assert (photo.width, photo.height, photo.size) == (640, 480, len(png(640, 480)))
    assert photo.message_id is None
    message = await kit.messages.send(conv.id, "", author=customer, attachments=[photo.id])
    assert [a.id for a in message.attachments] == [photo.id]
    assert message.attachments[0].sha256 == photo.sha256
    assert (await kit.attachments.get(photo.id)).message_id == message.id
    assert await kit.attachments.read(photo.id) == png(640, 480)
    listed = (await kit.messages.list(conv.id)).items[-1]
    assert listed.attachments == message.attachments


async def test_gif_and_video_kinds(kit: AsyncChatKit) -> None:
    contact_id, conv = await _setup(kit)
    who = Author.customer(contact_id)
    gif = await kit.attachments.upload(
        conv.id, b"GIF89a" + struct.pack("<HH", 8, 8) + b"\0" * 20, name="lol.gif", author=who
    )
    video = await kit.attachments.upload(
        conv.id, b"\x00\x00\x00\x18ftypmp42" + b"\0" * 100, name="clip", author=who
    )
    assert (gif.mime_type, gif.kind) == ("image/gif", AttachmentKind.IMAGE)
    assert (video.mime_type, video.kind) == ("video/mp4", AttachmentKind.VIDEO)


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("evil\x1b[2J\x00.png", "evil_[2J_.png"),
        ("..", "attachment"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("rep\u2066ort\u2069\x85\x9b.txt", "report_.txt"),
        ("\u202e\u200f\x9c", "attachment"),
    ],
)
async def test_hostile_names_are_stored_safely(kit: AsyncChatKit, name: str, stored: str) -> None:
    contact_id, conv = await _setup(kit)
    att = await kit.attachments.upload(
        conv.id, b"plain text", name=name, author=Author.customer(contact_id)
    )
    assert att.name == stored
    assert att.blob_key.startswith("att/")
    assert ".." not in att.blob_key


async def test_too_large_stores_nothing(store_url: str) -> None:
    settings = ChatKitSettings(attachments={"max_bytes": 100_000})  # type: ignore[arg-type]
    async with AsyncChatKit(store_url, settings=settings) as kit:
        contact_id, conv = await _setup(kit)

        async def big() -> AsyncIterator[bytes]:
            yield png()
            for _ in range(10):
                yield b"\0" * 20_000

        with pytest.raises(AttachmentTooLargeError) as caught:
            await kit.attachments.upload(
                conv.id, big(), name="big.png", author=Author.customer(contact_id)
            )
        assert caught.value.limit == 100_000
        assert _blob_files(kit) == []
        assert await kit.store.find(Attachment, {"conversation_id": conv.id}) == []


async def test_disallowed_type_stores_nothing(kit: AsyncChatKit) -> None:
    _, conv = await _setup(kit)
    with pytest.raises(AttachmentTypeError) as caught:
        await kit.attachments.upload(
            conv.id, b"MZ\x90\x00" + b"\0" * 100, name="invoice.pdf", author=Author.agent("x")
        )
    assert caught.value.mime_type == "application/octet-stream"
    assert _blob_files(kit) == []


async def test_allowed_types_are_configurable(store_url: str) -> None:
    settings = ChatKitSettings(attachments={"allowed_types": ("image/png",)})  # type: ignore[arg-type]
    async with AsyncChatKit(store_url, settings=settings) as kit:
        contact_id, conv = await _setup(kit)
        who = Author.customer(contact_id)
        await kit.attachments.upload(conv.id, png(), name="ok.png", author=who)
        with pytest.raises(AttachmentTypeError):
            await kit.attachments.upload(conv.id, b"GIF89a\x01\x00\x01\x00", name="x", author=who)


async def test_too_many_attachments_on_one_message(store_url: str) -> None:
    settings = ChatKitSettings(attachments={"max_per_message": 2})  # type: ignore[arg-type]
    async with AsyncChatKit(store_url, settings=settings) as kit:
        contact_id, conv = await _setup(kit)
        who = Author.customer(contact_id)
        ids = [
            (await kit.attachments.upload(conv.id, png(), name=f"{n}.png", author=who)).id
            for n in range(3)
        ]
        before = await kit.store.last_position()
        with pytest.raises(TooManyAttachmentsError) as caught:
            await kit.messages.send(conv.id, "three", author=who, attachments=ids)
        assert (caught.value.count, caught.value.limit) == (3, 2)
        assert await kit.store.last_position() == before
        for attachment_id in ids:
            assert (await kit.attachments.get(attachment_id)).message_id is None


async def test_attachment_cannot_be_sent_twice_or_elsewhere(kit: AsyncChatKit) -> None:
    contact_id, conv = await _setup(kit)
    who = Author.customer(contact_id)
    att = await kit.attachments.upload(conv.id, png(), name="a.png", author=who)
    await kit.messages.send(conv.id, "one", author=who, attachments=[att.id])
    with pytest.raises(InvalidInputError, match="already sent"):
        await kit.messages.send(conv.id, "two", author=who, attachments=[att.id])
    other = await kit.conversations.create(contact_id=contact_id)
    fresh = await kit.attachments.upload(conv.id, png(), name="b.png", author=who)
    with pytest.raises(InvalidInputError, match="another conversation"):
        await kit.messages.send(other.id, "x", author=who, attachments=[fresh.id])
    with pytest.raises(NotFoundError):
        await kit.messages.send(conv.id, "x", author=who, attachments=["att_missing"])


async def test_bad_sources_and_authors(kit: AsyncChatKit) -> None:
    contact_id, conv = await _setup(kit)
    with pytest.raises(InvalidInputError):
        await kit.attachments.upload(
            conv.id,
            "a/path/as/str",  # type: ignore[arg-type]
            name="x",
            author=Author.customer(contact_id),
        )
    with pytest.raises(InvalidInputError):
        await kit.attachments.upload(conv.id, b"x", name="x", author=Author.customer("ct_other"))
    with pytest.raises(NotFoundError):
        await kit.attachments.upload("conv_missing", b"x", name="x", author=Author.system())


async def test_sources_path_and_file_object(kit: AsyncChatKit, tmp_path: Path) -> None:
    contact_id, conv = await _setup(kit)
    who = Author.customer(contact_id)
    source = tmp_path / "doc.pdf"
    source.write_bytes(b"%PDF-1.7\n" + b"x" * 200_000)
    from_path = await kit.attachments.upload(conv.id, source, name="doc.pdf", author=who)
    with source.open("rb") as handle:
        from_file = await kit.attachments.upload(conv.id, handle, name="doc.pdf", author=who)
    assert from_path.sha256 == from_file.sha256
    assert from_path.size == 200_009
    chunks = [c async for c in kit.attachments.open(from_path.id)]
    assert len(chunks) > 1
    assert b"".join(chunks) == source.read_bytes()


async def test_sqlite_kit_keeps_blobs_beside_the_database(tmp_path: Path) -> None:
    async with AsyncChatKit(f"sqlite:///{tmp_path}/support.db") as kit:
        contact_id, conv = await _setup(kit)
        await kit.attachments.upload(
            conv.id, png(), name="p.png", author=Author.customer(contact_id)
        )
        assert isinstance(kit.blobs, LocalBlobStore)
        assert kit.blobs.root == tmp_path / "support.db-blobs"
        assert len(_blob_files(kit)) == 1


async def test_a_200_mb_video_streams_with_bounded_memory(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    settings = ChatKitSettings(attachments={"max_bytes": size})  # type: ignore[arg-type]
    async with AsyncChatKit(f"sqlite:///{tmp_path}/s.db", settings=settings) as kit:
        contact_id, conv = await _setup(kit)
        block = b"\x00\x00\x00\x18ftypmp42" + b"\x07" * (1024 * 1024 - 12)

        async def video() -> AsyncIterator[bytes]:
            for _ in range(200):
                yield block

        tracemalloc.start()
        try:
            att = await kit.attachments.upload(
                conv.id, video(), name="unboxing.mp4", author=Author.customer(contact_id)
            )
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            total = 0
            async for chunk in kit.attachments.open(att.id):
                total += len(chunk)
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert att.size == size == total
        assert att.kind is AttachmentKind.VIDEO
        assert upload_peak < 16 * 1024 * 1024
        assert download_peak < 16 * 1024 * 1024


def test_sync_facade_uploads_and_streams(tmp_path: Path) -> None:
    with ChatKit(f"sqlite:///{tmp_path}/s.db") as kit:
        inbound = kit.messages.receive(channel="web", sender="v", text="hi")
        who = Author.customer(inbound.contact.id)
        att = kit.attachments.upload(inbound.conversation.id, png(), name="p.png", author=who)
        kit.messages.send(inbound.conversation.id, "pic", author=who, attachments=[att.id])
        assert b"".join(kit.attachments.open(att.id)) == png()
        assert kit.attachments.read(att.id) == png()
