"""Attachments: images, GIFs, files and video messages on a message."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ._base import Record
from .authors import Author

__all__ = ["Attachment", "AttachmentInfo", "AttachmentKind", "kind_of"]


class AttachmentKind(str, Enum):
    """Broad kind of an attachment, from its sniffed MIME type."""

    IMAGE = "image"
    """Still or animated images, GIFs included."""
    VIDEO = "video"
    """Video messages and clips."""
    AUDIO = "audio"
    """Voice messages and audio files."""
    FILE = "file"
    """Anything else."""


def kind_of(mime_type: str) -> AttachmentKind:
    """Map a MIME type to its `AttachmentKind`."""
    major = mime_type.split("/", 1)[0]
    return {
        "image": AttachmentKind.IMAGE,
        "video": AttachmentKind.VIDEO,
        "audio": AttachmentKind.AUDIO,
    }.get(major, AttachmentKind.FILE)


class AttachmentInfo(BaseModel):
    """What a message shows of one of its attachments.

    Attributes:
        id: The attachment id (``att_...``); download with `Attachments.open`.
        name: Display name, made safe (no path, no control characters).
        mime_type: Sniffed from the content, never taken from the client.
        kind: Image, video, audio or file.
        size: Bytes.
        sha256: Hex SHA-256 of the content.
        width: Image width in pixels, when known.
        height: Image height in pixels, when known.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    mime_type: str
    kind: AttachmentKind
    size: int = Field(ge=0)
    sha256: str
    width: int | None = None
    height: int | None = None


class Attachment(Record):
    """A stored attachment: its metadata, owner and where its bytes are.

    An attachment is uploaded first (``message_id`` is ``None``) and then sent
    with a message in the same conversation.

    Attributes:
        conversation_id: The conversation it was uploaded to.
        message_id: The message that carries it, once sent.
        uploaded_by: Who uploaded it.
        blob_key: Key of the bytes in the kit's blob store.
        name: Display name, made safe.
        mime_type: Sniffed MIME type.
        kind: Image, video, audio or file.
        size: Bytes.
        sha256: Hex SHA-256.
        width: Image width, when known.
        height: Image height, when known.
    """

    table: ClassVar[str] = "attachments"
    columns: ClassVar[tuple[str, ...]] = ("conversation_id", "message_id")

    conversation_id: str
    message_id: str | None = None
    uploaded_by: Author
    blob_key: str
    name: str
    mime_type: str
    kind: AttachmentKind
    size: int = Field(ge=0)
    sha256: str
    width: int | None = None
    height: int | None = None

    def info(self) -> AttachmentInfo:
        """The part of this attachment that a message shows."""
        return AttachmentInfo(
            id=self.id,
            name=self.name,
            mime_type=self.mime_type,
            kind=self.kind,
            size=self.size,
            sha256=self.sha256,
            width=self.width,
            height=self.height,
        )
