"""The ``hubspot`` integration: contacts, tickets and notes in HubSpot's CRM.

What goes where:

- contacts ⇄ HubSpot contacts (``email``, ``firstname``/``lastname``, ``phone``);
- conversations ⇄ tickets (``subject``, ``hs_pipeline``, ``hs_pipeline_stage``
  from the status, ``hs_ticket_priority``), associated with their contact;
- a conversation's owner (its assignee) → the ticket's ``hubspot_owner_id``:
  the HubSpot owner with the assignee's email, from the owners API
  (``GET /crm/v3/owners/``, 500 a page) read when a push has an owner not
  cached yet and kept per integration instance (read again at most every
  ``_OWNERS_TTL`` seconds for emails still unknown); unassigned, or not a
  HubSpot owner: ``""`` (no owner). Not read back;
- messages → notes on the ticket, private notes ⇄ notes, transcripts → a note
  on the ticket. HubSpot notes have no public/private flag: the first line of
  the body says what the note is (see `_mapping`), and notes written by agents
  in HubSpot come in as private notes.

Idempotency: contacts and tickets are upserted in batches of 100 by a custom
unique property (``unique_property``, default ``chatkit_id``) holding the
chatkit id, so a retry updates what the first try created. Notes cannot have
unique properties; they carry the chatkit id in a plain custom note property
of the same name, and a retried change (``attempt > 1``) without a known
remote id searches for it before creating.

Set-up in HubSpot: a private app with the ``crm.objects.contacts.read/write``
and ``tickets`` scopes, a unique single-line text property ``chatkit_id`` on
contacts and tickets, and a single-line text property ``chatkit_id`` on notes.
For webhooks, subscribe the app to contact and ticket creation, property
changes and deletion, and configure ``client_secret`` and ``webhook_url`` (the
public URL HubSpot posts to: it is part of the v3 signature).

Errors: a whole call refused with 401/403 raises `IntegrationAuthError`, a
429 whose ``policyName`` is ``DAILY`` raises `IntegrationQuotaError`, other
429s, 5xx and lost connections raise `RetryableIntegrationError` (with the
``Retry-After`` or rate-limit interval as ``retry_after``) — each only when
nothing was written yet in that push; afterwards the records not done come
back retryable. Per-record errors of a 207 answer become permanent results
(validation, conflicts) or retryable ones (anything else), with HubSpot's
message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ClassVar

from pydantic import Field, JsonValue, SecretStr

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    InboundChange,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PullPage,
    PushResult,
    PushStatus,
    RateBudget,
    SyncObject,
)

from . import _mapping as mapping
from ._api import ApiObject, BatchAnswer, BatchError, HubSpotAPI, HubSpotHTTPError
from .webhooks import MAX_AGE_SECONDS, SignatureError, verify_v3

__all__ = ["HubSpotConfig", "HubSpotIntegration"]

_OWNERS_TTL = 600.0
"""Seconds after reading HubSpot's owners during which an owner email they did not
list is taken as no owner without reading them again."""

logger = logging.getLogger(__name__)

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
_CURSOR_KEYS = {"contacts": "c", "tickets": "t", "notes": "n"}
_PULL_ORDER = ("contacts", "tickets", "notes")


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


@dataclass
class _Run:
    """The state of one push: results so far, ids learnt, whether anything was written."""

    results: dict[str, PushResult]
    contacts: dict[str, str]
    tickets: dict[str, str]
    written: bool = False


class HubSpotIntegration(Integration):
    """Syncs contacts, conversations (tickets), messages and notes (notes) with HubSpot."""

    name: ClassVar[str] = "hubspot"
    config_class = HubSpotConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.both_ways(SyncObject.CONTACT, "contact", BATCH),
            ObjectSync.both_ways(SyncObject.CONVERSATION, "ticket", BATCH),
            ObjectSync.outbound_only(SyncObject.MESSAGE, "note", BATCH),
            ObjectSync.both_ways(SyncObject.NOTE, "note", BATCH),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "note", BATCH),
        ),
        webhooks=True,
        # Private apps: 100 calls per 10 s (190 on Professional/Enterprise), 250,000 a day.
        rate=RateBudget(calls=100, per_seconds=10, daily_calls=250_000),
    )
    config: HubSpotConfig

    def __init__(self, config: IntegrationConfig) -> None:
        super().__init__(config)
        self._api: HubSpotAPI | None = None
        self._owners: dict[str, str] = {}
        self._owners_read_at: float | None = None

    # -- lifecycle -----------------------------------------------------------------

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

    # -- errors --------------------------------------------------------------------

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

    # -- check ---------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """One cheap read: a page of one contact."""
        try:
            await asyncio.to_thread(self.api.probe)
        except HubSpotHTTPError as error:
            problem = self._classify(error)
            if isinstance(problem, IntegrationAuthError):
                state = HealthState.AUTH_FAILED
            elif isinstance(problem, IntegrationQuotaError):
                state = HealthState.QUOTA_EXHAUSTED
            elif error.status == 429:
                state = HealthState.DEGRADED
            else:
                state = HealthState.UNREACHABLE
            return HealthStatus(state=state, detail=str(problem))
        return HealthStatus(state=HealthState.OK, detail=f"hubspot at {self.config.host}")

    # -- push ----------------------------------------------------------------------

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write a batch: contacts, then tickets (and their associations), then notes."""
        return await asyncio.to_thread(self._push, list(changes))

    def _push(self, changes: list[OutboundChange]) -> list[PushResult]:
        run = _Run(results={}, contacts={}, tickets={})
        by_kind: dict[SyncObject, list[OutboundChange]] = defaultdict(list)
        for change in changes:
            by_kind[change.object].append(change)
        steps = (
            (by_kind[SyncObject.CONTACT], self._push_contacts),
            (by_kind[SyncObject.CONVERSATION], self._push_tickets),
            (
                by_kind[SyncObject.MESSAGE]
                + by_kind[SyncObject.NOTE]
                + by_kind[SyncObject.TRANSCRIPT],
                self._push_notes,
            ),
        )
        for group, step in steps:
            for start in range(0, len(group), BATCH):
                chunk = group[start : start + BATCH]
                try:
                    step(chunk, run)
                except HubSpotHTTPError as error:
                    problem = self._classify(error)
                    if isinstance(problem, PermanentIntegrationError):
                        for change in chunk:
                            run.results.setdefault(
                                change.change_id, PushResult.permanent(change, str(problem))
                            )
                        continue
                    if not run.written:
                        raise problem from None
                    retry_after = getattr(problem, "retry_after", None)
                    for change in changes:
                        run.results.setdefault(
                            change.change_id,
                            PushResult.retryable(change, str(problem), retry_after=retry_after),
                        )
                    return [run.results[c.change_id] for c in changes]
        for change in changes:  # anything no step answered (should not happen)
            run.results.setdefault(
                change.change_id, PushResult.retryable(change, "hubspot gave no result for it")
            )
        logger.debug("hubspot: pushed %d changes", len(changes))
        return [run.results[c.change_id] for c in changes]

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

    def _push_contacts(self, changes: list[OutboundChange], run: _Run) -> None:
        upserts = [c for c in changes if c.action is ChangeAction.UPSERT]
        self._delete("contacts", [c for c in changes if c.action is ChangeAction.DELETE], run)
        done = self._upsert(
            "contacts", [(c, mapping.contact_properties(c.data)) for c in upserts], run
        )
        for change in upserts:
            if change.change_id in done:
                run.contacts[change.local_id] = done[change.change_id].id

    def _push_tickets(self, changes: list[OutboundChange], run: _Run) -> None:
        upserts = [c for c in changes if c.action is ChangeAction.UPSERT]
        self._delete("tickets", [c for c in changes if c.action is ChangeAction.DELETE], run)
        owners = self._owner_ids(upserts)
        prepared = [
            (
                change,
                mapping.ticket_properties(
                    change.data,
                    change.local_id,
                    pipeline=self.config.pipeline,
                    stages=self.config.stages,
                    owners=owners,
                ),
            )
            for change in upserts
        ]
        done = self._upsert("tickets", prepared, run)
        self._forget_stale_owners(upserts, run)
        pairs: list[tuple[str, str, OutboundChange]] = []
        for change in upserts:
            record = done.get(change.change_id)
            if record is None:
                continue
            run.tickets[change.local_id] = record.id
            contact = change.parent_remote_id or run.contacts.get(change.parent_local_id or "")
            if contact:
                pairs.append((record.id, contact, change))
        if not pairs:
            return
        errors = self.api.associate("tickets", "contacts", [(t, c) for t, c, _ in pairs])
        failed_ids = {i for e in errors for ids in e.context.values() for i in ids}
        for ticket_id, contact_id, change in pairs:
            if errors and (not failed_ids or {ticket_id, contact_id} & failed_ids):
                message = "; ".join(f"{e.category}: {e.message}" for e in errors)
                run.results[change.change_id] = PushResult.retryable(
                    change, f"the ticket is saved but not linked to its contact ({message})"
                )

    def _forget_stale_owners(self, changes: Sequence[OutboundChange], run: _Run) -> None:
        """A ticket refused for its owner (archived since the owners were read):
        forget the owners, and retry the ticket, which then goes out with the
        owners read again."""
        stale = [
            change
            for change in changes
            if (result := run.results.get(change.change_id)) is not None
            and result.status is PushStatus.PERMANENT
            and "hubspot_owner_id" in (result.error or "")
        ]
        if not stale:
            return
        self._owners, self._owners_read_at = {}, None
        for change in stale:
            failed = run.results[change.change_id]
            run.results[change.change_id] = PushResult.retryable(
                change, f"{failed.error} (the owners will be read again)"
            )

    def _owner_ids(self, changes: Sequence[OutboundChange]) -> dict[str, str]:
        """``{email: owner id}`` of HubSpot's owners, read again when needed.

        The owners are listed (`HubSpotAPI.owners`) when an owner of
        ``changes`` is not known, unless they were listed less than
        ``_OWNERS_TTL`` seconds ago (then that email is taken as no owner).
        """
        wanted = {e for e in (mapping.owner_email(c.data) for c in changes) if e}
        now = time.monotonic()
        fresh = self._owners_read_at is not None and now - self._owners_read_at < _OWNERS_TTL
        if wanted - self._owners.keys() and not fresh:
            self._owners = self.api.owners()
            self._owners_read_at = now
        return self._owners

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

    def _push_notes(self, changes: list[OutboundChange], run: _Run) -> None:
        deletes = [c for c in changes if c.action is ChangeAction.DELETE]
        self._delete("notes", deletes, run)
        upserts: list[tuple[OutboundChange, str]] = []
        for change in changes:
            if change.action is not ChangeAction.UPSERT:
                continue
            ticket = change.parent_remote_id or run.tickets.get(change.parent_local_id or "")
            if not ticket:
                run.results[change.change_id] = PushResult.retryable(
                    change, "its conversation is not in hubspot yet (no ticket id)"
                )
                continue
            upserts.append((change, ticket))
        if not upserts:
            return
        remote = {c.change_id: c.remote_id for c, _ in upserts if c.remote_id}
        retried = [c.local_id for c, _ in upserts if c.attempt > 1 and not c.remote_id]
        if retried:  # an earlier try may have created it: look before creating again
            found = self._find_notes(retried)
            for change, _ in upserts:
                if not change.remote_id and change.local_id in found:
                    remote[change.change_id] = found[change.local_id]
        prop = self.config.unique_property
        updates: list[OutboundChange] = []
        update_inputs: list[dict[str, object]] = []
        creates: list[OutboundChange] = []
        create_inputs: list[dict[str, object]] = []
        for change, ticket in upserts:
            properties = {
                "hs_note_body": mapping.note_body(change.object.value, change.data),
                "hs_timestamp": _note_time(change),
                prop: change.local_id,
            }
            if change.change_id in remote:
                updates.append(change)
                update_inputs.append(
                    {
                        "id": remote[change.change_id],
                        "objectWriteTraceId": change.change_id,
                        "properties": properties,
                    }
                )
            else:
                creates.append(change)
                create_inputs.append(
                    {
                        "objectWriteTraceId": change.change_id,
                        "properties": properties,
                        "associations": [
                            {
                                "to": {"id": ticket},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": NOTE_TO_TICKET,
                                    }
                                ],
                            }
                        ],
                    }
                )
        if update_inputs:
            answer = self.api.update("notes", update_inputs)
            run.written = True
            self._settle("notes", updates, answer, run)
        if create_inputs:
            answer = self.api.create("notes", create_inputs)
            run.written = True
            self._settle("notes", creates, answer, run)

    # -- pull ----------------------------------------------------------------------

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Changes after ``cursor``: contacts, tickets and notes by last-modified date.

        Each object type is searched from its own position ``(timestamp, id)``
        with ``modified > timestamp OR (modified = timestamp AND id > id)``,
        sorted by the modified date; every page starts a fresh search from the
        cursor, so no search pages past HubSpot's 10,000-result cap and records
        changed during the scan are not skipped. A full page ending in a run
        of equal timestamps keeps only what precedes the run; a page that is
        one run is listed by ``hs_object_id``, so equal timestamps are neither
        skipped nor repeated.
        """
        positions = _decode_cursor(cursor)
        return await asyncio.to_thread(self._pull, positions, max(1, min(limit, SEARCH_PAGE_MAX)))

    def _pull(self, positions: dict[str, tuple[int, int]], limit: int) -> PullPage:
        try:
            return self._pull_page(positions, limit)
        except HubSpotHTTPError as error:
            raise self._classify(error) from None

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

    def _scan(
        self, object_type: str, position: tuple[int, int], limit: int
    ) -> tuple[list[tuple[int, int, ApiObject]], bool]:
        modified = _MODIFIED[object_type]
        stamp, last_id = position
        page = self.api.search(
            object_type,
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": modified, "operator": "EQ", "value": str(stamp)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
                    ]
                },
                {"filters": [{"propertyName": modified, "operator": "GT", "value": str(stamp)}]},
            ],
            sort={"propertyName": modified, "direction": "ASCENDING"},
            properties=self._properties(object_type),
            limit=limit,
        )
        rows = sorted(_keyed(object_type, page.results))
        if page.next_after is None or not rows:
            return rows, False
        newest = rows[-1][0]
        head = [row for row in rows if row[0] < newest]
        if head:  # the run at `newest` may go on past this page: take it next time
            return head, True
        # The whole page is one timestamp: list that timestamp by id.
        page = self.api.search(
            object_type,
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": modified, "operator": "EQ", "value": str(newest)},
                        {
                            "propertyName": "hs_object_id",
                            "operator": "GT",
                            "value": str(last_id if newest == stamp else 0),
                        },
                    ]
                }
            ],
            sort={"propertyName": "hs_object_id", "direction": "ASCENDING"},
            properties=self._properties(object_type),
            limit=limit,
        )
        return sorted(_keyed(object_type, page.results)), True

    def _pull_page(self, positions: dict[str, tuple[int, int]], limit: int) -> PullPage:
        candidates: list[tuple[int, int, int, str, ApiObject]] = []
        more = False
        for order, object_type in enumerate(_PULL_ORDER):
            rows, has_more = self._scan(object_type, positions[object_type], limit)
            more = more or has_more
            candidates.extend((ts, order, oid, object_type, obj) for ts, oid, obj in rows)
        candidates.sort(key=lambda row: row[:3])
        if len(candidates) > limit:
            more = True
        taken = candidates[:limit]
        moved = dict(positions)
        for ts, _, oid, object_type, _ in taken:
            moved[object_type] = (ts, oid)
        tickets = [obj.id for _, _, _, t, obj in taken if t == "tickets"]
        notes = [obj.id for _, _, _, t, obj in taken if t == "notes"]
        contact_of = self.api.associated("tickets", "contacts", tickets) if tickets else {}
        ticket_of = self.api.associated("notes", "tickets", notes) if notes else {}
        changes: list[InboundChange] = []
        for ts, _, _, object_type, obj in taken:
            change = self._inbound(object_type, obj, ts, contact_of, ticket_of)
            if change is not None:
                changes.append(change)
        return PullPage(changes=tuple(changes), cursor=_encode_cursor(moved), has_more=more)

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
        changed_at = datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
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

    # -- webhooks ------------------------------------------------------------------

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
        try:
            events = json.loads(body)
        except ValueError:
            raise WebhookVerificationError(
                "hubspot webhook body is not JSON", integration=self.name
            ) from None
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
                    datetime.fromtimestamp(occurred / 1000, tz=timezone.utc)
                    if isinstance(occurred, int)
                    else datetime.now(timezone.utc)
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
                        at = stamp or record.updated_at or datetime.now(timezone.utc)
                        change = self._inbound(
                            object_type, record, mapping.millis(at), contact_of, {}
                        )
                        if change is not None:
                            changes.append(change)
        except HubSpotHTTPError as error:
            raise self._classify(error) from None
        return sorted(changes + deletes, key=lambda c: c.changed_at)


def _note_time(change: OutboundChange) -> str:
    created = change.data.get("created_at")
    if isinstance(created, str) and mapping.hubspot_datetime(created) is not None:
        return created
    return change.occurred_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _keyed(object_type: str, records: Sequence[ApiObject]) -> list[tuple[int, int, ApiObject]]:
    rows = []
    for record in records:
        moment = mapping.hubspot_datetime(record.properties.get(_MODIFIED[object_type]))
        if moment is None:
            continue
        rows.append((mapping.millis(moment), int(record.id), record))
    return rows


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


def _encode_cursor(positions: Mapping[str, tuple[int, int]]) -> str:
    payload = {"v": 1, **{_CURSOR_KEYS[t]: list(p) for t, p in positions.items()}}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, tuple[int, int]]:
    positions = dict.fromkeys(_PULL_ORDER, (0, 0))
    if not cursor:
        return positions
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        for object_type, key in _CURSOR_KEYS.items():
            stamp, last = payload[key]
            positions[object_type] = (int(stamp), int(last))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise IntegrationError(
            "hubspot: not a cursor of this integration", integration="hubspot"
        ) from None
    return positions
