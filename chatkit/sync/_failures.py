"""Sync engine layer: integration calls and their retries, the saved state, parking,
and what a vendor's answer does to a link (done, retried with backoff, or dead-lettered)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import NoReturn

from pydantic import JsonValue
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from ..errors import (
    ConflictError,
    IntegrationAuthError,
    IntegrationQuotaError,
    RetryableIntegrationError,
)
from ..events import Event
from ..integrations import HealthState, PushResult, PushStatus, SyncObject
from ..models import utcnow
from ..models.sync import SyncLink, SyncState, state_id
from ..redact import mask_text
from ..stores.base import Delete, Insert, Op, Update
from ._base import SyncReport, T, _EngineBase, _Parked, _seconds
from ._shared import key_of, next_midnight

log = logging.getLogger("chatkit.sync.engine")


class _Failures(_EngineBase):
    """Calls, state and parking; the fate of a vendor's answer for one link."""

    def _take_calls(self) -> int:
        calls, self._calls = self._calls, 0
        return calls

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """One integration call under the rate budget, retried while passing failures last."""

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            after = getattr(exc, "retry_after", None)
            backoff = self._retry_delay * 2 ** (state.attempt_number - 1)
            return float(after) if after is not None else backoff

        def stop(state: RetryCallState) -> bool:
            if stop_after_attempt(self._call_retries)(state):
                return True
            return wait(state) > self._max_wait  # the vendor asks for longer: requeue instead

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableIntegrationError),
            stop=stop,
            wait=wait,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._limiter is not None:
                    await self._limiter.acquire()
                self._calls += 1
                self._unsaved_calls += 1
                self.calls += 1
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _load_state(self) -> SyncState:
        """The integration's saved state (created empty on first use)."""
        store = await self._core.ready()
        found = await store.get(SyncState, state_id(self.name))
        if found is not None:
            return found
        fresh = SyncState(id=state_id(self.name), integration=self.name)
        with contextlib.suppress(ConflictError):
            await self._core.commit([Insert(fresh)])
        again = await store.get(SyncState, state_id(self.name))
        assert again is not None
        return again

    def _with_calls(self, state: SyncState, **updates: object) -> SyncState:
        now = utcnow()
        day = now.strftime("%Y-%m-%d")
        calls = (state.calls_today if state.day == day else 0) + self._unsaved_calls
        return state.model_copy(
            update={
                **updates,
                "day": day,
                "calls_today": calls,
                "version": state.version + 1,
                "updated_at": now,
            }
        )

    async def _commit_with_state(
        self, ops: list[Op], state: SyncState, events: Sequence[Event] = (), /, **updates: object
    ) -> None:
        """Commit ``ops`` with the state updated, counting the calls made since the last save."""
        unsaved = self._unsaved_calls
        await self._core.commit([*ops, Update(self._with_calls(state, **updates))], events)
        self._unsaved_calls -= unsaved

    async def _save_state(self, **updates: object) -> None:
        async def attempt() -> None:
            await self._commit_with_state([], await self._load_state(), **updates)

        await self._core.retry(attempt)

    async def _park(self, reason: HealthState, detail: str, until: datetime) -> None:
        log.warning("sync %s parked (%s) until %s", self.name, reason.value, until.isoformat())
        await self._save_state(
            parked=reason.value, parked_detail=mask_text(detail)[:500], parked_until=until
        )

    async def _park_for(self, exc: IntegrationAuthError | IntegrationQuotaError) -> NoReturn:
        """Park after a refused credential or a used-up quota, then raise `_Parked`.

        Credentials are checked again after ``park_seconds``; a quota when
        the vendor said it resets, else at the next UTC midnight.
        """
        now = utcnow()
        if isinstance(exc, IntegrationAuthError):
            await self._park(HealthState.AUTH_FAILED, str(exc), now + _seconds(self._park_seconds))
        else:
            until = now + _seconds(exc.retry_after) if exc.retry_after else next_midnight(now)
            await self._park(HealthState.QUOTA_EXHAUSTED, str(exc), until)
        raise _Parked from exc

    async def _unparked(self, report: SyncReport) -> bool:
        """Whether sync may run now; checks a parked integration once its time came."""
        state = await self._load_state()
        rate = self.integration.capabilities.rate
        now = utcnow()
        today = now.strftime("%Y-%m-%d")
        if (
            rate is not None
            and rate.daily_calls is not None
            and state.day == today
            and state.calls_today >= rate.daily_calls
            and state.parked is None
        ):
            await self._park(
                HealthState.QUOTA_EXHAUSTED, "the daily call budget is used up", next_midnight(now)
            )
            state = await self._load_state()
        if state.parked is None:
            return True
        if state.parked_until is not None and now < state.parked_until:
            report.parked = state.parked
            return False
        health = await self._call(self.integration.check)
        report.calls += 1
        if health.ok:
            await self._save_state(parked=None, parked_detail=None, parked_until=None)
            log.info("sync %s resumed: %s", self.name, mask_text(health.detail))
            return True
        until = now + timedelta(seconds=self._park_seconds)
        if health.state is HealthState.QUOTA_EXHAUSTED:
            until = max(until, next_midnight(now)) if state.parked == "quota_exhausted" else until
        await self._park(health.state, health.detail, until)
        report.parked = health.state.value
        return False

    def _backoff(self, attempts: int) -> float:
        return float(min(self._max_retry_delay, self._retry_delay * 2 ** max(0, attempts - 1)))

    def _settled_link(
        self,
        sent: SyncLink,
        now_link: SyncLink,
        result: PushResult | None,
        fields: dict[str, JsonValue] | None,
        report: SyncReport,
    ) -> Op:
        now = utcnow()
        more = now_link.wanted > sent.wanted  # changed again while we pushed
        due_now = key_of(now)
        base: dict[str, object] = {
            "version": now_link.version + 1,
            "updated_at": now,
            "sending": False,
        }
        skipped = result is not None and result.status is PushStatus.SKIPPED
        if result is None or result.status is PushStatus.OK or skipped:
            if fields is None:  # the record is gone here, and now at the vendor too
                if result is not None:
                    report.pushed += 1
                return Delete(SyncLink, now_link.id)
            if result is None:
                report.unchanged += 1
            elif skipped:
                report.skipped += 1
            else:
                report.pushed += 1
            kind = SyncObject(now_link.kind)
            remote_id = result.remote_id if result is not None else now_link.remote_id
            remote_type = self._remote_types.get(kind, kind.value)
            update: dict[str, object] = {
                **base,
                "pushed": max(now_link.pushed, sent.wanted),
                "due_key": due_now if more else None,
                "attempts": 0,
                "last_error": (
                    mask_text(result.error or "")[:1000] if skipped and result else None
                ),
                "dead": False,
            }
            if remote_id is not None:
                update["remote_id"] = remote_id
                update["remote_type"] = (result.remote_type if result else None) or remote_type
                update["remote_key"] = f"{remote_type}:{remote_id}"
            if result is not None and result.remote_version is not None:
                update["remote_version"] = result.remote_version
            if fields is not None:
                update["synced"] = fields
                update["synced_at"] = now
            return Update(now_link.model_copy(update=update))
        if result.status is PushStatus.RETRYABLE and now_link.attempts < self._max_attempts:
            report.retried += 1
            delay = max(result.retry_after or 0.0, self._backoff(now_link.attempts))
            return Update(
                now_link.model_copy(
                    update={
                        **base,
                        "due_key": key_of(now + _seconds(delay)),
                        "last_error": mask_text(result.error or "")[:1000],
                    }
                )
            )
        report.dead += 1
        log.warning(
            "sync %s: %s dead-lettered: %s",
            self.name,
            now_link.local_id,
            mask_text(result.error or ""),
        )
        return Update(
            now_link.model_copy(
                update={
                    **base,
                    "dead": True,
                    "due_key": due_now if more else None,
                    "last_error": mask_text(result.error or "")[:1000],
                }
            )
        )
