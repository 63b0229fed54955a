"""The HubSpot client shared by every part of `HubSpotIntegration`: settings,
lifecycle, how a failed call is classified, batch answers, and vendor records
read as inbound changes.

The integration is assembled from parts, one module each, all built on
`_HubSpotClient`: messages, notes and transcripts as notes (``_notes.py``),
pull (``_pull.py``), webhooks (``_webhook_events.py``); ``integration.py``
holds the class itself, the push that runs the parts in order, and contacts,
tickets and their owners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from pydantic import Field, JsonValue, SecretStr

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import (
    InboundChange,
    Integration,
    IntegrationConfig,
    OutboundChange,
    PushResult,
    SyncObject,
)

from . import _mapping as mapping
from ._api import ApiObject, BatchAnswer, BatchError, HubSpotAPI, HubSpotHTTPError
from .webhooks import MAX_AGE_SECONDS

logger = logging.getLogger("chatkit_integrations.hubspot.integration")

BATCH = 100


SEARCH_PAGE_MAX = 200


NOTE_TO_TICKET = 228
"""HubSpot's default association type id note → ticket."""


_REMOTE_TYPE = {"contacts": "contact", "tickets": "ticket", "notes": "note"}


_MODIFIED = {
    "contacts": "lastmodifieddate",
    "tickets": "hs_lastmodifieddate",
    "notes": "hs_lastmodifieddate",
}


_PERMANENT_CATEGORIES = frozenset(
    {"VALIDATION_ERROR", "CONFLICT", "OBJECT_NOT_FOUND", "INVALID_EMAIL", "PROPERTY_DOESNT_EXIST"}
)


class HubSpotConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_HUBSPOT_*`` or a file.

    Attributes:
        access_token: The private app's access token.
        host: The API base URL (an emulator's in tests).
        client_secret: The app's client secret, which signs webhooks.
        webhook_url: The public URL HubSpot posts webhooks to (signed with them).
        unique_property: The custom property holding chatkit's id: unique on
            contacts and tickets (upserts), plain on notes (look-ups).
        pipeline: The ticket pipeline conversations go to.
        stages: The pipeline stage of each conversation status. The
            defaults are the stages of HubSpot's default pipeline ``0``:
            ``1`` New, ``2`` Waiting on contact, ``3`` Waiting on us, ``4`` Closed.
        timeout: Seconds per API call.
        webhook_max_age: The replay window for webhook deliveries, in seconds.
        portal_id: The account's Hub ID, for links to records in HubSpot's UI
            (`record_url`); without it the console shows ids only.
    """

    access_token: SecretStr = Field(min_length=1)
    host: str = "https://api.hubapi.com"
    client_secret: SecretStr | None = None
    webhook_url: str | None = None
    unique_property: str = Field(default="chatkit_id", pattern=r"^[a-z][a-z0-9_]{0,99}$")
    pipeline: str = "0"
    stages: dict[str, str] = Field(
        default_factory=lambda: {
            "open": "1",
            "pending": "2",
            "snoozed": "3",
            "resolved": "4",
            "closed": "4",
        }
    )
    timeout: float = Field(default=30.0, gt=0, le=300)
    webhook_max_age: float = Field(default=MAX_AGE_SECONDS, gt=0, le=3600)
    portal_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


@dataclass
class _Run:
    """The state of one push: results so far, ids learnt, whether anything was written."""

    results: dict[str, PushResult]
    contacts: dict[str, str]
    tickets: dict[str, str]
    written: bool = False


class _HubSpotClient(Integration):
    """The HubSpot API client and the classification of its errors."""

    config: HubSpotConfig

    def __init__(self, config: IntegrationConfig) -> None:
        super().__init__(config)
        self._api: HubSpotAPI | None = None
        self._owners: dict[str, str] = {}
        self._owners_read_at: float | None = None

    def record_url(self, kind: str, remote_id: str) -> str | None:
        """The contact (``0-1``) or ticket (``0-5``) record in HubSpot, with ``portal_id`` set."""
        object_type = {"contact": "0-1", "conversation": "0-5"}.get(kind)
        if object_type is None or self.config.portal_id is None:
            return None
        return (
            f"https://app.hubspot.com/contacts/{self.config.portal_id}/record/{object_type}/"
            f"{quote(remote_id, safe='')}"
        )

    async def open(self) -> None:
        """Build the HubSpot client (no call is made)."""
        if self._api is None:
            self._api = await asyncio.to_thread(self._build)

    def _build(self) -> HubSpotAPI:
        return HubSpotAPI(
            access_token=self.config.access_token.get_secret_value(),
            host=self.config.host,
            timeout=self.config.timeout,
        )

    async def close(self) -> None:
        """Drop the client."""
        self._api = None

    @property
    def api(self) -> HubSpotAPI:
        """The client; built on first use when `open` was not called."""
        if self._api is None:
            self._api = self._build()
        return self._api

    def _classify(self, error: HubSpotHTTPError) -> IntegrationError:
        detail = f"{error.category or 'error'}: {error.message}".strip(": ")
        if error.status in (401, 403):
            return IntegrationAuthError(
                f"hubspot refused the credentials ({error.status} {detail})", integration=self.name
            )
        if error.status == 429:
            retry_after = _retry_after(error)
            if str(error.body.get("policyName", "")).upper() == "DAILY":
                return IntegrationQuotaError(
                    f"hubspot daily API limit reached: {error.message}",
                    integration=self.name,
                    retry_after=retry_after,
                )
            return RetryableIntegrationError(
                f"hubspot rate limit ({error.body.get('policyName', 'unknown')}): {error.message}",
                integration=self.name,
                status_code=429,
                retry_after=retry_after,
            )
        if error.status == 0 or error.status >= 500 or error.status in (408, 423):
            return RetryableIntegrationError(
                f"hubspot unavailable ({error.status or 'no answer'}): {detail}",
                integration=self.name,
                status_code=error.status or None,
                retry_after=_retry_after(error),
            )
        return PermanentIntegrationError(
            f"hubspot refused the request ({error.status} {detail})",
            integration=self.name,
            status_code=error.status,
        )

    def _ok(self, change: OutboundChange, object_type: str, record: ApiObject) -> PushResult:
        version = record.properties.get(_MODIFIED[object_type])
        if version is None and record.updated_at is not None:
            version = record.updated_at.isoformat()
        return PushResult.ok(
            change, record.id, remote_type=_REMOTE_TYPE[object_type], remote_version=version
        )

    def _settle(
        self,
        object_type: str,
        changes: Sequence[OutboundChange],
        answer: BatchAnswer,
        run: _Run,
    ) -> dict[str, ApiObject]:
        """Match a batch answer to its changes (by trace id, else by our id property)."""
        by_trace = {r.trace_id: r for r in answer.results if r.trace_id}
        by_local = {
            r.properties.get(self.config.unique_property): r
            for r in answer.results
            if r.properties.get(self.config.unique_property)
        }
        errors: dict[str, BatchError] = {}
        for failure in answer.errors:
            for trace in failure.trace_ids:
                errors[trace] = failure
        done: dict[str, ApiObject] = {}
        for change in changes:
            record = by_trace.get(change.change_id) or by_local.get(change.local_id)
            if record is not None:
                run.results[change.change_id] = self._ok(change, object_type, record)
                done[change.change_id] = record
                continue
            error = errors.get(change.change_id)
            if error is None:
                run.results[change.change_id] = PushResult.retryable(
                    change, f"hubspot answered no result for this {_REMOTE_TYPE[object_type]}"
                )
            elif error.category in _PERMANENT_CATEGORIES:
                run.results[change.change_id] = PushResult.permanent(
                    change, f"{error.category}: {error.message}"
                )
            else:
                run.results[change.change_id] = PushResult.retryable(
                    change, f"{error.category}: {error.message}"
                )
        return done

    def _upsert(
        self, object_type: str, changes: Sequence[tuple[OutboundChange, dict[str, str]]], run: _Run
    ) -> dict[str, ApiObject]:
        if not changes:
            return {}
        inputs = [
            {
                "id": change.local_id,
                "idProperty": self.config.unique_property,
                "objectWriteTraceId": change.change_id,
                "properties": properties,
            }
            for change, properties in changes
        ]
        answer = self.api.upsert(object_type, inputs)
        run.written = True
        return self._settle(object_type, [c for c, _ in changes], answer, run)

    def _delete(self, object_type: str, changes: Sequence[OutboundChange], run: _Run) -> None:
        """Archive records; those HubSpot no longer has count as done."""
        if not changes:
            return
        known = {c.change_id: c.remote_id for c in changes if c.remote_id}
        unknown = [c for c in changes if not c.remote_id]
        if unknown:
            if object_type == "notes":
                found = self._find_notes([c.local_id for c in unknown])
            else:
                answer = self.api.read(
                    object_type,
                    [c.local_id for c in unknown],
                    [self.config.unique_property],
                    id_property=self.config.unique_property,
                )
                found = {
                    str(r.properties.get(self.config.unique_property)): r.id for r in answer.results
                }
            for change in unknown:
                if change.local_id in found:
                    known[change.change_id] = found[change.local_id]
        if known:
            self.api.archive(object_type, sorted(set(known.values())))
            run.written = True
        for change in changes:
            run.results[change.change_id] = PushResult.ok(change, known.get(change.change_id))

    def _find_notes(self, local_ids: Sequence[str]) -> dict[str, str]:
        """Notes carrying these chatkit ids: ``{local id: note id}`` (one search per 100)."""
        found: dict[str, str] = {}
        prop = self.config.unique_property
        for start in range(0, len(local_ids), BATCH):
            chunk = list(dict.fromkeys(local_ids[start : start + BATCH]))
            after: str | None = None
            while True:
                page = self.api.search(
                    "notes",
                    filter_groups=[
                        {"filters": [{"propertyName": prop, "operator": "IN", "values": chunk}]}
                    ],
                    sort={"propertyName": "hs_object_id", "direction": "ASCENDING"},
                    properties=[prop],
                    limit=SEARCH_PAGE_MAX,
                    after=after,
                )
                for record in page.results:
                    local = record.properties.get(prop)
                    if local:
                        found.setdefault(local, record.id)
                if page.next_after is None:
                    break
                after = page.next_after
        return found

    def _properties(self, object_type: str) -> list[str]:
        prop = self.config.unique_property
        wanted = {
            "contacts": ["email", "firstname", "lastname", "phone", "lastmodifieddate"],
            "tickets": [
                "subject",
                "hs_pipeline",
                "hs_pipeline_stage",
                "hs_ticket_priority",
                "hs_lastmodifieddate",
            ],
            "notes": ["hs_note_body", "hs_timestamp", "hubspot_owner_id", "hs_lastmodifieddate"],
        }[object_type]
        return [*wanted, "hs_object_id", prop]

    def _inbound(
        self,
        object_type: str,
        obj: ApiObject,
        stamp: int,
        contact_of: Mapping[str, list[str]],
        ticket_of: Mapping[str, list[str]],
    ) -> InboundChange | None:
        props = obj.properties
        local_id = props.get(self.config.unique_property) or None
        changed_at = datetime.fromtimestamp(stamp / 1000, tz=UTC)
        version = props.get(_MODIFIED[object_type])
        data: dict[str, JsonValue]
        parent: str | None = None
        kind: SyncObject
        if object_type == "contacts":
            kind, data = SyncObject.CONTACT, mapping.contact_data(props)
        elif object_type == "tickets":
            kind = SyncObject.CONVERSATION
            data = mapping.ticket_data(
                props, pipeline=self.config.pipeline, stages=self.config.stages
            )
            parent = next(iter(contact_of.get(obj.id, [])), None)
        else:
            label, text = mapping.parse_note(props.get("hs_note_body"))
            if not mapping.is_internal(label):
                return None  # our own message or transcript, echoed back
            parent = next(iter(ticket_of.get(obj.id, [])), None)
            if parent is None:
                return None  # a note on a contact or deal only: no conversation to join
            kind = SyncObject.NOTE
            data = {"text": text, "from_integration": label is not None}
            owner = props.get("hubspot_owner_id")
            if owner:
                data["author_name"] = f"HubSpot owner {owner}"
        return InboundChange(
            object=kind,
            remote_type=_REMOTE_TYPE[object_type],
            remote_id=obj.id,
            remote_version=version,
            local_id=local_id,
            parent_remote_id=parent,
            data=data,
            changed_at=changed_at,
        )


def _retry_after(error: HubSpotHTTPError) -> float | None:
    header = error.header("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            return None
    if error.status == 429 and error.header("X-HubSpot-RateLimit-Remaining") == "0":
        interval = error.header("X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval and interval.isdigit():
            return int(interval) / 1000
    return None
