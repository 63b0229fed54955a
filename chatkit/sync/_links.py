"""Sync engine layer: the id map's bookkeeping.

Queueing records (`SyncLink`), claiming them for one worker (a lease on
``due_key``, kept alive during long pushes), giving them back, making them
wait for their parents and waking them, and settling the vendor's answers in
one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping

from pydantic import JsonValue

from ..errors import ConflictError, DuplicateKeyError
from ..integrations import PushResult, PushStatus, SyncObject
from ..models import utcnow
from ..models.sync import SyncLink, link_id
from ..stores.base import Delete, In, Insert, Op, Update
from ._base import _PARENTS, SyncReport, _chunks, _Outcome, _seconds
from ._failures import _Failures
from ._shared import key_of


class _Links(_Failures):
    """Writes to the id map: queue, claim, release, wait, settle, wake."""

    async def _queue(
        self,
        wanted: Mapping[str, tuple[SyncObject, str | None, bool]],
        payloads: Mapping[str, dict[str, JsonValue]] | None = None,
    ) -> None:
        store = await self._core.ready()
        payloads = payloads or {}
        ids = {link_id(self.name, local_id): local_id for local_id in wanted}

        async def attempt() -> None:
            found = {
                link.id: link
                for chunk in _chunks(list(ids), 500)
                for link in await store.find(SyncLink, {"id": In(chunk)})
            }
            now = utcnow()
            due = key_of(now)
            ops: list[Op] = []
            for lid, local_id in ids.items():
                kind, parent, ensure = wanted[local_id]
                link = found.get(lid)
                if link is None:
                    ops.append(
                        Insert(
                            SyncLink(
                                id=lid,
                                integration=self.name,
                                kind=kind.value,
                                local_id=local_id,
                                parent_local_id=parent,
                                wanted=1,
                                due_key=due,
                                payload=payloads.get(local_id, {}),
                            )
                        )
                    )
                elif not ensure:
                    ops.append(
                        Update(
                            link.model_copy(
                                update={
                                    "wanted": link.wanted + 1,
                                    "due_key": link.due_key if link.pending else due,
                                    "dead": False,
                                    "attempts": min(link.attempts, 1),
                                    "parent_local_id": parent or link.parent_local_id,
                                    "version": link.version + 1,
                                    "updated_at": now,
                                }
                            )
                        )
                    )
            if ops:
                await self._core.commit(ops)

        await self._core.retry(attempt)

    async def _claim(self, links: list[SyncLink]) -> dict[str, SyncLink]:
        """Claim ``links`` for this worker and count the try, before making it.

        The try is counted first, so a crash after the vendor got it is known
        (the next try looks the record up before creating it). The claim moves
        ``due_key`` ``claim_seconds`` ahead: no other worker pushes these
        records meanwhile, and if this one dies they come due again. A link
        another worker changed since it was read is left out.

        Returns:
            The claimed links (a subset of ``links``), by id.
        """
        store = await self._core.ready()
        wanted = {link.id: link for link in links}
        for _ in range(self._core.settings.conflict_retries + 1):
            if not wanted:
                break
            now = utcnow()
            lease = key_of(now + _seconds(self._claim_seconds))
            caps = self.integration.capabilities
            new = [
                link.model_copy(
                    update={
                        "attempts": link.attempts + 1,
                        "waiting": False,
                        "sending": caps.at_most_once(link.kind),
                        "due_key": lease,
                        "version": link.version + 1,
                        "updated_at": now,
                    }
                )
                for link in wanted.values()
            ]
            try:
                await self._core.commit([Update(link) for link in new])
            except ConflictError:
                current = await store.find(SyncLink, {"id": In(list(wanted))})
                due = key_of(now)
                wanted = {
                    link.id: link
                    for link in current
                    if link.version == wanted[link.id].version
                    and link.pending
                    and (link.due_key or "~") <= due
                }
                continue
            return {link.id: link for link in new}
        return {}

    @contextlib.asynccontextmanager
    async def _claim_kept(self, links: list[SyncLink]) -> AsyncIterator[None]:
        """Keep the claim on ``links`` alive while the body runs."""
        keeper = asyncio.get_running_loop().create_task(self._keep_claim(links))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_claim(self, links: list[SyncLink]) -> None:
        """Extend the claim on ``links`` while a long push runs (until cancelled).

        A link is still ours while its due time is the one this worker set
        (queueing a new local change keeps it); one another worker took over
        is let go.
        """
        store = await self._core.ready()
        ours = {link.id: link.due_key for link in links}
        while ours:
            await asyncio.sleep(max(0.05, self._claim_seconds / 3))
            current = await store.find(SyncLink, {"id": In(list(ours))})
            lease = key_of(utcnow() + _seconds(self._claim_seconds))
            renewed = [
                link.model_copy(update={"due_key": lease, "version": link.version + 1})
                for link in current
                if link.due_key is not None and ours.get(link.id) == link.due_key
            ]
            with contextlib.suppress(ConflictError):  # changed meanwhile: read again
                await self._core.commit([Update(link) for link in renewed])
                ours = {link.id: lease for link in renewed}

    async def _rewrite(
        self,
        where: Mapping[str, object],
        change: Callable[[SyncLink], Mapping[str, object] | None],
    ) -> None:
        """Read the links matching ``where`` and commit ``change(link)``'s updates to each.

        ``change`` returns the fields to set, or ``None`` to leave a link be.
        A lost write race reads the links again (`Core.retry`).
        """
        store = await self._core.ready()

        async def attempt() -> None:
            ops: list[Op] = []
            for link in await store.find(SyncLink, where):
                updates = change(link)
                if updates is not None:
                    ops.append(
                        Update(link.model_copy(update={**updates, "version": link.version + 1}))
                    )
            if ops:
                await self._core.commit(ops)

        await self._core.retry(attempt)

    async def _release(self, links: list[SyncLink]) -> None:
        """Give claimed links back untried: the vendor refused the whole call, wrote nothing."""
        now = key_of(utcnow())
        await self._rewrite(
            {"id": In([link.id for link in links])},
            lambda link: {
                "attempts": max(0, link.attempts - 1),
                "due_key": now if link.pending else None,
                "sending": False,
            },
        )

    async def _wait_for_parents(self, links: list[SyncLink]) -> None:
        later = key_of(utcnow() + _seconds(self._retry_delay))
        await self._rewrite(
            {"id": In([link.id for link in links])},
            lambda link: {
                "due_key": later if link.pending else link.due_key,
                "last_error": "waiting for its parent to reach the vendor",
                "waiting": True,
            },
        )

    async def _settle(
        self,
        outcome: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]],
        report: SyncReport,
    ) -> None:
        """Record the vendor's answers in the id map, in one transaction when possible."""
        store = await self._core.ready()

        async def attempt(
            items: list[tuple[SyncLink, PushResult | None, dict[str, JsonValue] | None]],
        ) -> SyncReport:
            part = SyncReport()
            current = {
                link.id: link
                for link in await store.find(SyncLink, {"id": In([item[0].id for item in items])})
            }
            ops: list[Op] = []
            for sent, result, fields in items:
                now_link = current.get(sent.id)
                if now_link is not None:
                    ops.append(self._settled_link(sent, now_link, result, fields, part))
            ops += await self._children_of_deleted(ops, current)
            state = await self._load_state()
            await self._commit_with_state(
                ops,
                state,
                pushed=state.pushed + part.pushed,
                last_push_at=utcnow() if part.pushed else state.last_push_at,
            )
            return part

        try:
            report.add(await self._core.retry(lambda: attempt(outcome)))
            await self._wake_children([item for item in outcome if item[0].remote_id is None])
        except DuplicateKeyError:
            # Two local records answered with one vendor id: settle one by one,
            # and dead-letter the record whose id is taken.
            for item in outcome:
                try:
                    report.add(await self._core.retry(functools.partial(attempt, [item])))
                except DuplicateKeyError:
                    link, result, _ = item
                    taken = PushResult(
                        change_id=result.change_id if result else link.id,
                        status=PushStatus.PERMANENT,
                        error=f"the vendor record {result.remote_id if result else '?'} "
                        "is linked to another local record",
                    )
                    refused: list[_Outcome] = [(link, taken, None)]
                    report.add(await self._core.retry(functools.partial(attempt, refused)))

    async def _wake_children(self, parents: list[_Outcome]) -> None:
        """Make the children waiting for these parents, now at the vendor, due at once.

        Any worker's children: the one that found a parent missing may not be
        the one that pushed it.
        """
        done = [
            link.local_id
            for link, result, _ in parents
            if link.kind in _PARENTS and result is not None and result.status is PushStatus.OK
        ]
        if not done:
            return
        now = key_of(utcnow())
        await self._rewrite(
            {"integration": self.name, "parent_local_id": In(done)},
            lambda child: (
                {"due_key": now, "waiting": False}
                if child.waiting and child.pending and (child.due_key or "") > now
                else None
            ),
        )

    async def _children_of_deleted(
        self, ops: list[Op], current: Mapping[str, SyncLink]
    ) -> list[Op]:
        deleted = [
            current[op.id].local_id for op in ops if isinstance(op, Delete) and op.id in current
        ]
        if not deleted:
            return []
        store = await self._core.ready()
        children = await store.find(
            SyncLink, {"integration": self.name, "parent_local_id": In(deleted)}
        )
        return [Delete(SyncLink, child.id) for child in children if child.id not in current]
