"""Zoho CRM part: reading changes (pull by ``Modified_Time``) and notifications."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import JsonValue

from chatkit.errors import (
    IntegrationError,
    PermanentIntegrationError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from chatkit.integrations import (
    ChangeAction,
    InboundChange,
    Integration,
    PullPage,
    SyncObject,
)
from chatkit.webhooks import read_webhook_json

from ._client import (
    BATCH,
    NAME,
    PAGE,
    ZohoAPI,
    ZohoCRMConfig,
    ZohoHTTPError,
    classify,
    logger,
)
from ._mapping import (
    _MARK,
    _TITLES,
    CHANNEL_LIFETIME,
    FIELDS,
    KINDS,
    PRIORITY_IN,
    REMOTE_TYPES,
    RESUBSCRIBE_MARGIN,
    STATUS_IN,
    _stamp,
)

_SCANS = (
    ("Contacts", False),
    ("Contacts", True),
    ("Cases", False),
    ("Cases", True),
    ("Notes", False),
)
"""What a pull reads, in order: changed records, and deleted contacts and cases."""


class _Inbound(Integration):
    """The client, the pull and the notification channel of `ZohoCRMIntegration`."""

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

    # -- pull ------------------------------------------------------------------------

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Changes after ``cursor``: Contacts, Cases, then Notes by ``Modified_Time``.

        Deleted contacts and cases come from ``GET /{module}/deleted``
        (``type=all``) since the same position, by ``deleted_time``.

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
            for module, deleted in _SCANS:
                size = max(1, min(limit, PAGE))
                page, more = await self._pull_module(module, state, size, deleted=deleted)
                changes.extend(page)
                if more:
                    has_more = True
                    break
        except (ZohoHTTPError, httpx.TransportError) as error:
            raise classify(error) from None
        changes.sort(key=lambda c: c.changed_at)
        return PullPage(changes=tuple(changes), cursor=_encode(state), has_more=has_more)

    async def _pull_module(
        self, module: str, state: dict[str, Any], limit: int, *, deleted: bool = False
    ) -> tuple[list[InboundChange], bool]:
        """One page of ``module``'s changed (or, with ``deleted``, deleted) records."""
        key = f"{module}/deleted" if deleted else module
        mine = state.setdefault(key, {"t": None, "ids": [], "anchor": None, "p": None})
        stamp_key = "deleted_time" if deleted else "Modified_Time"
        params: dict[str, str] = {"per_page": str(limit)}
        if deleted:  # the deleted-records list pages by number, newest changes included
            params["type"] = "all"
        else:
            params["fields"] = ",".join(
                (*FIELDS[module], *(() if module == "Notes" else (self.config.id_field,)))
            )
            params["sort_by"] = "Modified_Time"
            params["sort_order"] = "asc"
        if mine["p"]:
            params["page" if deleted else "page_token"] = mine["p"]
        else:
            mine["anchor"] = mine["t"]
        headers = {}
        if mine["anchor"]:
            since = _stamp(mine["anchor"]) - timedelta(seconds=1)
            headers["If-Modified-Since"] = since.isoformat()
        path = f"/{module}/deleted" if deleted else f"/{module}"
        _, body = await self.api.call("GET", path, params=params, headers=headers)
        rows = (body or {}).get("data", []) if body else []
        info = (body or {}).get("info", {}) if body else {}
        changes: list[InboundChange] = []
        for row in sorted(rows, key=lambda r: _stamp(r.get(stamp_key))) if deleted else rows:
            stamp = str(row.get(stamp_key))
            seen = f"{row['id']}:{_fingerprint(row)}"
            if mine["t"] is not None and (
                _stamp(stamp) < _stamp(mine["t"]) or (stamp == mine["t"] and seen in mine["ids"])
            ):
                continue
            change = self._deleted(module, row) if deleted else self._inbound(module, row)
            if change is not None:
                changes.append(change)
            if mine["t"] is None or _stamp(stamp) > _stamp(mine["t"]):
                mine["t"], mine["ids"] = stamp, [seen]
            elif stamp == mine["t"]:
                mine["ids"] = [i for i in mine["ids"] if not i.startswith(f"{row['id']}:")] + [seen]
        if deleted:
            more = bool(info.get("more_records"))
            mine["p"] = str(int(info.get("page") or 1) + 1) if more else None
        else:
            more = bool(info.get("more_records")) and bool(info.get("next_page_token"))
            mine["p"] = info.get("next_page_token") if more else None
        return changes, more

    @staticmethod
    def _deleted(module: str, row: Mapping[str, Any]) -> InboundChange:
        return InboundChange(
            object=KINDS[module],
            action=ChangeAction.DELETE,
            remote_type=REMOTE_TYPES[module],
            remote_id=str(row["id"]),
            remote_version=f"deleted:{row.get('deleted_time')}",
            changed_at=_stamp(row.get("deleted_time")),
        )

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
        try:
            _, body = await self._watch(expiry)
        except ZohoHTTPError as error:
            problem = classify(error)
            if not isinstance(problem, PermanentIntegrationError):
                raise problem from None
            # A refused subscription (a bad notify_url, a missing scope) must not stop
            # polling, which finds every change anyway: try again in ten minutes.
            logger.warning("zoho_crm: notification channel refused: %s", problem)
            self._channel_expiry = now + RESUBSCRIBE_MARGIN * 2
            return
        answers = (body or {}).get("watch", [])
        events = (answers[0].get("details") or {}).get("events", []) if answers else []
        expiries = [_stamp(e["channel_expiry"]) for e in events if e.get("channel_expiry")]
        if answers and answers[0].get("status") == "success":
            self._channel_expiry = min(expiries) if expiries else expiry

    async def _watch(self, expiry: datetime) -> tuple[int, Any]:
        assert self.config.channel_token is not None
        return await self.api.call(
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
