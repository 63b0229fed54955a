"""Content sniffing, image dimensions and safe file names."""

from __future__ import annotations

import struct
import zlib

import pytest

from chatkit.media import safe_filename, sniff, typed_filename


def _png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


@pytest.mark.parametrize(
    ("head", "mime", "size"),
    [
        (_png(640, 480), "image/png", (640, 480)),
        (b"GIF89a" + struct.pack("<HH", 320, 200) + b"\x00" * 8, "image/gif", (320, 200)),
        (b"GIF87a" + struct.pack("<HH", 1, 2), "image/gif", (1, 2)),
        (_jpeg(1024, 768), "image/jpeg", (1024, 768)),
        (
            b"RIFF\x00\x00\x00\x00WEBPVP8X"
            + b"\x00" * 8
            + (99).to_bytes(3, "little")
            + (49).to_bytes(3, "little"),
            "image/webp",
            (100, 50),
        ),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "video/mp4", (None, None)),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime", (None, None)),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm", (None, None)),
        (b"%PDF-1.7\n", "application/pdf", (None, None)),
        (b"PK\x03\x04\x14\x00", "application/zip", (None, None)),
        ("Merhaba, siparişim nerede? 배송이 늦어요\n".encode(), "text/plain", (None, None)),
        (b"\x7fELF\x02\x01\x01\x00\x00", "application/octet-stream", (None, None)),
        (b"", "application/octet-stream", (None, None)),
    ],
)
def test_sniff_detects_type_and_cheap_dimensions(
    head: bytes, mime: str, size: tuple[int | None, int | None]
) -> None:
    found = sniff(head)
    assert found.mime_type == mime
    assert (found.width, found.height) == size


def test_sniff_ignores_what_the_name_or_client_claims() -> None:
    # An executable renamed to .png is still not an image.
    assert sniff(b"MZ\x90\x00\x03\x00\x00\x00").mime_type == "application/octet-stream"


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    data = "ş".encode() * 10
    assert sniff(data[:-1]).mime_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("report\x00.pdf", "report_.pdf"),
        ("bell\x07\x1b[31m.png", "bell_[31m.png"),
        ("..", "attachment"),
        ("", "attachment"),
        (".bashrc", "bashrc"),
        ('a:b*c?"d<e>f|g.txt', "a_b_c_d_e_f_g.txt"),
        ("fotoğraf 1.jpg", "fotoğraf 1.jpg"),
        # Unicode format characters (Cf) are removed: bidi overrides and isolates,
        # zero-width characters, the byte order mark, the soft hyphen
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("\u2067photo\u2069\u200b.p\u200dng", "photo.png"),
        ("\ufeffre\u00adport.pdf", "report.pdf"),
        # C1 controls (and NEL, CSI) and line separators are replaced like C0 ones
        ("next\x85line\x9b31m.txt", "next_line_31m.txt"),
        ("a\u2028b.txt", "a_b.txt"),
        # nothing left: the default
        ("\u202e\u200b\u2066", "attachment"),
        ("\x85\x9f", "attachment"),
        ("\u202e.\u202d.", "attachment"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = safe_filename("x" * 500 + ".jpeg")
    assert len(name) == 200
    assert name.endswith(".jpeg")


@pytest.mark.parametrize(
    ("name", "mime_type", "typed"),
    [
        ("photo.png", "image/png", "photo.png"),
        ("Photo.JPEG", "image/jpeg", "Photo.JPEG"),
        ("holiday.jpg", "image/png", "holiday.png"),
        ("scan", "application/pdf", "scan.pdf"),
        ("icon.svg", "image/svg+xml", "icon.svg"),
        ("report.docx", "application/zip", "report.docx"),
        ("data.csv", "text/plain", "data.csv"),
        ("notes.html", "text/plain", "notes.txt"),
        ("logo.svg", "application/octet-stream", "logo.bin"),
        ("page.html", "text/html", "page.bin"),
        ("page.xhtml", "application/xhtml+xml", "page.bin"),
        ("tool.exe", "application/octet-stream", "tool.bin"),
        ("invoice\u202egpj.exe", "application/octet-stream", "invoicegpj.bin"),
        ("\u202e", "image/png", "attachment.png"),
        ("x" * 300 + ".svg", "application/octet-stream", "x" * 196 + ".bin"),
    ],
)
def test_typed_filename_names_a_file_by_its_type(name: str, mime_type: str, typed: str) -> None:
    assert typed_filename(name, mime_type) == typed
