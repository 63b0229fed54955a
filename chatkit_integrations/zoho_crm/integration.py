"""The ``zoho_crm`` integration: contacts, cases and notes in Zoho CRM (REST API v7).

What goes where:

- contacts ⇄ Contacts (``First_Name``/``Last_Name``, ``Email``, ``Phone``);
- conversations ⇄ Cases (``Subject``, ``Status``, ``Priority``,
  ``Case_Origin`` ``Web``), linked to their contact by ``Contact_Name``;
- messages and transcripts → Notes on the case, private notes ⇄ Notes. The
  note's ``Note_Title`` ends with ``[<chatkit id>]``; notes written in Zoho
  without it come in as private notes.

Idempotency: contacts and cases are upserted, 100 a call, with
``duplicate_check_fields`` set to the unique custom field ``id_field``
(``Chatkit_Id``) holding the chatkit id, so a retry updates what the first
try created. Notes cannot be upserted: a retried note (``attempt > 1``)
without a known remote id is looked up among its case's notes by title first.

Reading: `pull` lists each module sorted by ``Modified_Time`` with
``If-Modified-Since`` and follows ``page_token`` while ``more_records``;
`verify_webhook` takes Zoho's notification callbacks (checked by the
channel's ``token``), re-subscribing the channel (``/actions/watch``) before
its ``channel_expiry`` whenever it pulls.

Why httpx and not Zoho's SDK: the official Python SDK
(``zohocrmsdk8-0``) keeps its configuration and tokens in a process-global
``Initializer`` and persists tokens through its own token stores; an
embedded SDK serving several connections (tenants) from one process, in
async code, cannot share that global state, and the SDK is not on the
package index this project installs from.

Where the parts are: `ZohoCRMIntegration` (here) checks and pushes; the pull,
its cursor and the notifications are in ``_inbound.py``, the field mappings in
``_mapping.py``, settings (`ZohoCRMConfig`), data centres, tokens and the HTTP
calls in ``_client.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    PermanentIntegrationError,
)
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    ObjectSync,
    OutboundChange,
    PushResult,
    RateBudget,
    SyncObject,
)

from ._client import BATCH, NAME, PAGE, ZohoCRMConfig, ZohoHTTPError, classify, logger

__all__ = ["ZohoCRMConfig", "ZohoCRMIntegration"]
from ._inbound import _Inbound
from ._mapping import _TITLES, PRIORITY_OUT, REMOTE_TYPES, STATUS_OUT, _text


@dataclass
class _Run:
    results: dict[str, PushResult] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    written: bool = False


class ZohoCRMIntegration(_Inbound):
    """Syncs contacts, conversations (Cases), messages and notes (Notes) with Zoho CRM."""

    name: ClassVar[str] = NAME
    config_class = ZohoCRMConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.both_ways(SyncObject.CONTACT, "Contact", BATCH),
            ObjectSync.both_ways(SyncObject.CONVERSATION, "Case", BATCH),
            ObjectSync.outbound_only(SyncObject.MESSAGE, "Note", BATCH),
            ObjectSync.both_ways(SyncObject.NOTE, "Note", BATCH),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "Note", BATCH),
        ),
        webhooks=True,
        # Zoho limits concurrency and daily credits by edition; 100 calls a minute is safe for all.
        rate=RateBudget(calls=100, per_seconds=60),
    )
    config: ZohoCRMConfig

    # -- check ---------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """A token, then one page of one contact; the unique ``id_field`` must exist."""
        try:
            _, body = await self.api.call(
                "GET",
                "/Contacts",
                params={"fields": f"Last_Name,{self.config.id_field}", "per_page": "1"},
            )
        except IntegrationAuthError as exc:
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(exc))
        except IntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        except (ZohoHTTPError, httpx.TransportError) as error:
            problem = classify(error)
            if isinstance(problem, IntegrationAuthError):
                return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(problem))
            if isinstance(error, ZohoHTTPError) and error.status == 429:
                return HealthStatus(state=HealthState.DEGRADED, detail=str(problem))
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(problem))
        rows = body.get("data", []) if isinstance(body, dict) else []
        if rows and self.config.id_field not in rows[0]:
            return HealthStatus(
                state=HealthState.UNREACHABLE,
                detail=f"zoho_crm: Contacts have no field {self.config.id_field!r}: add it as a "
                "unique single-line field on Contacts and Cases",
            )
        return HealthStatus(state=HealthState.OK, detail=f"zoho_crm via {self.config.accounts_url}")

    # -- push ------------------------------------------------------------------------

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write a batch: contacts, then cases, then notes; 100 records a call."""
        run = _Run()
        by_kind: dict[SyncObject, list[OutboundChange]] = defaultdict(list)
        for change in changes:
            by_kind[change.object].append(change)
        notes = (
            by_kind[SyncObject.MESSAGE] + by_kind[SyncObject.NOTE] + by_kind[SyncObject.TRANSCRIPT]
        )
        steps = (
            ("Contacts", by_kind[SyncObject.CONTACT]),
            ("Cases", by_kind[SyncObject.CONVERSATION]),
            ("Notes", notes),
        )
        for module, group in steps:
            for start in range(0, len(group), BATCH):
                chunk = group[start : start + BATCH]
                try:
                    await self._push_chunk(module, chunk, run)
                except (ZohoHTTPError, httpx.TransportError, IntegrationError) as error:
                    problem = error if isinstance(error, IntegrationError) else classify(error)
                    if isinstance(problem, PermanentIntegrationError):
                        for change in chunk:
                            run.results.setdefault(
                                change.change_id, PushResult.permanent(change, str(problem))
                            )
                        continue
                    if not run.written:
                        raise problem from None
                    wait = getattr(problem, "retry_after", None)
                    for change in changes:
                        run.results.setdefault(
                            change.change_id,
                            PushResult.retryable(change, str(problem), retry_after=wait),
                        )
                    return [run.results[c.change_id] for c in changes]
        for change in changes:
            run.results.setdefault(
                change.change_id, PushResult.retryable(change, "zoho_crm gave no result")
            )
        logger.debug("zoho_crm: pushed %d changes", len(changes))
        return [run.results[c.change_id] for c in changes]

    async def _push_chunk(self, module: str, chunk: list[OutboundChange], run: _Run) -> None:
        deletes = [c for c in chunk if c.action is ChangeAction.DELETE]
        upserts = [c for c in chunk if c.action is ChangeAction.UPSERT]
        if deletes:
            await self._delete(module, deletes, run)
        if not upserts:
            return
        if module == "Notes":
            await self._push_notes(upserts, run)
            return
        records: list[tuple[OutboundChange, dict[str, Any]]] = []
        for change in upserts:
            record = self._contact(change) if module == "Contacts" else self._case(change, run)
            if record is None:
                run.results[change.change_id] = PushResult.retryable(
                    change, "its contact is not in Zoho CRM yet"
                )
                continue
            records.append((change, record))
        if not records:
            return
        _, body = await self.api.call(
            "POST",
            f"/{module}/upsert",
            body={
                "data": [r for _, r in records],
                "duplicate_check_fields": [self.config.id_field],
                "trigger": [],
            },
        )
        run.written = True
        self._read_results(module, records, body, run)

    def _read_results(
        self,
        module: str,
        records: list[tuple[OutboundChange, dict[str, Any]]],
        body: Any,
        run: _Run,
    ) -> None:
        entries = body.get("data", []) if isinstance(body, dict) else []
        for (change, _), entry in zip(records, entries, strict=False):
            if entry.get("status") == "success":
                details = entry.get("details") or {}
                remote_id = str(details.get("id"))
                run.results[change.change_id] = PushResult.ok(
                    change,
                    remote_id,
                    remote_type=REMOTE_TYPES[module],
                    remote_version=details.get("Modified_Time"),
                )
                if module == "Contacts":
                    run.contacts[change.local_id] = remote_id
                elif module == "Cases":
                    run.cases[change.local_id] = remote_id
            else:
                message = self._entry_error(entry)
                if entry.get("code") in (
                    "INVALID_DATA",
                    "MANDATORY_NOT_FOUND",
                    "DUPLICATE_DATA",
                    "INVALID_MODULE",
                ):
                    run.results[change.change_id] = PushResult.permanent(change, message)
                else:
                    run.results[change.change_id] = PushResult.retryable(change, message)

    @staticmethod
    def _entry_error(entry: Mapping[str, Any]) -> str:
        details = entry.get("details") or {}
        where = details.get("api_name") or details.get("json_path") or ""
        return f"zoho_crm {entry.get('code', 'ERROR')}: {entry.get('message', '')}" + (
            f" ({where})" if where else ""
        )

    def _contact(self, change: OutboundChange) -> dict[str, Any]:
        data = change.data
        name = _text(data.get("name")) or _text(data.get("email")) or change.local_id
        first, _, last = name.rpartition(" ")
        record: dict[str, Any] = {
            self.config.id_field: change.local_id,
            "Last_Name": last or name,
            "First_Name": first or None,
        }
        if _text(data.get("email")):
            record["Email"] = _text(data.get("email"))
        if _text(data.get("phone")):
            record["Phone"] = _text(data.get("phone"))
        return record

    def _case(self, change: OutboundChange, run: _Run) -> dict[str, Any] | None:
        data = change.data
        contact = change.parent_remote_id or run.contacts.get(change.parent_local_id or "")
        if change.parent_local_id and not contact:
            return None
        record: dict[str, Any] = {
            self.config.id_field: change.local_id,
            "Subject": _text(data.get("subject")) or "Chat conversation",
            "Status": STATUS_OUT.get(str(data.get("status")), "New"),
            "Priority": PRIORITY_OUT.get(str(data.get("priority")), "Medium"),
            "Case_Origin": "Web",
        }
        if contact:
            record["Contact_Name"] = {"id": contact}
        return record

    async def _push_notes(self, changes: list[OutboundChange], run: _Run) -> None:
        """New notes by insert (``POST /Notes``), known ones by update (``PUT /Notes``)."""
        inserts: list[tuple[OutboundChange, dict[str, Any]]] = []
        updates: list[tuple[OutboundChange, dict[str, Any]]] = []
        for change in changes:
            case = change.parent_remote_id or run.cases.get(change.parent_local_id or "")
            if not case:
                run.results[change.change_id] = PushResult.retryable(
                    change, "its case is not in Zoho CRM yet"
                )
                continue
            title = f"{_TITLES[change.object]} [{change.local_id}]"
            text = _text(change.data.get("text")) or "(empty)"
            known = change.remote_id
            if not known and change.attempt > 1:  # an earlier try may have created it
                known = await self._find_note(case, title)
            if known:
                updates.append((change, {"id": known, "Note_Title": title, "Note_Content": text}))
                continue
            inserts.append(
                (
                    change,
                    {
                        "Note_Title": title,
                        "Note_Content": text,
                        "Parent_Id": {"module": {"api_name": "Cases"}, "id": case},
                    },
                )
            )
        for method, group in (("POST", inserts), ("PUT", updates)):
            if group:
                _, body = await self.api.call(
                    method, "/Notes", body={"data": [r for _, r in group]}
                )
                run.written = True
                self._read_results("Notes", group, body, run)

    async def _find_note(self, case: str, title: str) -> str | None:
        token: str | None = None
        while True:
            params = {"fields": "Note_Title", "per_page": str(PAGE)}
            if token:
                params["page_token"] = token
            _, body = await self.api.call("GET", f"/Cases/{case}/Notes", params=params)
            if not body:
                return None
            for note in body.get("data", []):
                if note.get("Note_Title") == title:
                    return str(note["id"])
            info = body.get("info") or {}
            token = info.get("next_page_token")
            if not info.get("more_records") or not token:
                return None

    async def _delete(self, module: str, changes: list[OutboundChange], run: _Run) -> None:
        known = [c for c in changes if c.remote_id]
        for change in changes:
            if not change.remote_id:
                run.results[change.change_id] = PushResult.ok(change, None)
        if not known:
            return
        await self.api.call(
            "DELETE", f"/{module}", params={"ids": ",".join(str(c.remote_id) for c in known)}
        )
        run.written = True
        for change in known:  # gone already counts as done
            run.results[change.change_id] = PushResult.ok(change, change.remote_id)
