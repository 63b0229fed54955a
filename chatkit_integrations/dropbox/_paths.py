"""Where an archived transcript goes: the path template, safe names, Dropbox's content hash."""

from __future__ import annotations

import hashlib
import string
import unicodedata
from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_TEMPLATE",
    "FIELDS",
    "base_path",
    "check_template",
    "content_hash",
    "file_path",
    "folder_path",
    "safe_name",
]

BLOCK_SIZE = 4 * 1024 * 1024
"""Dropbox hashes content in blocks of 4 MiB."""

DEFAULT_TEMPLATE = "/chatkit/{year}/{month}/{team}/{conversation_id}.{ext}"
"""Transcripts by the month the conversation started, then by team."""

FIELDS = frozenset({"year", "month", "day", "team", "conversation_id", "contact_id", "ext"})
"""The placeholders a template may use."""

MAX_NAME = 120
"""The longest path component written (Dropbox allows 255; shorter keeps whole paths sane)."""

_UNSAFE = frozenset('/\\<>:"|?*{}')
_EXT = ".{ext}"
_NO_TEAM = "no-team"


def content_hash(data: bytes) -> str:
    """Dropbox's ``content_hash``: the SHA-256 of each 4 MiB block, concatenated, hashed again."""
    blocks = hashlib.sha256()
    for start in range(0, len(data), BLOCK_SIZE):
        blocks.update(hashlib.sha256(data[start : start + BLOCK_SIZE]).digest())
    return blocks.hexdigest()


def safe_name(value: str, *, max_length: int = MAX_NAME) -> str:
    """``value`` as one safe path component, distinct for distinct values.

    Separators (``/``, ``\\``), characters Dropbox or desktop systems refuse
    (``<>:"|?*``), braces, control and format characters become ``_``; leading and
    trailing dots and spaces go (so ``..`` is never a component). A name
    that had to change, or is longer than ``max_length``, ends with ``~`` and
    ten hex digits of the SHA-256 of the original, so two names that clean
    to the same text (``a/b`` and ``a:b``) still land in different places.
    """
    cleaned = "".join(
        "_" if ch in _UNSAFE or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in unicodedata.normalize("NFC", value)
    ).strip(" .")
    if cleaned == value and 0 < len(cleaned) <= max_length:
        return cleaned
    tag = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    keep = max_length - len(tag) - 1
    return f"{cleaned[:keep].rstrip(' .')}~{tag}" if cleaned else tag


def check_template(template: str) -> str:
    """Validate a path template; returns it.

    Raises:
        ValueError: It does not start with ``/``, uses an unknown or
            malformed placeholder, or lacks ``{conversation_id}`` (paths
            must be unique per conversation).
    """
    if not template.startswith("/"):
        raise ValueError("the path template must start with '/'")
    try:
        fields = {name for _, name, spec, conv in string.Formatter().parse(template) if name}
        specs = [(spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name]
    except ValueError as exc:
        raise ValueError(f"the path template is malformed: {exc}") from None
    unknown = sorted(fields - FIELDS)
    if unknown:
        raise ValueError(
            f"unknown placeholders {unknown} in the path template; use {sorted(FIELDS)}"
        )
    if any(spec or conv for spec, conv in specs):
        raise ValueError("placeholders of the path template take no format spec or conversion")
    if ("ext" in fields and not template.endswith(_EXT)) or template.count("{ext}") > 1:
        raise ValueError("{ext} may only end the path template, as '.{ext}'")
    if "conversation_id" not in fields:
        raise ValueError("the path template needs {conversation_id}: one file per conversation")
    if "//" in template or any(p in (".", "..") for p in template.split("/")):
        raise ValueError("the path template has an empty, '.' or '..' folder")
    return template


def _values(data: Mapping[str, object]) -> dict[str, str]:
    raw = data.get("created_at")
    created = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    team = data.get("team")
    return {
        "year": f"{created.year:04d}" if created else "0000",
        "month": f"{created.month:02d}" if created else "00",
        "day": f"{created.day:02d}" if created else "00",
        "team": safe_name(team) if isinstance(team, str) and team else _NO_TEAM,
        "conversation_id": safe_name(str(data.get("id") or data.get("conversation_id") or "")),
        "contact_id": safe_name(str(data.get("contact_id") or "none")),
    }


def base_path(template: str, data: Mapping[str, object]) -> str:
    """A conversation's archive path without its extension (its files add ``.json``...).

    ``data`` is the conversation as pushed (``id``, ``created_at``, ``team``,
    ``contact_id``); every value is made safe first (`safe_name`).
    """
    return template.removesuffix(_EXT).format(**_values(data))


def file_path(base: str, ext: str) -> str:
    """One file of the archive at ``base``: ``/…/conv_1`` and ``json`` → ``/…/conv_1.json``."""
    return f"{base}.{ext}"


def folder_path(base: str) -> str:
    """The folder of the archived attachments of the archive at ``base``."""
    return f"{base}.attachments"
