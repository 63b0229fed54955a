"""`kit.sync`: engines for integrations, their status, dead letters and decisions."""

from __future__ import annotations

import builtins
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInputError, NotFoundError
from ..integrations import Integration, integrations
from ..models import utcnow
from ..models.sync import SyncDecision, SyncLink, SyncState, link_id, state_id
from ..services._core import Core, check_limit
from ..services.contacts import check_key
from ..stores.base import Gt, Update
from ._shared import key_of
from .engine import SyncEngine
from .policy import ConflictPolicy

__all__ = ["Sync", "SyncStatus"]


class SyncStatus(BaseModel):
    """Where one integration's sync stands.

    Attributes:
        integration: Its name.
        parked: Why it is stopped (``auth_failed``, ``quota_exhausted``), or ``None``.
        parked_detail: The vendor's message, when parked.
        parked_until: When the next check is due, when parked.
        linked: Local records with a twin at the vendor.
        pending: Records waiting to be pushed (due now or later).
        dead: Records on the dead-letter list.
        backlog: Outbox events not yet read by the sync worker.
        pushed: Records the vendor confirmed, in all.
        pulled: Inbound changes applied, in all.
        calls_today: API calls made today (UTC).
        cursor_saved: Whether a pull cursor is saved.
        last_push_at: When a push last succeeded.
        last_pull_at: When a pull last succeeded.
    """

    model_config = ConfigDict(frozen=True)

    integration: str
    parked: str | None
    parked_detail: str | None
    parked_until: datetime | None
    linked: int
    pending: int
    dead: int
    backlog: int
    pushed: int
    pulled: int
    calls_today: int
    cursor_saved: bool
    last_push_at: datetime | None
    last_pull_at: datetime | None


class Sync:
    """Two-way sync with CRMs and help desks (``kit.sync``).

    Build a `SyncEngine` for an integration and run it; inspect and repair
    what it did from anywhere sharing the store.

    Example:
        ```python
        engine = kit.sync.engine("zendesk")          # configured from CHATKIT_ZENDESK_*
        report = await engine.run_once()
        print(await kit.sync.status("zendesk"))
        for link in await kit.sync.dead_letters("zendesk"):
            print(link.local_id, link.last_error)
        await kit.sync.retry("zendesk")               # give them another go
        ```
    """

    def __init__(self, core: Core) -> None:
        self._core = core

    def engine(
        self,
        integration: Integration | str,
        *,
        policy: ConflictPolicy | None = None,
        max_attempts: int = 8,
        call_retries: int = 3,
        max_wait: float = 60.0,
        retry_delay: float = 1.0,
        park_seconds: float = 300.0,
        claim_seconds: float = 60.0,
        page_size: int = 100,
    ) -> SyncEngine:
        """A sync engine for ``integration`` on this kit.

        Args:
            integration: An `Integration` instance, or the name of an
                installed one, configured from its file and environment
                (`Integration.from_env`).
            policy: How conflicting fields are settled (newest wins by default).
            max_attempts: Tries of one record before it is dead-lettered.
            call_retries: Tries of one call while the vendor answers with
                passing failures (429, 5xx), waiting its ``Retry-After``.
            max_wait: The longest ``Retry-After`` waited inside a call; a
                longer one sends the records back to the queue instead.
            retry_delay: First backoff, in seconds; doubles per attempt.
            park_seconds: How long a parked integration waits between checks.
            claim_seconds: How long records a worker is pushing stay its own;
                if it dies, other workers push them after this.
            page_size: Changes asked for per pull.

        Raises:
            IntegrationNotFoundError: No integration of that name is installed.
            IntegrationConfigError: Its configuration is missing or invalid.
            InvalidInputError: A number out of range.
        """
        if isinstance(integration, str):
            integration = integrations.load(integration).from_env()
        if not isinstance(integration, Integration):
            raise InvalidInputError(
                "integration must be an Integration or a name", field="integration"
            )
        for name, value, low in (
            ("max_attempts", max_attempts, 1),
            ("call_retries", call_retries, 1),
            ("page_size", page_size, 1),
        ):
            if not isinstance(value, int) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}", field=name)
        for name, number in (
            ("max_wait", max_wait),
            ("retry_delay", retry_delay),
            ("park_seconds", park_seconds),
            ("claim_seconds", claim_seconds),
        ):
            if not isinstance(number, (int, float)) or number < 0:
                raise InvalidInputError(f"{name} must be a number >= 0", field=name)
        return SyncEngine(
            self._core,
            integration,
            policy=policy,
            max_attempts=max_attempts,
            call_retries=call_retries,
            max_wait=float(max_wait),
            retry_delay=float(retry_delay),
            park_seconds=float(park_seconds),
            claim_seconds=float(claim_seconds),
            page_size=page_size,
        )

    async def integrations(self) -> builtins.list[str]:
        """The names of the integrations that have synced with this store, sorted."""
        store = await self._core.ready()
        return sorted(state.integration for state in await store.find(SyncState))

    async def status(self, integration: str) -> SyncStatus:
        """Where ``integration``'s sync stands (all zero when it never ran)."""
        check_key(integration, "integration")
        store = await self._core.ready()
        state = await store.get(SyncState, state_id(integration))
        state = state or SyncState(id=state_id(integration), integration=integration)
        dispatch = await store.dispatch_status(f"sync:{integration}")
        last = await store.last_position()
        return SyncStatus(
            integration=integration,
            parked=state.parked,
            parked_detail=state.parked_detail,
            parked_until=state.parked_until,
            linked=await store.count(SyncLink, {"integration": integration, "remote_key": Gt("")}),
            pending=await store.count(SyncLink, {"integration": integration, "due_key": Gt("")}),
            dead=await store.count(SyncLink, {"integration": integration, "dead": True}),
            backlog=max(0, last - dispatch.done_upto),
            pushed=state.pushed,
            pulled=state.pulled,
            calls_today=state.calls_today,
            cursor_saved=state.cursor is not None,
            last_push_at=state.last_push_at,
            last_pull_at=state.last_pull_at,
        )

    async def link(self, integration: str, local_id: str) -> SyncLink | None:
        """The id-map entry of ``local_id`` with ``integration``, if any."""
        check_key(integration, "integration")
        check_key(local_id, "local_id")
        store = await self._core.ready()
        return await store.get(SyncLink, link_id(integration, local_id))

    async def dead_letters(self, integration: str, *, limit: int = 100) -> builtins.list[SyncLink]:
        """Records the vendor refused for good or that ran out of retries, with its message."""
        check_key(integration, "integration")
        store = await self._core.ready()
        return await store.find(
            SyncLink, {"integration": integration, "dead": True}, limit=check_limit(limit)
        )

    async def retry(self, integration: str, local_ids: builtins.list[str] | None = None) -> int:
        """Put dead-lettered records back in the queue, due now.

        Args:
            integration: The integration.
            local_ids: Only these records (all dead letters when ``None``).

        Returns:
            How many were queued again.

        Raises:
            NotFoundError: One of ``local_ids`` is not dead-lettered.
            InvalidInputError: ``integration`` or ``local_ids`` is not a name or a list of ids.
        """
        check_key(integration, "integration")
        if local_ids is not None:
            if not isinstance(local_ids, list | tuple):
                raise InvalidInputError("local_ids must be a list of ids", field="local_ids")
            for local_id in local_ids:
                check_key(local_id, "local_ids")
        store = await self._core.ready()

        async def attempt() -> int:
            dead = await store.find(SyncLink, {"integration": integration, "dead": True})
            if local_ids is not None:
                wanted = set(local_ids)
                dead = [link for link in dead if link.local_id in wanted]
                missing = wanted - {link.local_id for link in dead}
                if missing:
                    raise NotFoundError("dead letter", sorted(missing)[0])
            now = key_of(utcnow())
            ops = [
                Update(
                    link.model_copy(
                        update={
                            "dead": False,
                            "sending": False,
                            "due_key": now,
                            "attempts": min(link.attempts, 1),
                            "wanted": max(link.wanted, link.pushed + 1),
                            "version": link.version + 1,
                        }
                    )
                )
                for link in dead
            ]
            if ops:
                await self._core.commit(ops)
            return len(ops)

        return await self._core.retry(attempt)

    async def resume(self, integration: str) -> bool:
        """Unpark ``integration`` now, e.g. after fixing its credentials.

        Returns:
            ``False`` when it was not parked.

        Raises:
            InvalidInputError: ``integration`` is not a name.
        """
        check_key(integration, "integration")
        store = await self._core.ready()

        async def attempt() -> bool:
            state = await store.get(SyncState, state_id(integration))
            if state is None or state.parked is None:
                return False
            await self._core.commit(
                [
                    Update(
                        state.model_copy(
                            update={
                                "parked": None,
                                "parked_detail": None,
                                "parked_until": None,
                                "version": state.version + 1,
                            }
                        )
                    )
                ]
            )
            return True

        return await self._core.retry(attempt)

    async def decisions(
        self, integration: str, *, local_id: str | None = None, limit: int = 100
    ) -> builtins.list[SyncDecision]:
        """Field-level decisions on inbound changes, newest first (optionally for one record)."""
        check_key(integration, "integration")
        if local_id is not None:
            check_key(local_id, "local_id")
        store = await self._core.ready()
        where: dict[str, object] = {"integration": integration}
        if local_id is not None:
            where["local_id"] = local_id
        return await store.find(
            SyncDecision, where, order_by="at_key", descending=True, limit=check_limit(limit)
        )
