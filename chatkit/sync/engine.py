"""The sync engine: keeps chatkit and one vendor in step, both ways.

This module is the engine's public face (`SyncEngine`, `SyncReport`). Its
machinery lives in layers, one module each (see ``_base.py``): calls,
state, parking and dead letters in ``_failures.py``; the id map's
claims and bookkeeping in ``_links.py``; outbound queueing and push
rounds in ``_outbound.py``; the inbound apply step in ``_inbound.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from ..errors import ConflictError, IntegrationAuthError, IntegrationError, IntegrationQuotaError
from ..integrations import Direction, InboundChange, Integration, SyncObject
from ..models import utcnow
from ..models.sync import SyncState
from ..redact import mask_text
from ..services._core import Core
from ..services.dispatch import Dispatcher
from ..webhooks import check_webhook_body
from ._base import _ORDER, SCAN, SyncReport, _Parked
from ._inbound import Applier, ApplyReport
from ._outbound import _Outbound
from ._shared import RateLimiter
from .policy import ConflictPolicy

__all__ = ["SCAN", "SyncEngine", "SyncReport"]

log = logging.getLogger(__name__)


class SyncEngine(_Outbound):
    """Keeps one integration in step with the kit, in both directions.

    Get one from `Sync.engine`. Any number of engines of the same
    integration may run, in any process on the same store: outbox events
    are shared through the dispatch group ``sync:<name>``, and every write
    to the id map is optimistic, so two workers never push one change
    twice as new.

    **Outbound.** Events about contacts, conversations and messages queue
    their records in the id map (`SyncLink`). `push` sends what is due in
    the largest batches the integration declares, parents first, and marks
    each record done only when the vendor confirmed it. Records whose synced
    fields did not change since the vendor last had them need no call.

    **Inbound.** `pull` reads the vendor's changes after the saved cursor and
    applies them in one transaction with the new cursor; `handle_webhook`
    applies verified deliveries through the same idempotent step.

    **Failures.** Passing failures are retried with tenacity, waiting what
    the vendor's ``Retry-After`` says, then go back to the queue with
    backoff; a record refused for good (or out of retries) goes to the
    dead-letter list with the vendor's message and blocks nothing else. A
    refused credential or used-up quota parks the integration (see
    `Sync.status`) until a check passes again.

    Example:
        ```python
        zendesk = ZendeskIntegration(ZendeskConfig.from_env("zendesk"))
        async with kit.sync.engine(zendesk) as engine:
            report = await engine.run_once()
        ```
    """

    def __init__(
        self,
        core: Core,
        integration: Integration,
        *,
        policy: ConflictPolicy | None = None,
        max_attempts: int = 8,
        call_retries: int = 3,
        max_wait: float = 60.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 3600.0,
        park_seconds: float = 300.0,
        claim_seconds: float = 60.0,
        page_size: int = 100,
        max_pages: int = 100,
    ) -> None:
        self._core = core
        self.integration = integration
        self.name = integration.name
        self.policy = policy or ConflictPolicy()
        self._max_attempts = max_attempts
        self._call_retries = call_retries
        self._max_wait = max_wait
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._park_seconds = park_seconds
        self._claim_seconds = claim_seconds
        self._page_size = page_size
        self._max_pages = max_pages
        caps = integration.capabilities
        self._outbound = [k for k in _ORDER if caps.supports(k, Direction.OUTBOUND)]
        self._remote_types = {item.object: item.remote_type for item in caps.objects}
        self._limiter = RateLimiter(caps.rate) if caps.rate is not None else None
        self._applier = Applier(core, self.name, self.policy, self._remote_types)
        self._dispatcher: Dispatcher | None = None
        self._opened = False
        self._calls = 0
        self._unsaved_calls = 0
        self.on_progress: Callable[[str, SyncReport], None] | None = None
        """Called after each pushed batch (``"push"``) and applied page (``"pull"``)
        with the step's running report: for progress bars."""
        self.calls = 0
        """Calls made to the integration by this engine (push, pull, check)."""

    def __repr__(self) -> str:
        return f"<SyncEngine {self.name!r}>"

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Open the integration (idempotent)."""
        if not self._opened:
            await self.integration.open()
            self._opened = True

    async def close(self) -> None:
        """Close the integration and release the dispatcher (idempotent)."""
        if self._dispatcher is not None:
            await self._dispatcher.close()
            self._dispatcher = None
        if self._opened:
            self._opened = False
            await self.integration.close()

    async def __aenter__(self) -> SyncEngine:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def group(self) -> str:
        """The dispatch group its outbound events go through."""
        return f"sync:{self.name}"

    def _dispatch(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                self._core,
                self.group,
                self._collect,
                batch_size=500,
                lease_seconds=60.0,
                start="beginning",
                types=None,
                retry_delay=self._retry_delay,
                max_retry_delay=60.0,
            )
        return self._dispatcher

    # -- the whole cycle -------------------------------------------------------

    async def run_once(self) -> SyncReport:
        """One full cycle: queue new outbox events, push what is due, pull what changed.

        Returns at once (with ``parked`` set) while the integration is parked
        and its next check is not due.
        """
        await self.open()
        report = SyncReport()
        if not await self._unparked(report):
            return report
        report.events = await self.collect()
        try:
            report.add(await self.push())
            if self.integration.capabilities.inbound:
                report.add(await self.pull())
        finally:
            report.calls = self._take_calls()
        return report

    async def run(self, *, interval: float = 30.0, stop: asyncio.Event | None = None) -> None:
        """Run cycles until ``stop`` is set, waking early when the kit commits.

        Args:
            interval: The longest wait between cycles (pulls happen at least
                this often).
            stop: Set it to end the loop after the current cycle.
        """
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.run_once()
            except (ConflictError, IntegrationError) as exc:
                log.warning("sync %s: cycle failed: %s", self.name, mask_text(str(exc)))
            with contextlib.suppress(asyncio.TimeoutError):
                waiter = asyncio.ensure_future(stop.wait())
                changed = asyncio.ensure_future(self._core.wait_for_events(interval))
                try:
                    await asyncio.wait(
                        {waiter, changed}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for task in (waiter, changed):
                        task.cancel()

    async def state(self) -> SyncState:
        """The integration's saved state (created empty on first use)."""
        return await self._load_state()

    # -- outbound ----------------------------------------------------------------

    async def collect(self) -> int:
        """Queue every outbox event not seen yet; returns how many were read."""
        return await self._dispatch().drain()

    async def resync(self, objects: Sequence[SyncObject | str] | None = None) -> int:
        """Queue every local record of the synced kinds again (a full re-sync).

        Records the vendor already holds in their current state need no
        call when pushed, so a re-sync with nothing changed writes nothing.

        Returns:
            How many records were queued.
        """
        return await self._resync(objects)

    async def push(self, *, max_rounds: int = 50) -> SyncReport:
        """Push every record that is due, parents first, in the largest batches allowed.

        Each round takes the due records kind by kind (contacts, conversations,
        messages, notes, transcripts), up to `SCAN` of a kind, oldest first, and
        pushes them in batches of the kind's declared size; rounds repeat while
        anything is due.
        """
        await self.open()
        return await self._push_rounds(max_rounds)

    # -- inbound -----------------------------------------------------------------

    async def pull(self) -> SyncReport:
        """Read and apply the vendor's changes since the saved cursor, page by page.

        Each page is applied in one transaction with its cursor, so a crash
        replays a page (the apply step is idempotent) and never skips one.
        """
        await self.open()
        report = SyncReport()
        try:
            for _ in range(self._max_pages):
                state = await self.state()
                cursor = state.cursor
                try:
                    page = await self._call(
                        lambda cursor=cursor: self.integration.pull(cursor, limit=self._page_size)  # type: ignore[misc]
                    )
                except (IntegrationAuthError, IntegrationQuotaError) as exc:
                    await self._park_for(exc)
                applied = await self._apply(page.changes, cursor=page.cursor, expect=cursor)
                report.pulled += applied.applied
                report.pulled_unchanged += applied.unchanged
                report.pulled_skipped += applied.skipped
                if self.on_progress is not None:
                    self.on_progress("pull", report)
                if not page.has_more:
                    break
        except _Parked:
            report.parked = (await self.state()).parked
        return report

    async def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> SyncReport:
        """Verify a webhook delivery and apply its changes (duplicates change nothing).

        The body is refused before its signature is checked when it is
        larger than ``settings.webhooks.max_body_bytes`` or nested deeper
        than `chatkit.webhooks.MAX_WEBHOOK_DEPTH`.

        Raises:
            WebhookTooLargeError: The body is over the size cap; nothing was
                applied. Answer the vendor with 413.
            WebhookBodyError: The body is nested too deeply or not JSON;
                nothing was applied. Answer the vendor with 400.
            WebhookVerificationError: Bad signature, too old, or malformed;
                nothing was applied. Answer the vendor with 401.
        """
        check_webhook_body(
            body,
            integration=self.name,
            max_bytes=self._core.settings.webhooks.max_body_bytes,
        )
        await self.open()
        changes = await self.integration.verify_webhook(headers, body)
        applied = await self._apply(tuple(changes), cursor=None, expect=None, keep_cursor=True)
        return SyncReport(
            pulled=applied.applied,
            pulled_unchanged=applied.unchanged,
            pulled_skipped=applied.skipped,
        )

    async def apply(self, changes: Sequence[InboundChange]) -> SyncReport:
        """Apply inbound changes obtained elsewhere (a queue, a test) without moving the cursor."""
        applied = await self._apply(tuple(changes), cursor=None, expect=None, keep_cursor=True)
        return SyncReport(
            pulled=applied.applied,
            pulled_unchanged=applied.unchanged,
            pulled_skipped=applied.skipped,
        )

    async def _apply(
        self,
        changes: Sequence[InboundChange],
        *,
        cursor: str | None,
        expect: str | None,
        keep_cursor: bool = False,
    ) -> ApplyReport:
        async def attempt() -> ApplyReport:
            state = await self.state()
            if not keep_cursor and state.cursor != expect:
                return ApplyReport()  # another worker applied this page already
            ops, events, report = await self._applier.plan(list(changes))
            updates: dict[str, object] = {
                "pulled": state.pulled + report.applied,
                "last_pull_at": utcnow(),
            }
            if not keep_cursor:
                updates["cursor"] = cursor
            await self._commit_with_state(ops, state, events, **updates)
            return report

        return await self._core.retry(attempt)
