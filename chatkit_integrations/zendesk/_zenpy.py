"""zenpy, the vendor's client, imported once for every part of the integration
(with the install hint when the ``zendesk`` extra is missing)."""

from __future__ import annotations

from chatkit._optional import missing

try:
    import requests
    from zenpy import Zenpy  # type: ignore[import-untyped]
    from zenpy.lib.api_objects import (  # type: ignore[import-untyped]
        Comment,
        Ticket,
        User,
    )
    from zenpy.lib.exception import (  # type: ignore[import-untyped]
        APIException,
        RecordNotFoundException,
        ZenpyException,
    )
except ImportError as exc:
    raise missing("zenpy", "the Zendesk integration", exc) from exc

__all__ = [
    "APIException",
    "Comment",
    "RecordNotFoundException",
    "Ticket",
    "User",
    "Zenpy",
    "ZenpyException",
    "requests",
]
