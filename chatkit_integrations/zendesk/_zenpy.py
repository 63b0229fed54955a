"""zenpy, the vendor's client, imported once for every part of the integration
(with the install hint when the ``zendesk`` extra is missing)."""

from __future__ import annotations

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
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the Zendesk integration needs zenpy: pip install 'chatkit[zendesk]'"
    ) from exc

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
