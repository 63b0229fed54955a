"""Blocking twins of two-way CRM sync: `SyncSync` (``ChatKit.sync``) and its engines."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from contextlib import AbstractContextManager

from ._portal import Runner, SyncResource, sync
from .integrations import Integration
from .models.sync import SyncState
from .sync import Sync, SyncEngine, SyncReport
from .sync.policy import ConflictPolicy

__all__ = ["BlockingSyncEngine", "SyncSync"]


class BlockingSyncEngine(AbstractContextManager["BlockingSyncEngine"]):
    """Blocking twin of `chatkit.sync.SyncEngine`."""

    def __init__(self, engine: SyncEngine, runner: Runner) -> None:
        self.engine = engine
        """The async engine underneath."""
        self._runner = runner

    @property
    def name(self) -> str:
        """The integration's name."""
        return self.engine.name

    def run_once(self) -> SyncReport:
        """One full cycle: queue, push, pull (see `SyncEngine.run_once`)."""
        return self._runner.portal().call(self.engine.run_once)

    def collect(self) -> int:
        """Queue new outbox events; how many were read."""
        return self._runner.portal().call(self.engine.collect)

    def push(self) -> SyncReport:
        """Push what is due (see `SyncEngine.push`)."""
        return self._runner.portal().call(self.engine.push)

    def pull(self) -> SyncReport:
        """Apply the vendor's changes since the saved cursor."""
        return self._runner.portal().call(self.engine.pull)

    def resync(self) -> int:
        """Queue every local record of the synced kinds again."""
        return self._runner.portal().call(self.engine.resync)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> SyncReport:
        """Verify and apply a webhook delivery (see `SyncEngine.handle_webhook`)."""
        return self._runner.portal().call(
            functools.partial(self.engine.handle_webhook, headers, body)
        )

    def state(self) -> SyncState:
        """The integration's saved state."""
        return self._runner.portal().call(self.engine.state)

    def close(self) -> None:
        """Close the integration."""
        self._runner.portal().call(self.engine.close)

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncSync(SyncResource[Sync]):
    """Blocking twin of `chatkit.sync.Sync`."""

    integrations = sync(Sync.integrations)
    status = sync(Sync.status)
    link = sync(Sync.link)
    dead_letters = sync(Sync.dead_letters)
    retry = sync(Sync.retry)
    resume = sync(Sync.resume)
    decisions = sync(Sync.decisions)

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
    ) -> BlockingSyncEngine:
        """Blocking twin of `chatkit.sync.Sync.engine`."""
        return BlockingSyncEngine(
            self._target.engine(
                integration,
                policy=policy,
                max_attempts=max_attempts,
                call_retries=call_retries,
                max_wait=max_wait,
                retry_delay=retry_delay,
                park_seconds=park_seconds,
                claim_seconds=claim_seconds,
                page_size=page_size,
            ),
            self._runner,
        )
