"""Zendesk part: conversations pushed as tickets (creates, updates, deletes, owners)."""

from __future__ import annotations

import time
from typing import Any

from chatkit.integrations import ChangeAction, OutboundChange, PushResult

from ._client import (
    _DIRECT_MAX,
    BATCH,
    _job_error,
    _job_result,
    _Outcome,
    _update_result,
    _vendor_message,
    _ZendeskClient,
    logger,
)
from ._mapping import first_comment, owner_email, ticket_fields
from ._zenpy import APIException, RecordNotFoundException, Ticket

_REFUSED_OWNER_TTL = 600.0
"""Seconds an owner Zendesk refused as assignee (not an agent) is left out of tickets
without asking again; then the next ticket it owns tries it once more."""


class _TicketsPush(_ZendeskClient):
    """Conversations ⇄ tickets, outbound; owners Zendesk refused are left out for a while."""

    def _push_tickets(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """``create_many`` and ``update_many`` jobs of 100 (POST and polls).

        A conversation without a ticket id is looked up by external id first
        only on a retried change (``attempt > 1``), or always with
        ``look_up_new_tickets``. Two tickets or fewer are written one by one.
        """
        creates: list[OutboundChange] = []
        updates: list[tuple[OutboundChange, int]] = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(self._delete_ticket(change))
                continue
            if change.remote_id and change.remote_id.isdigit():
                updates.append((change, int(change.remote_id)))
                continue
            if self.config.look_up_new_tickets or change.attempt > 1:
                found = self._ticket_by_external_id(change.local_id)
                if found is not None:
                    updates.append((change, found))
                    continue
            if not change.parent_remote_id:
                outcome.set(PushResult.retryable(change, "its contact is not in Zendesk yet"))
                continue
            creates.append(change)
        for start in range(0, len(creates), BATCH):
            self._create_tickets(creates[start : start + BATCH], outcome)
        for start in range(0, len(updates), BATCH):
            self._update_tickets(updates[start : start + BATCH], outcome)

    def _ticket(self, change: OutboundChange, ticket_id: int | None, *, owner: bool) -> Any:
        """The zenpy ticket to write for ``change`` (a new one carries its first comment).

        The owner is left out when ``owner`` is false or Zendesk recently
        refused it (`_refused_owners`). ``None`` fields (``assignee_id``) are
        set after construction, as zenpy sends only the attributes set so.
        """
        fields = ticket_fields(change, owner=self._sends_owner(change, owner=owner))
        unset = {name for name, value in fields.items() if value is None}
        ticket = Ticket(**{k: v for k, v in fields.items() if k not in unset})
        for name in sorted(unset):
            setattr(ticket, name, None)
        if ticket_id is not None:
            ticket.id = ticket_id
        else:
            ticket.comment = first_comment(change)
        return ticket

    def _owner_refused(self, email: str | None) -> bool:
        """Whether Zendesk refused ``email`` as an assignee in the last ``_REFUSED_OWNER_TTL`` s."""
        if email is None:
            return False
        refused_at = self._refused_owners.get(email.lower())
        return refused_at is not None and time.monotonic() - refused_at < _REFUSED_OWNER_TTL

    def _sends_owner(self, change: OutboundChange, *, owner: bool) -> bool:
        """Whether the ticket written for ``change`` carries its owner's ``assignee_email``."""
        email = owner_email(change)
        return owner and email is not None and not self._owner_refused(email)

    def _refuse_owner(self, change: OutboundChange) -> None:
        """Note that Zendesk refused the owner of ``change`` as assignee."""
        email = owner_email(change)
        if email is not None and not self._owner_refused(email):
            self._refused_owners[email.lower()] = time.monotonic()
            logger.info("zendesk: %s is not an agent; its tickets are left unassigned", email)

    def _create_tickets(
        self, chunk: list[OutboundChange], outcome: _Outcome, *, owner: bool = True
    ) -> None:
        if len(chunk) <= _DIRECT_MAX:
            for change in chunk:
                outcome.set(self._write_ticket(change, outcome, None, owner=owner))
            return
        tickets = [self._ticket(c, None, owner=owner) for c in chunk]
        owned = {c.change_id for c in chunk if self._sends_owner(c, owner=owner)}
        results = self._job(
            chunk, outcome, lambda: self._client.tickets.create(tickets), idempotent=False
        )
        refused: list[OutboundChange] = []
        for index, change in enumerate(chunk if results is not None else []):
            result = _job_result(results or [], index)
            if result is None:
                outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
            elif result.get("error"):
                if change.change_id in owned and _owner_error(_job_error(result)):
                    self._refuse_owner(change)
                    refused.append(change)
                else:
                    outcome.set(PushResult.permanent(change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(change, str(result["id"]), remote_type="ticket"))
        if refused:  # not created (a validation error): again, without their owners
            self._create_tickets(refused, outcome, owner=False)

    def _update_tickets(
        self, chunk: list[tuple[OutboundChange, int]], outcome: _Outcome, *, owner: bool = True
    ) -> None:
        if len(chunk) <= _DIRECT_MAX:
            for change, ticket_id in chunk:
                outcome.set(self._write_ticket(change, outcome, ticket_id, owner=owner))
            return
        items = [self._ticket(c, ticket_id, owner=owner) for c, ticket_id in chunk]
        owned = {c.change_id for c, _ in chunk if self._sends_owner(c, owner=owner)}
        pending = [c for c, _ in chunk]
        results = self._job(
            pending, outcome, lambda: self._client.tickets.update(items), idempotent=True
        )
        refused: list[tuple[OutboundChange, int]] = []
        for index, (change, ticket_id) in enumerate(chunk if results is not None else []):
            result = _update_result(results or [], index, ticket_id)
            if result is None:
                outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
            elif result.get("error") or result.get("success") is False:
                if change.change_id in owned and _owner_error(_job_error(result)):
                    self._refuse_owner(change)
                    refused.append((change, ticket_id))
                else:
                    outcome.set(PushResult.permanent(change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(change, str(ticket_id), remote_type="ticket"))
        if refused:
            self._update_tickets(refused, outcome, owner=False)

    def _write_ticket(
        self, change: OutboundChange, outcome: _Outcome, ticket_id: int | None, *, owner: bool
    ) -> PushResult:
        """One ticket created (no ``ticket_id``) or updated by itself.

        One call, and the answer has its version; a second one, without the
        owner, when Zendesk refuses the owner (not an agent).
        """
        create = ticket_id is None
        owned = self._sends_owner(change, owner=owner)
        try:
            with self._writing(outcome, idempotent=not create):
                ticket = self._ticket(change, ticket_id, owner=owner)
                if create:
                    audit = self._client.tickets.create(ticket)
                else:
                    audit = self._client.tickets.update(ticket)
        except APIException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if owned and status == 422 and _owner_error(_vendor_message(exc)):
                self._refuse_owner(change)
                return self._write_ticket(change, outcome, ticket_id, owner=False)
            return self._record_error(change, exc)
        data = audit.ticket.to_dict()
        updated = data.get("updated_at")
        return PushResult.ok(
            change,
            str(data["id"]),
            remote_type="ticket",
            remote_version=str(updated) if updated else None,
        )

    def _ticket_by_external_id(self, external_id: str) -> int | None:
        """The oldest ticket carrying ``external_id`` (external ids are not unique)."""
        ids = [int(t.id) for t in self._client.tickets(external_id=external_id)]
        return min(ids) if ids else None

    def _delete_ticket(self, change: OutboundChange) -> PushResult:
        if not change.remote_id:
            return PushResult.ok(change, None)
        try:
            self._client.tickets.delete(Ticket(id=int(change.remote_id)))
        except RecordNotFoundException:
            pass
        except APIException as exc:
            return self._record_error(change, exc)
        return PushResult.ok(change, None, remote_type="ticket")


def _owner_error(message: str) -> bool:
    """Whether Zendesk's validation message is about the assignee (e.g. not an agent)."""
    return "assignee" in message.lower()
