"""Attachments: streaming upload with limits, sniffing, download."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO, TypeAlias

import anyio
import anyio.to_thread

from ..errors import (
    ActiveContentError,
    AttachmentTooLargeError,
    AttachmentTypeError,
    InvalidInputError,
    NotFoundError,
)
from ..media import MARKUP_TYPES, SNIFF_BYTES, ActiveContentScanner, safe_filename, sniff
from ..models import Attachment, Author, AuthorRole, Conversation
from ..models._base import new_id
from ..models.attachments import kind_of
from ..stores.base import Insert
from .contacts import Service

__all__ = ["Attachments", "Source"]

CHUNK = 1 << 16

Source: TypeAlias = bytes | os.PathLike[str] | BinaryIO | AsyncIterable[bytes] | Iterable[bytes]
"""What can be uploaded: bytes, a file path, a binary file object, or (async) chunks."""


def _as_bytes(chunk: object) -> bytes:
    """One chunk of an iterable source; only bytes-like objects (``bytes(5)`` is no chunk)."""
    try:
        return bytes(memoryview(chunk))  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInputError(
            "an iterable source must yield bytes-like chunks", field="source"
        ) from None


async def _chunks(source: Source) -> AsyncGenerator[bytes, None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
    elif isinstance(source, os.PathLike):
        async with await anyio.open_file(Path(source), "rb") as handle:
            while chunk := await handle.read(CHUNK):
                yield chunk
    elif hasattr(source, "read"):
        reader = source
        while chunk := await anyio.to_thread.run_sync(reader.read, CHUNK):
            yield bytes(chunk)
    elif isinstance(source, AsyncIterable):
        async for chunk in source:
            yield _as_bytes(chunk)
    elif isinstance(source, Iterable) and not isinstance(source, str):  # type: ignore[unreachable]
        for chunk in source:
            yield _as_bytes(chunk)
    else:
        raise InvalidInputError(
            "source must be bytes, a path, a binary file or an iterable of bytes", field="source"
        )


class _Limited:
    """Re-yields chunks, failing once the total passes ``limit``."""

    def __init__(self, head: bytes, rest: AsyncIterator[bytes], limit: int) -> None:
        self.head, self.rest, self.limit = head, rest, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = len(self.head)
        if self.head:
            yield self.head
        async for chunk in self.rest:
            total += len(chunk)
            if total > self.limit:
                raise AttachmentTooLargeError(limit=self.limit)
            yield chunk


class _Scanned:
    """Re-yields chunks, looking for active content in an SVG or XML document.

    With ``refuse`` set, what is found raises `ActiveContentError` (the blob
    store then drops the partial bytes); otherwise it is kept in `found`.
    """

    def __init__(self, chunks: AsyncIterator[bytes], mime_type: str, *, refuse: bool) -> None:
        self.chunks, self.mime_type, self.refuse = chunks, mime_type, refuse
        self.scanner = ActiveContentScanner(mime_type)
        self.found: str | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self._check(chunk)
            yield chunk
        self._check(b"", final=True)

    def _check(self, chunk: bytes, *, final: bool = False) -> None:
        if self.found is not None:
            return
        self.found = self.scanner.feed(chunk, final=final)
        if self.found is not None and self.refuse:
            raise ActiveContentError(mime_type=self.mime_type, reason=self.found)


class Attachments(Service):
    """Images, GIFs, files and video messages.

    Upload first, then send the attachment with a message:

    Example:
        ```python
        photo = await kit.attachments.upload(
            conv.id, Path("parcel.jpg"), name="parcel.jpg", author=Author.customer(ada.id)
        )
        await kit.messages.send(conv.id, "It arrived like this", author=Author.customer(ada.id),
                                attachments=[photo.id])
        async for chunk in kit.attachments.open(photo.id):
            ...
        ```
    """

    async def upload(
        self, conversation_id: str, source: Source, *, name: str, author: Author
    ) -> Attachment:
        """Stream ``source`` into the blob store and record it for this conversation.

        The MIME type is sniffed from the first bytes; the name is made safe;
        size and SHA-256 are measured while streaming, so memory use stays
        bounded whatever the size. Content a browser would run (HTML; SVG or
        XML with script, handlers or embedded HTML, searched to the last
        byte) is refused, or with ``AttachmentLimits(active_content="download")``
        stored as ``application/octet-stream``.

        Raises:
            NotFoundError: No such conversation.
            ActiveContentError: A browser would run the content (an
                `AttachmentTypeError`).
            AttachmentTypeError: The content's type is not allowed.
            AttachmentTooLargeError: It is bigger than the limit.
            InvalidInputError: Bad source, name or author.
        """
        if not isinstance(author, Author):
            raise InvalidInputError("author must be an Author", field="author")
        if not isinstance(name, str):
            raise InvalidInputError("name must be a string", field="name")
        conversation = await self._load(Conversation, conversation_id, "conversation")
        if author.role is AuthorRole.CUSTOMER and author.id != conversation.contact_id:
            raise InvalidInputError(
                "the customer is not this conversation's contact", field="author"
            )
        limits = self._core.settings.attachments
        chunks = _chunks(source)
        head = b""
        try:
            async for chunk in chunks:
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
            if len(head) > limits.max_bytes:
                raise AttachmentTooLargeError(limit=limits.max_bytes)
            found = sniff(head[:SNIFF_BYTES])
            refuse = limits.active_content == "refuse"
            if found.active is not None and refuse:
                raise ActiveContentError(mime_type=found.mime_type, reason=found.active)
            if not limits.allows(found.mime_type):
                raise AttachmentTypeError(mime_type=found.mime_type)
            attachment_id = new_id("att")
            key = f"att/{attachment_id[4:6]}/{attachment_id}"
            body: AsyncIterator[bytes] = _Limited(head, chunks, limits.max_bytes).__aiter__()
            scanned = None
            if found.active is None and found.mime_type in MARKUP_TYPES:
                scanned = _Scanned(body, found.mime_type, refuse=refuse)
                body = scanned.__aiter__()
            info = await self._core.blobs.put(key, body)
        finally:
            await chunks.aclose()
        mime_type, width, height = found.mime_type, found.width, found.height
        if found.active is not None or (scanned is not None and scanned.found is not None):
            mime_type, width, height = "application/octet-stream", None, None  # download only
        attachment = Attachment(
            id=attachment_id,
            conversation_id=conversation.id,
            uploaded_by=author,
            blob_key=key,
            name=safe_filename(name),
            mime_type=mime_type,
            kind=kind_of(mime_type),
            size=info.size,
            sha256=info.sha256,
            width=width,
            height=height,
        )
        try:
            await self._core.commit([Insert(attachment)])
        except BaseException:
            await self._core.blobs.delete(key)
            raise
        return attachment

    async def get(self, attachment_id: str) -> Attachment:
        """Return an attachment's record.

        Raises:
            NotFoundError: No such attachment.
        """
        return await self._load(Attachment, attachment_id, "attachment")

    async def open(self, attachment_id: str) -> AsyncGenerator[bytes, None]:
        """Stream an attachment's bytes in chunks.

        Raises:
            NotFoundError: No such attachment, or its bytes were purged.
        """
        attachment = await self.get(attachment_id)
        try:
            async for chunk in self._core.blobs.open(attachment.blob_key):
                yield chunk
        except FileNotFoundError as exc:
            raise NotFoundError("attachment bytes", attachment_id) from exc

    async def signed_url(
        self, attachment_id: str, *, expires_in: float | None = None
    ) -> str | None:
        """A short-lived URL that downloads the attachment straight from the blob store.

        ``None`` when the kit's blob store cannot sign URLs (the local and
        in-memory stores): stream `open` instead. With an S3 bucket
        (`chatkit.blobs.s3.S3BlobStore`) it is a presigned GET whose response
        carries the sniffed type and ``Content-Disposition: attachment`` with
        the safe name. Whoever holds the URL can download until it expires:
        check access first.

        Args:
            attachment_id: The attachment.
            expires_in: Seconds the URL stays valid (the store's default when ``None``).

        Raises:
            NotFoundError: No such attachment.
        """
        attachment = await self.get(attachment_id)
        return await self._core.blobs.signed_url(
            attachment.blob_key,
            name=attachment.name,
            mime_type=attachment.mime_type,
            expires_in=expires_in,
        )

    async def read(self, attachment_id: str) -> bytes:
        """Return an attachment's bytes at once (for small files; prefer `open`)."""
        return b"".join([chunk async for chunk in self.open(attachment_id)])
