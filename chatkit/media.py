"""Content sniffing and safe file names for attachments.

The MIME type of an upload is decided from its first bytes, never from the
name or the type the client claimed. Image dimensions are read from the
header where that is cheap (PNG, GIF, JPEG, WebP).

Content a browser would run is flagged (`Sniffed.active`): every HTML
document, and SVG or other XML with a script, an event handler attribute, a
``javascript:`` URL, embedded HTML (the XHTML namespace, ``foreignObject``,
frames), an ``xml-stylesheet`` instruction or entity declarations. Markup
documents are scanned to their end (`ActiveContentScanner`), not only in
the sniffed window.
"""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import quote

__all__ = [
    "MARKUP_TYPES",
    "SNIFF_BYTES",
    "ActiveContentScanner",
    "Sniffed",
    "find_active_content",
    "http_headers",
    "safe_filename",
    "sniff",
    "typed_filename",
]

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
    active: str | None = None
    """Why a browser would run this content, e.g. ``"an SVG image with an
    event handler attribute (onload)"``; ``None`` for inert content."""


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


MARKUP_TYPES: Final = {"image/svg+xml": "an SVG image", "application/xml": "an XML document"}
"""Types whose whole content is scanned for active parts as it is uploaded, and their names."""

# Elements that make a document HTML when they are its first element (the
# WHATWG sniffing list and the other common ones).
_HTML_ROOTS: Final = frozenset(
    "html head body script iframe frameset frame object embed applet h1 h2 h3 h4 h5 h6 "  # noqa: SIM905
    "div span font table a style title b i u br p pre img form input button meta base "
    "link ul ol li section article header footer nav main center marquee template "
    "video audio canvas details dialog textarea select noscript plaintext xmp".split()
)
# Tags that make a browser (IE's sniffing, famously) treat "text" as HTML when
# they appear early; looked for in the first `_HTML_WINDOW` characters.
_HTML_ANYWHERE: Final = re.compile(
    r"<(?:!doctype\s+html|html|head|body|script|iframe|frameset|frame|object|embed|applet|"
    r"svg|math|meta|base|form|img|link|style|title|a\s+href)[\s/>]",
    re.IGNORECASE,
)
_HTML_WINDOW: Final = 1024
_PROLOG: Final = re.compile(
    r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!doctype(?:[^\[>]|\[.*?\])*>)*", re.IGNORECASE | re.DOTALL
)
_ELEMENT: Final = re.compile(r"<([a-z_][\w.-]*)(?::([a-z_][\w.-]*))?[\s/>]", re.IGNORECASE)
_DOCTYPE_HTML: Final = re.compile(r"<!doctype\s+html[\s>]", re.IGNORECASE)

_HANDLER: Final = re.compile(r"[\s\"'/](on[a-z]+)\s*=")
_HANDLER_NAME: Final = re.compile(r"on[a-z]+\s*=")
# Active parts of SVG and other XML, searched in text with character
# references decoded, lower-cased (so ``&#106;avascript:`` is found). The
# last item is a substring every match contains: a pattern runs only when the
# text has it (a large SVG is mostly path data and is scanned at memory speed).
_ACTIVE: Final[tuple[tuple[re.Pattern[str], str, str], ...]] = (
    (re.compile(r"<\s*(?:[\w.-]+:)?script[\s/>]"), "a <script> element", "script"),
    (_HANDLER, "an event handler attribute ({0})", "on"),
    (re.compile(r"((?:java|vb|live)script)\s*:"), "a {0}: URL", "script"),
    (
        re.compile(r"\bdata\s*:(?!\s*image/(?:png|gif|jpe?g|webp|bmp)[;,])"),
        "a data: URL that is not a plain image",
        "data",
    ),
    (
        re.compile(
            r"<\s*(?:[\w.-]+:)?(iframe|frame|frameset|embed|object|applet|foreignobject|"
            r"handler|listener|base|meta)[\s/>]"
        ),
        "an <{0}> element",
        "<",
    ),
    (
        re.compile(r"http://www\.w3\.org/1999/xhtml"),
        "HTML inside it (the XHTML namespace)",
        "xhtml",
    ),
    (re.compile(r"<\?xml-stylesheet[\s?]"), "an xml-stylesheet instruction", "stylesheet"),
    (re.compile(r"<!entity[\s%]"), "an entity declaration", "entity"),
)
_REFERENCE: Final = re.compile(r"&#(?:x([0-9a-f]+)|([0-9]+));?", re.IGNORECASE)
_URL_SPACE: Final = re.compile(r"[\t\n\r]+")
_NAMED: Final = (("&colon;", ":"), ("&tab;", "\t"), ("&newline;", "\n"))
"""HTML's named references that can spell a URL scheme (XML has none of them)."""


def _decode_reference(match: re.Match[str]) -> str:
    try:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return chr(code)
    except (ValueError, OverflowError):
        return "\ufffd"


def find_active_content(text: str) -> str | None:
    """What in this SVG or XML text a browser would run, or ``None``.

    Character references are decoded first (``&#x6A;avascript:``), and
    tabs and line breaks, which browsers drop inside URLs, are removed
    before URL schemes are looked for.
    """
    plain = _REFERENCE.sub(_decode_reference, text).lower() if "&" in text else text.lower()
    if "&" in plain:
        for name, char in _NAMED:
            plain = plain.replace(name, char)
    squeezed = _URL_SPACE.sub("", plain) if "script" in plain or "data" in plain else plain
    for pattern, reason, needed in _ACTIVE:
        if needed not in plain:
            continue
        if pattern is _HANDLER:
            found = _handler(plain)
        else:
            found = pattern.search(squeezed if "URL" in reason else plain)
        if found is not None:
            return reason.format(*found.groups())
    return None


def _handler(text: str) -> re.Match[str] | None:
    """`_HANDLER`, found faster: from the literal ``on``, then the character before it."""
    for found in _HANDLER_NAME.finditer(text):
        if found.start() > 0:
            match = _HANDLER.match(text, found.start() - 1)
            if match is not None:
                return match
    return None


def _text(head: bytes) -> str:
    text = head.decode("utf-8", errors="ignore")
    return text[1:] if text.startswith("\ufeff") else text


def _markup(head: bytes) -> Sniffed | None:
    """HTML, SVG or XML, judged by the first element; ``None`` for plain text."""
    text = _text(head)
    start = text.lstrip(" \t\n\r\f")
    if not (start.startswith("<") and len(start) > 1 and (start[1].isalpha() or start[1] in "!?")):
        if _HTML_ANYWHERE.search(text[:_HTML_WINDOW]):
            return Sniffed("text/html", active="an HTML document")
        return None
    prolog = _PROLOG.match(start)
    rest = start[prolog.end() if prolog else 0 :]
    if _DOCTYPE_HTML.search(start[: prolog.end() if prolog else 0]):
        return Sniffed("text/html", active="an HTML document")
    element = _ELEMENT.match(rest)
    if element is None:
        if _HTML_ANYWHERE.search(text[:_HTML_WINDOW]):
            return Sniffed("text/html", active="an HTML document")
        return None
    prefix, local = element.group(1), element.group(2)
    name = (local or prefix).lower()
    if name == "svg":
        return _scanned("image/svg+xml", text)
    if name in _HTML_ROOTS and local is None and not start.startswith("<?xml"):
        return Sniffed("text/html", active="an HTML document")
    if name == "html":
        return Sniffed("application/xhtml+xml", active="an XHTML document")
    return _scanned("application/xml", text)


def _scanned(mime_type: str, text: str) -> Sniffed:
    reason = find_active_content(text)
    return Sniffed(mime_type, active=f"{MARKUP_TYPES[mime_type]} with {reason}" if reason else None)


class ActiveContentScanner:
    """Looks for active content in an SVG or XML document fed chunk by chunk.

    Each chunk is searched together with the end of the one before
    (`OVERLAP` characters), so a construct cut by a chunk boundary is still
    found.

    Args:
        mime_type: The sniffed type, one of `MARKUP_TYPES`; it names the
            document in the reasons.

    Example:
        ```python
        scanner = ActiveContentScanner("image/svg+xml")
        for chunk in chunks:
            if (reason := scanner.feed(chunk)) is not None:
                raise ValueError(reason)
        ```
    """

    OVERLAP: Final = 4096
    """Characters of the previous chunk searched again with the next."""

    def __init__(self, mime_type: str = "application/xml") -> None:
        self._kind = MARKUP_TYPES.get(mime_type, "a document")
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""

    def feed(self, chunk: bytes, *, final: bool = False) -> str | None:
        """Search ``chunk`` (with the end of the previous one).

        Returns:
            Why a browser would run the document (``"an SVG image with a
            <script> element"``), or ``None`` when nothing was found so far.
        """
        text = self._tail + self._decoder.decode(chunk, final)
        self._tail = text[-self.OVERLAP :]
        reason = find_active_content(text)
        return f"{self._kind} with {reason}" if reason else None


def sniff(head: bytes) -> Sniffed:
    """Detect the type of a file from its first bytes (up to `SNIFF_BYTES`).

    Recognises PNG, GIF, JPEG, WebP, BMP, MP4/QuickTime/3GP, WebM/Matroska,
    AVI, PDF, ZIP, MP3, Ogg, WAV, and UTF-8 text: HTML (``text/html``), SVG
    (``image/svg+xml``), other XML (``application/xml``) or ``text/plain``;
    anything else is ``application/octet-stream``. `Sniffed.active` says
    why a browser would run it (HTML always; SVG and XML when they carry
    script, handlers or embedded HTML), as far as these bytes show.
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
        return _markup(head) or Sniffed("text/plain")
    return Sniffed("application/octet-stream")


class _Served(Protocol):
    @property
    def mime_type(self) -> str: ...
    @property
    def name(self) -> str: ...


_INLINE: Final = frozenset(
    {"image/png", "image/gif", "image/jpeg", "image/webp", "image/bmp", "application/pdf"}
)


def http_headers(attachment: _Served) -> dict[str, str]:
    """The HTTP headers to serve an attachment's bytes with, from your own web app.

    ``Content-Type`` is the sniffed type (never the client's); images,
    video, audio, PDF and plain text are ``inline``, everything else (SVG
    included, and ``application/octet-stream``: the active content stored
    with ``active_content="download"``) is a forced download
    (``Content-Disposition: attachment``). ``nosniff`` stops the browser
    from guessing another type, and the content security policy forbids
    scripts should a document be opened anyway.

    Example:
        ```python
        attachment = await kit.attachments.get(attachment_id)
        return StreamingResponse(kit.attachments.open(attachment.id),
                                 headers=http_headers(attachment))
        ```
    """
    mime_type = attachment.mime_type
    major = mime_type.partition("/")[0]
    inline = mime_type in _INLINE or major in ("video", "audio") or mime_type == "text/plain"
    fallback = attachment.name.encode("ascii", "replace").decode().replace("?", "_")
    fallback = fallback.replace('"', "_").replace("\\", "_")
    return {
        "Content-Type": f"{mime_type}; charset=utf-8" if major == "text" else mime_type,
        "Content-Disposition": (
            f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(attachment.name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    }


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|\u2028\u2029]+")
"""C0 and C1 controls, DEL, line and paragraph separators and the characters
file systems reserve: each run becomes ``_``."""


def _visible(char: str) -> bool:
    """Whether ``char`` is kept in a file name: not a format character (Cf:
    bidi overrides and isolates, zero-width characters, soft hyphen...) nor a
    lone surrogate."""
    return unicodedata.category(char) not in ("Cf", "Cs")


def safe_filename(name: str, *, default: str = "attachment", max_length: int = 200) -> str:
    """Reduce a client-supplied file name to a harmless display name.

    Path components are dropped (``../../etc/passwd`` becomes ``passwd``),
    invisible format characters removed (Unicode category Cf: the
    right-to-left override that shows ``invoice\\u202egpj.exe`` as
    ``invoiceexe.jpg``, zero-width spaces and joiners, the byte order mark),
    C0 and C1 control and reserved characters replaced with ``_``, leading
    dots removed (no hidden files) and the length capped. When nothing is
    left, ``default`` is returned. The result is only ever used for display
    and downloads: blobs are stored under generated keys.
    """
    name = "".join(c for c in name if _visible(c))
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


_EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    # type: (the extension given, other extensions a name may keep)
    "image/png": ("png",),
    "image/gif": ("gif",),
    "image/jpeg": ("jpg", "jpeg", "jpe", "jfif"),
    "image/webp": ("webp",),
    "image/bmp": ("bmp", "dib"),
    "image/svg+xml": ("svg",),
    "video/mp4": ("mp4", "m4a", "m4b", "heic", "heif", "avif"),
    "video/quicktime": ("mov", "qt"),
    "video/x-m4v": ("m4v",),
    "video/3gpp": ("3gp", "3gpp"),
    "video/webm": ("webm",),
    "video/x-matroska": ("mkv", "mka", "mk3d"),
    "video/x-msvideo": ("avi",),
    "audio/wav": ("wav",),
    "audio/mpeg": ("mp3",),
    "audio/ogg": ("ogg", "oga", "ogv", "opus"),
    "application/pdf": ("pdf",),
    "application/zip": ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"),
    "application/xml": ("xml",),
    "text/plain": ("txt", "text", "csv", "tsv", "log", "md", "json", "yaml", "yml", "ini"),
}
"""The extensions of each sniffed type; anything else (``application/octet-stream``,
HTML, XHTML) is ``.bin``. No type here is one a browser runs script from:
SVG and XML get theirs only once scanned whole and found inert."""


def typed_filename(name: str, mime_type: str) -> str:
    """A safe file name whose extension says what the content is.

    The name is made safe (`safe_filename`); when its extension is not one
    of ``mime_type``'s, it is replaced by that type's (``photo`` becomes
    ``photo.png``, ``holiday.jpg`` holding a PNG ``holiday.png``). Types
    without an entry (``application/octet-stream``: active content stored
    for download, unknown files) and HTML in any form get ``.bin``, so
    ``evil.svg`` stored as ``application/octet-stream`` is written as
    ``evil.bin`` and never opened by a browser as a page or an image.

    Give it the type sniffed from the bytes (and, for SVG and XML, scanned
    whole), not one a client claimed.
    """
    safe = safe_filename(name)
    extensions = _EXTENSIONS.get(mime_type, ("bin",))
    stem, dot, extension = safe.rpartition(".")
    if dot and extension.lower() in extensions:
        return safe
    base = stem if dot and stem else safe
    return safe_filename(f"{base}.{extensions[0]}")
