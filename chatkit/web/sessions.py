"""Customer session tokens: random, opaque, stored only as their SHA-256, revocable, expiring."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from ..models import WebSession
from ..models._base import utcnow
from .errors import AuthenticationError

if TYPE_CHECKING:
    from .._facade import AsyncChatKit

__all__ = ["TOKEN_PREFIX", "find_session", "hash_token", "new_token"]

TOKEN_PREFIX = "cks_"
"""How every customer session token starts (so a leaked one is recognisable)."""


def new_token() -> str:
    """A fresh session token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 of ``token``, hex: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def find_session(kit: AsyncChatKit, token: str) -> WebSession:
    """The live session of ``token``.

    Raises:
        AuthenticationError: Unknown, expired or revoked (the message does not say which).
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationError("the session token is not valid")
    store = await kit._core.ready()
    found = await store.find(WebSession, {"token_hash": hash_token(token)}, limit=1)
    if not found or found[0].revoked_at is not None or found[0].expires_at <= utcnow():
        raise AuthenticationError("the session token is not valid (unknown, expired or ended)")
    return found[0]
