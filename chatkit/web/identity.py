"""The identity hash: how a website's server vouches for a signed-in user."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["identity_hash", "verify_identity_hash"]


def identity_hash(secret: str, user: str) -> str:
    """HMAC-SHA256 of ``user`` (user id or e-mail) keyed with the identity secret, in hex.

    The website's server computes this (in any language) and gives it to
    the widget with the user id or e-mail.

    Example:
        ```python
        assert identity_hash("secret", "Message").startswith("aa747c50")
        ```
    """
    return hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()


def verify_identity_hash(secret: str, user: str, given: str) -> bool:
    """Whether ``given`` is the identity hash of ``user``, compared in constant time."""
    if not isinstance(given, str) or len(given) != 64:
        return False
    return hmac.compare_digest(identity_hash(secret, user), given.lower())
