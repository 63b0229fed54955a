"""HubSpot part: webhook deliveries verified (v3 signature, age) and read as changes.

The signatures themselves are in ``webhooks.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from chatkit.errors import WebhookVerificationError
from chatkit.integrations import ChangeAction, InboundChange, SyncObject
from chatkit.webhooks import read_webhook_json

from . import _mapping as mapping
from ._api import HubSpotHTTPError
from ._client import _MODIFIED, BATCH, _HubSpotClient
from .webhooks import SignatureError, verify_v3


class _Webhooks(_HubSpotClient):
    """HubSpot webhook events, inbound."""

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        """Check the v3 signature and age, then read the current state of what changed.

        Contact and ticket creations and property changes become upserts (one
        batch read per object type, plus the tickets' contacts); deletions
        become deletes. Events of other objects are ignored.

        Raises:
            WebhookVerificationError: Not configured, bad signature, too old, or malformed.
            RetryableIntegrationError: HubSpot could not be read now (answer 5xx:
                HubSpot delivers again).
        """
        secret = self.config.client_secret
        if secret is None or not self.config.webhook_url:
            raise WebhookVerificationError(
                "hubspot webhooks need client_secret and webhook_url", integration=self.name
            )
        try:
            verify_v3(
                headers,
                body,
                client_secret=secret.get_secret_value(),
                url=self.config.webhook_url,
                max_age=self.config.webhook_max_age,
            )
        except SignatureError as exc:
            raise WebhookVerificationError(
                f"hubspot webhook refused: {exc}", integration=self.name
            ) from None
        events = read_webhook_json(body, integration=self.name)
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise WebhookVerificationError(
                "hubspot webhook body is not a list of events", integration=self.name
            )
        return await asyncio.to_thread(self._from_events, events)

    def _from_events(self, events: list[dict[str, object]]) -> list[InboundChange]:
        types = {"contact": "contacts", "ticket": "tickets"}
        deletes: list[InboundChange] = []
        wanted: dict[str, list[str]] = {"contacts": [], "tickets": []}
        for event in events:
            subject, _, what = str(event.get("subscriptionType", "")).partition(".")
            object_type = types.get(subject)
            object_id = event.get("objectId")
            if object_type is None or object_id is None:
                continue
            if what == "deletion":
                occurred = event.get("occurredAt")
                at = (
                    datetime.fromtimestamp(occurred / 1000, tz=UTC)
                    if isinstance(occurred, int)
                    else datetime.now(UTC)
                )
                deletes.append(
                    InboundChange(
                        object=SyncObject.CONTACT
                        if subject == "contact"
                        else SyncObject.CONVERSATION,
                        action=ChangeAction.DELETE,
                        remote_type=subject,
                        remote_id=str(object_id),
                        changed_at=at,
                    )
                )
            elif str(object_id) not in wanted[object_type]:
                wanted[object_type].append(str(object_id))
        changes: list[InboundChange] = []
        try:
            for object_type, ids in wanted.items():
                for start in range(0, len(ids), BATCH):
                    chunk = ids[start : start + BATCH]
                    answer = self.api.read(object_type, chunk, self._properties(object_type))
                    contact_of = (
                        self.api.associated("tickets", "contacts", [r.id for r in answer.results])
                        if object_type == "tickets" and answer.results
                        else {}
                    )
                    for record in answer.results:
                        stamp = mapping.hubspot_datetime(
                            record.properties.get(_MODIFIED[object_type])
                        )
                        at = stamp or record.updated_at or datetime.now(UTC)
                        change = self._inbound(
                            object_type, record, mapping.millis(at), contact_of, {}
                        )
                        if change is not None:
                            changes.append(change)
        except HubSpotHTTPError as error:
            raise self._classify(error) from None
        return sorted(changes + deletes, key=lambda c: c.changed_at)
