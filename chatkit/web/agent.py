"""The agent API (``/v1/agent/...``): what the agent console calls.

Routes take the caller with ``Depends(current_agent)`` (`chatkit.web.auth`)
and run kit calls through ``web.call`` (`chatkit.web.WebContext`).
"""

from __future__ import annotations

from ._deps import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["agent"])
