"""HubSpot part: messages, notes and transcripts pushed as notes on their ticket."""

from __future__ import annotations

from datetime import UTC

from chatkit.integrations import ChangeAction, OutboundChange, PushResult

from . import _mapping as mapping
from ._client import NOTE_TO_TICKET, _HubSpotClient, _Run


class _NotesPush(_HubSpotClient):
    """Messages, notes and transcripts → notes, outbound; found again by our id property."""

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


def _note_time(change: OutboundChange) -> str:
    created = change.data.get("created_at")
    if isinstance(created, str) and mapping.hubspot_datetime(created) is not None:
        return created
    return change.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
