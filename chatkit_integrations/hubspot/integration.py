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

Where the parts are: `HubSpotIntegration` (here) is the push that runs them
in order, with contacts, tickets and their owners; notes (messages, private
notes, transcripts) in ``_notes.py``, pull and its cursor in ``_pull.py``,
webhooks in ``_webhook_events.py``; the client, settings (`HubSpotConfig`),
error classification, batch answers and the reading of vendor records in
``_client.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar

from chatkit.errors import IntegrationAuthError, IntegrationQuotaError, PermanentIntegrationError
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    ObjectSync,
    OutboundChange,
    PushResult,
    PushStatus,
    RateBudget,
    SyncObject,
)

from . import _mapping as mapping
from ._api import HubSpotHTTPError
from ._client import BATCH, HubSpotConfig, _Run, logger
from ._notes import _NotesPush
from ._pull import _Pull
from ._webhook_events import _Webhooks

__all__ = ["HubSpotConfig", "HubSpotIntegration"]

_OWNERS_TTL = 600.0
"""Seconds after reading HubSpot's owners during which an owner email they did not
list is taken as no owner without reading them again."""


class HubSpotIntegration(_NotesPush, _Pull, _Webhooks):
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

    # -- push: contacts, tickets and their owners ---------------------------------

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
