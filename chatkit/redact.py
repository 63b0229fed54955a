"""Masking credentials in URLs before they are printed, logged or stored.

- `mask_url` masks one URL: the password of its userinfo (``user:***@``;
  for ``http(s)``/``ws(s)`` a user name alone is masked too, since that is
  where such URLs carry a token), and the value of every query or fragment
  parameter named like a credential (`SECRET_NAMES`, case-insensitive, or a
  name ending in one of them after ``_``/``-``, such as ``client_secret``).
  Everything else is kept as written.
- `mask_text` masks every URL found in free text (an exception's message).
- `HttpxURLFilter`, installed on the ``httpx`` logger when chatkit is
  imported, masks the URL in httpx's own ``HTTP Request: POST <url>`` records.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

__all__ = [
    "MASK",
    "SECRET_NAMES",
    "HttpxURLFilter",
    "install_httpx_filter",
    "mask_text",
    "mask_url",
]

MASK = "***"
"""What a masked value is replaced with."""

SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "sslpassword",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "key",
        "api_key",
        "apikey",
        "signature",
        "sig",
        "auth",
        "authorization",
        "credential",
        "credentials",
    }
)
"""Parameter names whose values are masked (compared in lower case)."""

_SUFFIXES = ("password", "passwd", "pwd", "token", "secret", "key", "signature", "credentials")
_TOKEN_IN_USER = ("http", "https", "ws", "wss")

# RFC 3986, appendix B: always matches.
_URL = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def _secret(name: str) -> bool:
    lowered = unquote_plus(name).strip().lower().replace("-", "_")
    if lowered in SECRET_NAMES:
        return True
    return any(lowered.endswith("_" + suffix) for suffix in _SUFFIXES)


def _mask_params(params: str) -> str:
    pieces = re.split(r"([&;])", params)
    for index in range(0, len(pieces), 2):
        name, equals, value = pieces[index].partition("=")
        if equals and value and _secret(name):
            pieces[index] = f"{name}={MASK}"
    return "".join(pieces)


def _mask_netloc(netloc: str, scheme: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, password = userinfo.partition(":")
    if colon:
        return f"{user}:{MASK}@{host}" if password else netloc
    if user and scheme.lower() in _TOKEN_IN_USER:
        return f"{MASK}@{host}"
    return netloc


def mask_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***`` (for errors, logs and stored text).

    >>> mask_url("postgresql://u:pw@db/app?password=x&sslmode=require")
    'postgresql://u:***@db/app?password=***&sslmode=require'
    """
    text = str(url)
    match = _URL.match(text)
    if match is None:  # pragma: no cover - the pattern matches every string
        return MASK
    scheme, netloc, path, query, fragment = match.groups()
    out = f"{scheme}:" if scheme is not None else ""
    if netloc is not None:
        out += "//" + _mask_netloc(netloc, scheme or "")
    out += path
    if query is not None:
        out += "?" + _mask_params(query)
    if fragment is not None:
        out += "#" + _mask_params(fragment)
    return out


def mask_text(text: str) -> str:
    """``text`` with every URL in it passed through `mask_url`."""
    return _IN_TEXT.sub(lambda found: mask_url(found.group(0)), str(text))


class HttpxURLFilter(logging.Filter):
    """Masks URLs in the records of the ``httpx`` logger (``HTTP Request: POST <url>``).

    The record is rendered once, masked, and its arguments dropped; records
    are never suppressed.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def install_httpx_filter() -> None:
    """Put one `HttpxURLFilter` on the ``httpx`` logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, HttpxURLFilter) for existing in logger.filters):
        logger.addFilter(HttpxURLFilter())
