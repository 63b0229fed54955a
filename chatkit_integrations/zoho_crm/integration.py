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
"""

from __future__ import annotations

import hmac
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import JsonValue

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
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
    ObjectSync,
    OutboundChange,
    PullPage,
    PushResult,
    RateBudget,
    SyncObject,
)
from chatkit.webhooks import read_webhook_json

from .._time import parse_iso_datetime
from ._client import BATCH, NAME, PAGE, ZohoAPI, ZohoCRMConfig, ZohoHTTPError, classify, logger

__all__ = ["ZohoCRMConfig", "ZohoCRMIntegration"]

STATUS_OUT = {
    "open": "New",
    "pending": "On Hold",
    "snoozed": "On Hold",
    "resolved": "Closed",
    "closed": "Closed",
}
STATUS_IN = {"New": "open", "Escalated": "open", "On Hold": "pending", "Closed": "resolved"}
PRIORITY_OUT = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}
PRIORITY_IN = {"Low": "low", "Medium": "normal", "High": "high"}
FIELDS = {
    "Contacts": ("First_Name", "Last_Name", "Email", "Phone", "Modified_Time"),
    "Cases": ("Subject", "Status", "Priority", "Contact_Name", "Modified_Time"),
    "Notes": ("Note_Title", "Note_Content", "Parent_Id", "Created_By", "Modified_Time"),
}
KINDS = {"Contacts": SyncObject.CONTACT, "Cases": SyncObject.CONVERSATION, "Notes": SyncObject.NOTE}
REMOTE_TYPES = {"Contacts": "Contact", "Cases": "Case", "Notes": "Note"}
_MARK = re.compile(r"\[([A-Za-z0-9_]+)\]\s*$")
_TITLES = {
    SyncObject.MESSAGE: "Chat message",
    SyncObject.NOTE: "Private note",
    SyncObject.TRANSCRIPT: "Chat transcript",
}
RESUBSCRIBE_MARGIN = timedelta(minutes=10)
CHANNEL_LIFETIME = timedelta(hours=23)


def _text(value: JsonValue) -> str:
    return value.strip() if isinstance(value, str) else ""


def _stamp(value: object) -> datetime:
    moment = parse_iso_datetime(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class _Run:
    results: dict[str, PushResult] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    written: bool = False


class ZohoCRMIntegration(Integration):
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

    def __init__(self, config: ZohoCRMConfig) -> None:
        super().__init__(config)
        self.api = ZohoAPI(config)
        self._channel_expiry: datetime | None = None

    async def open(self) -> None:
        """Open the HTTP client."""
        await self.api.open()

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.api.close()

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

    # -- pull ------------------------------------------------------------------------

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Changes after ``cursor``: Contacts, Cases, then Notes by ``Modified_Time``.

        The cursor holds, per module, the newest ``Modified_Time`` read, the
        ids and content digests read at that second (Zoho's timestamps have
        seconds only, so the next read starts a second earlier and skips
        those unless they changed again), and the ``page_token`` of a listing
        still going on.
        """
        state = _decode(cursor)
        try:
            await self._ensure_channel()
            changes: list[InboundChange] = []
            has_more = False
            for module in ("Contacts", "Cases", "Notes"):
                page, more = await self._pull_module(module, state, max(1, min(limit, PAGE)))
                changes.extend(page)
                if more:
                    has_more = True
                    break
        except (ZohoHTTPError, httpx.TransportError) as error:
            raise classify(error) from None
        changes.sort(key=lambda c: c.changed_at)
        return PullPage(changes=tuple(changes), cursor=_encode(state), has_more=has_more)

    async def _pull_module(
        self, module: str, state: dict[str, Any], limit: int
    ) -> tuple[list[InboundChange], bool]:
        mine = state.setdefault(module, {"t": None, "ids": [], "anchor": None, "p": None})
        params = {
            "fields": ",".join(
                (*FIELDS[module], *(() if module == "Notes" else (self.config.id_field,)))
            ),
            "sort_by": "Modified_Time",
            "sort_order": "asc",
            "per_page": str(limit),
        }
        if mine["p"]:
            params["page_token"] = mine["p"]
        else:
            mine["anchor"] = mine["t"]
        headers = {}
        if mine["anchor"]:
            since = _stamp(mine["anchor"]) - timedelta(seconds=1)
            headers["If-Modified-Since"] = since.isoformat()
        _, body = await self.api.call("GET", f"/{module}", params=params, headers=headers)
        rows = (body or {}).get("data", []) if body else []
        info = (body or {}).get("info", {}) if body else {}
        changes: list[InboundChange] = []
        for row in rows:
            stamp = str(row.get("Modified_Time"))
            seen = f"{row['id']}:{_fingerprint(row)}"
            if mine["t"] is not None and (
                _stamp(stamp) < _stamp(mine["t"]) or (stamp == mine["t"] and seen in mine["ids"])
            ):
                continue
            change = self._inbound(module, row)
            if change is not None:
                changes.append(change)
            if mine["t"] is None or _stamp(stamp) > _stamp(mine["t"]):
                mine["t"], mine["ids"] = stamp, [seen]
            elif stamp == mine["t"]:
                mine["ids"] = [i for i in mine["ids"] if not i.startswith(f"{row['id']}:")] + [seen]
        more = bool(info.get("more_records")) and bool(info.get("next_page_token"))
        mine["p"] = info.get("next_page_token") if more else None
        return changes, more

    def _inbound(self, module: str, row: Mapping[str, Any]) -> InboundChange | None:
        changed_at = _stamp(row.get("Modified_Time"))
        version = f"{row.get('Modified_Time')}#{_fingerprint(row)}"
        remote_type = REMOTE_TYPES[module]
        if module == "Contacts":
            name = " ".join(p for p in (row.get("First_Name"), row.get("Last_Name")) if p)
            data: dict[str, JsonValue] = {"name": name or None}
            if row.get("Email") is not None:
                data["email"] = row["Email"]
            if row.get("Phone") is not None:
                data["phone"] = row["Phone"]
            return InboundChange(
                object=SyncObject.CONTACT,
                remote_type=remote_type,
                remote_id=str(row["id"]),
                remote_version=version,
                local_id=row.get(self.config.id_field) or None,
                data=data,
                changed_at=changed_at,
            )
        if module == "Cases":
            data = {}
            if row.get("Subject"):
                data["subject"] = row["Subject"]
            if row.get("Status") in STATUS_IN:
                data["status"] = STATUS_IN[row["Status"]]
            if row.get("Priority") in PRIORITY_IN:
                data["priority"] = PRIORITY_IN[row["Priority"]]
            contact = row.get("Contact_Name")
            return InboundChange(
                object=SyncObject.CONVERSATION,
                remote_type=remote_type,
                remote_id=str(row["id"]),
                remote_version=version,
                local_id=row.get(self.config.id_field) or None,
                parent_remote_id=str(contact["id"])
                if isinstance(contact, dict) and contact.get("id")
                else None,
                data=data,
                changed_at=changed_at,
            )
        parent = row.get("Parent_Id") or {}
        parent_module = (parent.get("module") or {}).get("api_name") or row.get("$se_module")
        if parent_module != "Cases" or not parent.get("id"):
            return None
        title = str(row.get("Note_Title") or "")
        mark = _MARK.search(title)
        local_id = mark.group(1) if mark else None
        if local_id and not title.startswith(_TITLES[SyncObject.NOTE]):
            return None  # a chat message or transcript written by chatkit: outbound only
        author = row.get("Created_By") or {}
        return InboundChange(
            object=SyncObject.NOTE,
            remote_type=remote_type,
            remote_id=str(row["id"]),
            remote_version=version,
            local_id=local_id,
            parent_remote_id=str(parent["id"]),
            data={
                "text": str(row.get("Note_Content") or ""),
                "author_name": author.get("name"),
                "from_integration": local_id is not None,
            },
            changed_at=changed_at,
        )

    # -- notifications -----------------------------------------------------------------

    async def _ensure_channel(self) -> None:
        """Subscribe (again) to notifications when the channel expires within 10 minutes."""
        if not self.config.notify_url or self.config.channel_token is None:
            return
        now = datetime.now(UTC)
        if self._channel_expiry is not None and self._channel_expiry - RESUBSCRIBE_MARGIN > now:
            return
        expiry = (now + CHANNEL_LIFETIME).replace(microsecond=0)
        _, body = await self.api.call(
            "POST",
            "/actions/watch",
            body={
                "watch": [
                    {
                        "channel_id": self.config.channel_id,
                        "events": ["Contacts.all", "Cases.all", "Notes.all"],
                        "channel_expiry": expiry.isoformat(),
                        "token": self.config.channel_token.get_secret_value(),
                        "notify_url": self.config.notify_url,
                    }
                ]
            },
        )
        answers = (body or {}).get("watch", [])
        events = (answers[0].get("details") or {}).get("events", []) if answers else []
        expiries = [_stamp(e["channel_expiry"]) for e in events if e.get("channel_expiry")]
        if answers and answers[0].get("status") == "success":
            self._channel_expiry = min(expiries) if expiries else expiry

    @property
    def channel_expiry(self) -> datetime | None:
        """When the notification channel expires, as Zoho answered (``None``: not subscribed)."""
        return self._channel_expiry

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        """Check a notification's channel and ``token``, then read what changed.

        Raises:
            WebhookVerificationError: No channel configured, a wrong token or
                channel, or a malformed body.
            RetryableIntegrationError: Zoho could not be read now.
        """
        secret = self.config.channel_token
        if secret is None:
            raise WebhookVerificationError(
                "zoho_crm notifications need channel_token", integration=self.name
            )
        payload = read_webhook_json(body, integration=self.name)
        if not isinstance(payload, dict):
            raise WebhookVerificationError(
                "zoho_crm notification is not an object", integration=self.name
            )
        token = payload.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode(), secret.get_secret_value().encode()
        ):
            raise WebhookVerificationError(
                "zoho_crm notification token does not match", integration=self.name
            )
        if str(payload.get("channel_id")) != self.config.channel_id:
            raise WebhookVerificationError(
                "zoho_crm notification of another channel", integration=self.name
            )
        module = payload.get("module")
        ids = payload.get("ids")
        if module not in KINDS or not isinstance(ids, list):
            return []
        ids = [str(i) for i in ids][:BATCH]
        operation = payload.get("operation")
        if operation == "delete":
            if module == "Notes":
                return []
            at = datetime.fromtimestamp(
                int(payload.get("server_time") or time.time() * 1000) / 1000, tz=UTC
            )
            return [
                InboundChange(
                    object=KINDS[module],
                    action=ChangeAction.DELETE,
                    remote_type=REMOTE_TYPES[module],
                    remote_id=i,
                    changed_at=at,
                )
                for i in ids
            ]
        fields = ",".join(
            (*FIELDS[module], *(() if module == "Notes" else (self.config.id_field,)))
        )
        try:
            _, answer = await self.api.call(
                "GET", f"/{module}", params={"ids": ",".join(ids), "fields": fields}
            )
        except (ZohoHTTPError, httpx.TransportError) as error:
            problem = classify(error)
            if isinstance(problem, RetryableIntegrationError):
                raise problem from None
            raise
        rows = (answer or {}).get("data", []) if answer else []
        changes = [c for c in (self._inbound(module, r) for r in rows) if c is not None]
        return sorted(changes, key=lambda c: c.changed_at)


def _fingerprint(row: Mapping[str, Any]) -> str:
    """A short digest of a record's fields: Zoho's ``Modified_Time`` has seconds only,
    so two edits in one second are told apart by their contents."""
    import hashlib
    import json

    content = {k: v for k, v in row.items() if k not in ("Modified_Time", "Modified_By")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


def _decode(cursor: str | None) -> dict[str, Any]:
    import json

    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        raise IntegrationError(
            "zoho_crm: the saved cursor is not valid", integration=NAME
        ) from None
    return state if isinstance(state, dict) else {}


def _encode(state: dict[str, Any]) -> str:
    import json

    return json.dumps(state, separators=(",", ":"), sort_keys=True)
