"""Content sniffing and safe file names for attachments.

The MIME type of an upload is decided from its first bytes, never from the
name or the type the client claimed. Image dimensions are read from the
header where that is cheap (PNG, GIF, JPEG, WebP).
"""

from __future__ import annotations

import re
import struct
import unicodedata
from dataclasses import dataclass

__all__ = ["SNIFF_BYTES", "Sniffed", "safe_filename", "sniff"]

SNIFF_BYTES = 64 * 1024
"""How many leading bytes `sniff` looks at (JPEG frame headers can sit behind EXIF data)."""


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say about it.

    Attributes:
        mime_type: The detected type, ``application/octet-stream`` when unknown.
        width: Image width in pixels, when cheap to read.
        height: Image height in pixels, when cheap to read.
    """

    mime_type: str
    width: int | None = None
    height: int | None = None


def _png(head: bytes) -> Sniffed:
    width, height = struct.unpack(">II", head[16:24]) if len(head) >= 24 else (None, None)
    return Sniffed("image/png", width, height)


def _gif(head: bytes) -> Sniffed:
    width, height = struct.unpack("<HH", head[6:10]) if len(head) >= 10 else (None, None)
    return Sniffed("image/gif", width, height)


def _jpeg(head: bytes) -> Sniffed:
    i = 2
    while i + 9 < len(head):
        if head[i] != 0xFF:
            break
        marker = head[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[i + 5 : i + 9])
            return Sniffed("image/jpeg", width, height)
        i += 2 + length
    return Sniffed("image/jpeg")


def _webp(head: bytes) -> Sniffed:
    chunk = head[12:16]
    try:
        if chunk == b"VP8X" and len(head) >= 30:
            width = 1 + int.from_bytes(head[24:27], "little")
            height = 1 + int.from_bytes(head[27:30], "little")
            return Sniffed("image/webp", width, height)
        if chunk == b"VP8L" and len(head) >= 25:
            bits = int.from_bytes(head[21:25], "little")
            return Sniffed("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if chunk == b"VP8 " and len(head) >= 30:
            width, height = struct.unpack("<HH", head[26:30])
            return Sniffed("image/webp", width & 0x3FFF, height & 0x3FFF)
    except struct.error:  # pragma: no cover - guarded by the length checks
        pass
    return Sniffed("image/webp")


_FTYP_VIDEO = {
    b"qt  ": "video/quicktime",
    b"M4V ": "video/x-m4v",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character may be cut at the end of the sniffed window.
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f")
    return controls == 0


def sniff(head: bytes) -> Sniffed:
    """Detect the type of a file from its first bytes (up to `SNIFF_BYTES`).

    Recognises PNG, GIF, JPEG, WebP, BMP, MP4/QuickTime/3GP, WebM/Matroska,
    AVI, PDF, ZIP, MP3, Ogg, WAV and UTF-8 text; anything else is
    ``application/octet-stream``.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(head)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(head)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp(head)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video/x-msvideo")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio/wav")
    if head.startswith(b"BM") and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return Sniffed("image/bmp", width, abs(height))
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return Sniffed(_FTYP_VIDEO.get(brand, "video/mp4"))
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video/webm" if b"webm" in head[:64] else "video/x-matroska")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf")
    if head.startswith(b"PK\x03\x04"):
        return Sniffed("application/zip")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return Sniffed("audio/mpeg")
    if head.startswith(b"OggS"):
        return Sniffed("audio/ogg")
    if _looks_like_text(head):
        return Sniffed("text/plain")
    return Sniffed("application/octet-stream")


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str, *, default: str = "attachment", max_length: int = 200) -> str:
    """Reduce a client-supplied file name to a harmless display name.

    Path components are dropped (``../../etc/passwd`` becomes ``passwd``),
    control and reserved characters are replaced, leading dots removed (no
    hidden files) and the length capped. The result is only ever used for
    display and downloads: blobs are stored under generated keys.
    """
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name or name in (".", ".."):
        return default
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: max_length - len(ext) - 1] + "." + ext
        else:
            name = name[:max_length]
    return name
