"""The owners of the emulated HubSpot portal: the users who can own records."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime

from ._records import Record, iso, validation_error


class _OwnerState:
    """Owners of `HubSpotState` (``GET /crm/v3/owners``)."""

    lock: threading.RLock
    clock: Callable[[], datetime]
    owners: dict[str, Record]
    _owner_ids: itertools.count[int]

    def add_owner(
        self, email: str, first_name: str = "", last_name: str = "", *, archived: bool = False
    ) -> str:
        """Add an owner (a HubSpot user who can own records); returns its id."""
        with self.lock:
            owner_id = str(next(self._owner_ids))
            now = iso(self.clock())
            self.owners[owner_id] = {
                "id": owner_id,
                "email": email,
                "type": "PERSON",
                "firstName": first_name,
                "lastName": last_name,
                "userId": int(owner_id) + 1_000_000,
                "userIdIncludingInactive": int(owner_id) + 1_000_000,
                "createdAt": now,
                "updatedAt": now,
                "archived": archived,
                "teams": [],
            }
            return owner_id

    def owners_page(
        self,
        *,
        email: str | None = None,
        limit: int = 100,
        after: str | None = None,
        archived: bool = False,
    ) -> Record:
        """One page of ``GET /crm/v3/owners/``: by id, filtered by ``email`` and ``archived``."""
        with self.lock:
            if not 1 <= limit <= 500:
                raise validation_error("limit must be between 1 and 500")
            listed = [
                o
                for _, o in sorted(self.owners.items(), key=lambda item: int(item[0]))
                if o["archived"] is archived
                and (email is None or str(o["email"]).lower() == email.lower())
            ]
            start = int(after or 0)
            page = listed[start : start + limit]
            body: Record = {"results": [dict(o) for o in page]}
            if start + limit < len(listed):
                body["paging"] = {
                    "next": {"after": str(start + limit), "link": f"?after={start + limit}"}
                }
            return body
