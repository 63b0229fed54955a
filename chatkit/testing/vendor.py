"""An in-memory vendor and its integration: the sync engine's reference partner in tests.

`MemoryVendor` is a small CRM held in Python objects: people, cases, comments
and files, each with a version, an optional external id, and a change log
that `MemoryIntegration.pull` pages through. Tests inject the vendor's
failures (`MemoryVendor.fail_next`), refuse chosen records for good
(`MemoryVendor.refuse`), play an agent working in the CRM (`MemoryVendor.edit`,
`MemoryVendor.comment`), sign webhooks (`MemoryVendor.webhook`) and stop the
worker right after the vendor wrote (`MemoryVendor.crash_after_write`).

It behaves like the vendors the first-party integrations talk to where the
engine depends on it: upserts by external id, comments without one (looked
up on a retry), per-record results, ``Retry-After``, and a cursor that
replays nothing and skips nothing.

Example:
    ```python
    vendor = MemoryVendor()
    engine = kit.sync.engine(MemoryIntegration(vendor=vendor))
    await engine.run_once()
    case = vendor.find("case", external_id=conversation.id)
    vendor.edit("case", case["id"], status="resolved")   # an agent closes it
    await engine.run_once()                              # ...and chatkit follows
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import JsonValue, SecretStr

from ..errors import (
    IntegrationAuthError,
    IntegrationQuotaError,
    RetryableIntegrationError,
    WebhookVerificationError,
)
from ..integrations import (
    Capabilities,
    ChangeAction,
    Direction,
    HealthState,
    HealthStatus,
    InboundChange,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PullPage,
    PushResult,
    RateBudget,
    SyncObject,
)
from ..webhooks import read_webhook_json

__all__ = ["MemoryConfig", "MemoryIntegration", "MemoryVendor", "SimulatedCrash"]

_BOTH = frozenset({Direction.OUTBOUND, Direction.INBOUND})


class SimulatedCrash(BaseException):
    """Raised by the vendor right after it wrote: the worker "dies" before recording it.

    A `BaseException`, so no handler of the engine catches it, as with a
    killed process.
    """


@dataclass
class _Failure:
    kind: str
    retry_after: float | None


class MemoryVendor:
    """A CRM kept in memory, with the behaviours the sync engine must cope with.

    Attributes:
        latency: Seconds each push and pull waits (as a network would), so
            concurrent workers interleave.
        records: Per type (``person``, ``case``, ``comment``, ``file``), id to fields.
        calls: Calls per method (``push``, ``pull``, ``check``).
        writes: Records created, updated or deleted through the API.
        created: Records created through the API, per type.
    """

    TYPES: ClassVar[tuple[str, ...]] = ("person", "case", "comment", "file")

    def __init__(self, *, webhook_secret: str = "memory-webhook-secret") -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.TYPES}
        self.calls: Counter[str] = Counter()
        self.writes = 0
        self.created: Counter[str] = Counter()
        self.webhook_secret = webhook_secret
        self._log: list[tuple[int, str, str]] = []
        self._seq = 0
        self._ids = 0
        self._failures: deque[_Failure] = deque()
        self._refuse: Callable[[OutboundChange], str | None] | None = None
        self._crash = 0
        self.latency = 0.0

    # -- what tests do ---------------------------------------------------------

    def fail_next(
        self, count: int = 1, *, kind: str = "rate_limited", retry_after: float | None = None
    ) -> None:
        """Fail the next ``count`` calls.

        Args:
            count: How many calls.
            kind: ``rate_limited`` (429), ``server`` (500), ``auth`` (401) or
                ``quota`` (daily limit reached).
            retry_after: What the vendor says to wait, in seconds.
        """
        if kind not in ("rate_limited", "server", "auth", "quota"):
            raise ValueError(f"unknown failure {kind!r}")
        self._failures.extend(_Failure(kind, retry_after) for _ in range(count))

    def refuse(self, rule: Callable[[OutboundChange], str | None] | None) -> None:
        """Refuse for good every change for which ``rule`` returns a message."""
        self._refuse = rule

    def crash_after_write(self, *, on_call: int = 1) -> None:
        """Make the ``on_call``-th push from now write everything, then raise `SimulatedCrash`."""
        self._crash = on_call

    def find(self, type_: str, **fields: Any) -> dict[str, Any] | None:
        """The first record of ``type_`` whose fields equal ``fields``."""
        return next(
            (
                r
                for r in self.records[type_].values()
                if all(r.get(k) == v for k, v in fields.items())
            ),
            None,
        )

    def all(self, type_: str, **fields: Any) -> list[dict[str, Any]]:
        """Every record of ``type_`` whose fields equal ``fields``."""
        return [
            r for r in self.records[type_].values() if all(r.get(k) == v for k, v in fields.items())
        ]

    def edit(self, type_: str, record_id: str, **fields: Any) -> dict[str, Any]:
        """Change a record as an agent in the CRM would (logged for `pull`)."""
        record = self.records[type_][record_id]
        record.update(fields)
        self._touch(type_, record)
        return record

    def comment(
        self, case_id: str, text: str, *, public: bool = True, by_customer: bool = False
    ) -> dict[str, Any]:
        """A comment on a case written in the CRM: an agent's, or the customer's (by e-mail)."""
        return self._create(
            "comment",
            {
                "case_id": case_id,
                "body": text,
                "public": public,
                "by_api": False,
                "by_customer": by_customer,
                "author": "Customer" if by_customer else "Agent",
            },
        )

    def webhook(
        self, type_: str, record_id: str, *, at: float | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed webhook delivery about one record: ``(headers, body)``."""
        body = json.dumps({"events": [{"type": type_, "id": record_id}]}).encode()
        stamp = str(int(at if at is not None else time.time()))
        return {
            "X-Memory-Timestamp": stamp,
            "X-Memory-Signature": sign(self.webhook_secret, stamp, body),
        }, body

    # -- the API ---------------------------------------------------------------

    def _new_id(self, type_: str) -> str:
        self._ids += 1
        return f"{type_[:2].upper()}{self._ids:06d}"

    def _touch(self, type_: str, record: dict[str, Any]) -> None:
        self._seq += 1
        record["version"] = record.get("version", 0) + 1
        record["updated_at"] = datetime.now(UTC).isoformat()
        self._log.append((self._seq, type_, record["id"]))

    def _create(self, type_: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = {"id": self._new_id(type_), **fields}
        self.records[type_][record["id"]] = record
        self.created[type_] += 1
        self._touch(type_, record)
        return record

    def _failure(self, integration: str) -> None:
        if not self._failures:
            return
        failure = self._failures.popleft()
        if failure.kind == "auth":
            raise IntegrationAuthError("401 Unauthorized: invalid token", integration=integration)
        if failure.kind == "quota":
            raise IntegrationQuotaError(
                "daily API limit reached", integration=integration, retry_after=failure.retry_after
            )
        status = 429 if failure.kind == "rate_limited" else 500
        raise RetryableIntegrationError(
            f"{status} from the vendor",
            integration=integration,
            status_code=status,
            retry_after=failure.retry_after,
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The memory vendor's webhook signature: hex HMAC-SHA256 of ``timestamp.body``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class MemoryConfig(IntegrationConfig):
    """Settings of `MemoryIntegration`.

    Attributes:
        webhook_secret: The secret webhooks are signed with.
        replay_window: Oldest webhook accepted, in seconds.
    """

    webhook_secret: SecretStr = SecretStr("memory-webhook-secret")
    replay_window: float = 300.0


_STATUS = ("open", "pending", "resolved", "closed")


class MemoryIntegration(Integration):
    """The integration of a `MemoryVendor`: every object, both ways, with webhooks.

    Batches: 50 people or cases, 100 comments per call. Messages and notes
    are comments (public or not) and have no external id, so a retried
    comment is looked up before it is created.
    """

    name = "memory"
    config_class = MemoryConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.both_ways(SyncObject.CONTACT, "person", 50),
            ObjectSync.both_ways(SyncObject.CONVERSATION, "case", 50),
            ObjectSync.both_ways(SyncObject.MESSAGE, "comment", 100),
            ObjectSync.both_ways(SyncObject.NOTE, "comment", 100),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "file", 10),
        ),
        webhooks=True,
        rate=RateBudget(calls=1000, per_seconds=1),
    )

    def __init__(self, config: MemoryConfig | None = None, *, vendor: MemoryVendor) -> None:
        super().__init__(config or MemoryConfig())
        self.vendor = vendor

    async def check(self) -> HealthStatus:
        self.vendor.calls["check"] += 1
        try:
            self.vendor._failure(self.name)
        except IntegrationAuthError as exc:
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(exc))
        except IntegrationQuotaError as exc:
            return HealthStatus(state=HealthState.QUOTA_EXHAUSTED, detail=str(exc))
        except RetryableIntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        return HealthStatus(state=HealthState.OK, detail="memory vendor")

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        vendor = self.vendor
        vendor.calls["push"] += 1
        if vendor.latency:
            await asyncio.sleep(vendor.latency)
        vendor._failure(self.name)
        results = []
        for change in changes:
            refused = vendor._refuse(change) if vendor._refuse is not None else None
            if refused:
                results.append(PushResult.permanent(change, refused))
                continue
            results.append(self._write(change))
        if vendor._crash:
            vendor._crash -= 1
            if not vendor._crash:
                raise SimulatedCrash("the worker died after the vendor wrote")
        return results

    def _write(self, change: OutboundChange) -> PushResult:
        vendor = self.vendor
        type_ = self.capabilities.get(change.object).remote_type  # type: ignore[union-attr]
        if change.action is ChangeAction.DELETE:
            if change.remote_id in vendor.records[type_]:
                del vendor.records[type_][change.remote_id]
                vendor.writes += 1
            return PushResult.ok(change, change.remote_id)
        fields = _fields(change)
        if change.object in (SyncObject.MESSAGE, SyncObject.NOTE):
            existing = None
            if change.remote_id is not None:
                existing = vendor.records[type_].get(change.remote_id)
            elif change.attempt > 1:  # no external id: look before creating again
                existing = vendor.find(
                    "comment", case_id=change.parent_remote_id, body=fields["body"], by_api=True
                )
            if existing is not None:
                return PushResult.ok(
                    change, existing["id"], remote_version=str(existing["version"])
                )
        else:
            existing = vendor.find(type_, external_id=change.local_id)
        if existing is None:
            record = vendor._create(type_, {"external_id": change.local_id, **fields})
        else:
            existing.update(fields)
            vendor._touch(type_, existing)
            record = existing
        vendor.writes += 1
        return PushResult.ok(change, record["id"], remote_version=str(record["version"]))

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        vendor = self.vendor
        vendor.calls["pull"] += 1
        if vendor.latency:
            await asyncio.sleep(vendor.latency)
        vendor._failure(self.name)
        after = int(cursor) if cursor else 0
        entries = [e for e in vendor._log if e[0] > after][:limit]
        changes = [
            change for _, type_, rid in entries if (change := self._inbound(type_, rid)) is not None
        ]
        last = entries[-1][0] if entries else after
        more = any(e[0] > last for e in vendor._log)
        return PullPage(changes=tuple(changes), cursor=str(last), has_more=more)

    def _inbound(self, type_: str, rid: str) -> InboundChange | None:
        record = self.vendor.records[type_].get(rid)
        if record is None or type_ == "file":
            return None
        data: dict[str, JsonValue]
        parent = None
        if type_ == "person":
            kind = SyncObject.CONTACT
            data = {
                "name": record.get("name"),
                "email": record.get("email"),
                "phone": record.get("phone"),
            }
        elif type_ == "case":
            kind = SyncObject.CONVERSATION
            data = {
                "subject": record.get("subject"),
                "status": record.get("status"),
                "priority": record.get("priority"),
                "tags": list(record.get("tags", [])),
            }
            parent = record.get("requester_id")
        else:
            kind = SyncObject.MESSAGE if record.get("public") else SyncObject.NOTE
            data = {
                "text": record.get("body"),
                "author_name": record.get("author"),
                "from_integration": bool(record.get("by_api")),
                "from_customer": bool(record.get("by_customer")),
            }
            parent = record.get("case_id")
        return InboundChange(
            object=kind,
            remote_type=type_,
            remote_id=rid,
            remote_version=str(record["version"]),
            local_id=record.get("external_id"),
            parent_remote_id=parent,
            data=data,
            changed_at=datetime.fromisoformat(record["updated_at"]),
        )

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        config = self.config
        assert isinstance(config, MemoryConfig)
        lower = {k.lower(): v for k, v in headers.items()}
        stamp = lower.get("x-memory-timestamp", "")
        given = lower.get("x-memory-signature", "")
        expected = sign(config.webhook_secret.get_secret_value(), stamp, body)
        if not given or not hmac.compare_digest(given, expected):
            raise WebhookVerificationError("bad webhook signature", integration=self.name)
        try:
            age = time.time() - int(stamp)
            events = read_webhook_json(body, integration=self.name)["events"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError("malformed webhook", integration=self.name) from exc
        if abs(age) > config.replay_window:
            raise WebhookVerificationError(
                "webhook outside the replay window", integration=self.name
            )
        return [
            change
            for event in events
            if (change := self._inbound(str(event["type"]), str(event["id"]))) is not None
        ]


def _fields(change: OutboundChange) -> dict[str, Any]:
    data = change.data
    if change.object is SyncObject.CONTACT:
        return {"name": data.get("name"), "email": data.get("email"), "phone": data.get("phone")}
    if change.object is SyncObject.CONVERSATION:
        status = data.get("status")
        return {
            "subject": data.get("subject"),
            "status": "pending" if status == "snoozed" else status,
            "priority": data.get("priority"),
            "tags": list(data.get("tags") or []),  # type: ignore[arg-type]
            "requester_id": change.parent_remote_id,
            "owner_email": data.get("assignee_email"),
        }
    if change.object is SyncObject.TRANSCRIPT:
        return {
            "case_id": change.parent_remote_id,
            "name": data.get("filename"),
            "content": data.get("text"),
        }
    return {
        "case_id": change.parent_remote_id,
        "body": data.get("text"),
        "public": change.object is SyncObject.MESSAGE,
        "by_api": True,
        "author": "chatkit",
    }
