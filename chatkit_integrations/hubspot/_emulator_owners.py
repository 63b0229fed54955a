"""The HubSpot emulator's owner routes: ``GET /crm/v3/owners``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._records import Record
from ._state import HubSpotState

if TYPE_CHECKING:
    from starlette.requests import Request


class _OwnerRoutes:
    """The owners endpoint of `HubSpotEmulator`."""

    state: HubSpotState

    async def _owners(self, request: Request) -> tuple[int, Record | None]:
        params = request.query_params
        return 200, self.state.owners_page(
            email=params.get("email"),
            limit=int(params.get("limit", "100")),
            after=params.get("after"),
            archived=params.get("archived", "false").lower() == "true",
        )
