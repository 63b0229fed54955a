"""Real time: WebSocket (and Server-Sent Events) delivery of events to customers and agents.

A customer handshake is checked with `chatkit.web.origins.check_origin`
against the session's website before it is accepted.
"""

from __future__ import annotations

from ._deps import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["realtime"])
