"""The webhook events of the emulated HubSpot portal: queued on changes, taken by tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime

from ._records import APP_ID, PORTAL_ID, SINGULAR, CrmObject, Record, millis


class _EventState:
    """The webhook events `HubSpotState` queues for contacts and tickets."""

    lock: threading.RLock
    clock: Callable[[], datetime]
    events: list[Record]
    _event_ids: itertools.count[int]

    def _event(
        self,
        obj: CrmObject,
        kind: str,
        *,
        source: str,
        name: str | None = None,
        value: str | None = None,
    ) -> None:
        if obj.type not in ("contacts", "tickets"):  # notes have no webhook subscriptions
            return
        event: Record = {
            "eventId": next(self._event_ids),
            "subscriptionId": 234567,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": millis(self.clock()),
            "subscriptionType": f"{SINGULAR[obj.type]}.{kind}",
            "attemptNumber": 0,
            "objectId": obj.id,
            "changeSource": source,
            "sourceId": f"{APP_ID}" if source == "INTEGRATION" else "userId:45678",
        }
        if kind == "creation":
            event["changeFlag"] = "CREATED"
        elif kind == "deletion":
            event["changeFlag"] = "DELETED"
        else:
            event["propertyName"] = name
            event["propertyValue"] = value
        self.events.append(event)

    def take_events(self) -> list[Record]:
        """The webhook events since the last call (HubSpot would deliver them), oldest first."""
        with self.lock:
            events, self.events = self.events, []
            return events
