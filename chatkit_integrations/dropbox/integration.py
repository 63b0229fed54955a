"""The Dropbox transcript archive, on the official SDK (``dropbox``).

An outbound-only integration: chatkit never reads from the archive.

| chatkit | Dropbox | how |
|---|---|---|
| conversation | its archive path | from the template, no call; a purge deletes |
| transcript | ``<path>.json``, ``.html``, ``.txt`` | upload sessions, ``finish_batch_v2`` |
| attachments | ``<path>.attachments/<id>-<name>`` | the same, when enabled |

**Paths.** A conversation's archive path comes from ``path_template``
(`DropboxConfig`) and the conversation: the month it started, its team,
its id; every value is made safe (`safe_name`: no separators, ``..``, control
characters; long or altered names end in a hash of the original, so they stay
unique). The path is the conversation's remote id; its transcript is written
there when it is resolved or closed, again (replacing the files) if it is
resolved again later.

**Calls.** Each file is uploaded with one ``upload_session/start``
(``close=True``; larger files continue with ``append_v2``), then up to 1,000
files are committed by one ``finish_batch_v2``: a batch of N transcripts in
two formats costs 2N + ceil(2N / 1000) calls. The SDK refreshes the
short-lived access token from the refresh token when it expires.

**Idempotence.** Files are committed in ``add`` mode without autorename, so
a retried upload never makes a second copy: the same content is no conflict
(Dropbox keeps the file), different content is one. On a conflict the file's
metadata is read: the same ``content_hash`` is done; otherwise the file is
replaced with ``update`` on the ``rev`` read (a conversation resolved again).
Each committed file's ``content_hash`` (Dropbox's: SHA-256 of each 4 MiB
block, then of their concatenation) is compared with ours; a mismatch is
retried (and the retry replaces the damaged file).

**Failures.** 429 (with Dropbox's ``retry_after``), 5xx and lost connections
are retryable: uploads stop at the first one, the files staged so far are
committed, the rest go back to the queue. A refused token raises
`IntegrationAuthError` (sync parks with the reason; set a new refresh token
and ``chatkit sync resume dropbox``). A full Dropbox raises
`DropboxSpaceError`: nothing is counted as archived, sync parks and tries
again after ``full_retry_seconds``.

**Retention.** When a retention purge deletes a conversation, its archive
goes too (``delete_batch``, polled with ``delete_batch/check``); a
conversation under legal hold is not purged, so its archive stays.

The SDK is synchronous: every push runs in a worker thread.

Example:
    ```python
    config = DropboxConfig(app_key="…", app_secret="…", refresh_token="…")
    async with kit.sync.engine(DropboxIntegration(config)) as engine:
        await engine.run_once()      # archives what was resolved since the last run
    ```
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    Integration,
    ObjectSync,
    OutboundChange,
    PushResult,
    SyncObject,
)

from ._client import (
    NAME,
    DropboxConfig,
    DropboxSpaceError,
    dbx_errors,
    dbx_files,
    describe,
    guarded,
    new_client,
    wrap_unexpected,
)
from ._paths import base_path, content_hash, file_path, folder_path, safe_name

__all__ = ["BATCH", "DropboxConfig", "DropboxIntegration", "DropboxSpaceError"]

log = logging.getLogger("chatkit_integrations.dropbox")

BATCH = 1000
"""Entries per ``finish_batch_v2`` and ``delete_batch`` (Dropbox's limit)."""

TRANSCRIPTS_PER_PUSH = 500
"""Transcripts per push: two formats fill one ``finish_batch_v2`` exactly."""

_RETRY_WRITES = frozenset({"too_many_write_operations"})
_GONE = "not_found"


@dataclass
class _File:
    path: str
    content: bytes
    hash: str


@dataclass
class _Plan:
    """One transcript change: its files, and what became of them."""

    change: OutboundChange
    base: str
    files: list[_File]
    done: dict[str, str] = field(default_factory=dict)  # path → rev
    failed: PushResult | None = None

    def fail(self, result: PushResult) -> None:
        if self.failed is None:
            self.failed = result


@dataclass
class _Staged:
    plan: _Plan
    file: _File
    cursor: Any  # dropbox.files.UploadSessionCursor


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DropboxIntegration(Integration):
    """Resolved conversations archived as transcript files in a Dropbox."""

    name = NAME
    config_class = DropboxConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync.outbound_only(SyncObject.CONVERSATION, "archive", BATCH),
            ObjectSync.outbound_only(SyncObject.TRANSCRIPT, "file", TRANSCRIPTS_PER_PUSH),
        ),
    )
    config: DropboxConfig

    def __init__(self, config: DropboxConfig) -> None:
        super().__init__(config)
        self._client: Any = None
        self._session: Any = None

    @property
    def transcript_attachment_bytes(self) -> int:
        """Attachments up to ``max_attachment_bytes`` are archived when ``attachments`` is on."""
        return self.config.max_attachment_bytes if self.config.attachments else 0

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Create the SDK client (no call is made). Idempotent."""
        if self._client is None:
            self._client, self._session = new_client(self.config)

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; never raises."""
        client, session = self._client, self._session
        self._client = self._session = None
        if session is not None:
            try:
                session.close()
            except Exception:  # pragma: no cover - closing never fails the caller
                log.debug("dropbox: closing the HTTP session failed", exc_info=True)
        del client

    def _dbx(self) -> Any:
        if self._client is None:
            self._client, self._session = new_client(self.config)
        return self._client

    async def _run(self, function: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args)
        except IntegrationError:
            raise
        except Exception as exc:  # the SDK's own failures are never raw to the engine
            raise wrap_unexpected(exc) from exc

    # -- check -----------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """``users/get_current_account`` and ``users/get_space_usage``: OK, or why not."""
        try:
            usage = await self._run(self._check)
        except IntegrationAuthError as exc:
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=str(exc))
        except IntegrationQuotaError as exc:
            return HealthStatus(state=HealthState.QUOTA_EXHAUSTED, detail=str(exc))
        except IntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        used, allocated = usage
        detail = f"{used} of {allocated} bytes used" if allocated else f"{used} bytes used"
        if allocated and used >= allocated:
            return HealthStatus(
                state=HealthState.QUOTA_EXHAUSTED, detail=f"the Dropbox is full: {detail}"
            )
        if allocated and used >= allocated * 0.95:
            return HealthStatus(state=HealthState.DEGRADED, detail=f"nearly full: {detail}")
        return HealthStatus(state=HealthState.OK, detail=detail)

    def _check(self) -> tuple[int, int]:
        dbx = self._dbx()
        guarded(dbx.users_get_current_account)
        usage = guarded(dbx.users_get_space_usage)
        allocation = usage.allocation
        allocated = 0
        if allocation.is_individual():
            allocated = int(allocation.get_individual().allocated)
        elif allocation.is_team():
            team = allocation.get_team()
            allocated = int(team.user_within_team_space_allocated or team.allocated)
        return int(usage.used), allocated

    # -- push ------------------------------------------------------------------------

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Conversations get their archive path; transcripts are written; purges delete."""
        results: dict[str, PushResult] = {}
        plans: list[_Plan] = []
        deletes: list[tuple[OutboundChange, list[str]]] = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                paths = self._archive_paths(change.remote_id)
                if paths is None:
                    results[change.change_id] = PushResult.ok(change, change.remote_id)
                else:
                    deletes.append((change, paths))
            elif change.object is SyncObject.CONVERSATION:
                base = base_path(self.config.path_template, change.data)
                results[change.change_id] = PushResult.ok(change, base, remote_type="archive")
            elif change.object is SyncObject.TRANSCRIPT:
                self._plan(change, plans, results)
            else:
                results[change.change_id] = PushResult.permanent(
                    change, f"the Dropbox archive does not take {change.object.value}s"
                )
        if plans or deletes:
            await self._run(self._write, plans, deletes, results)
        return [results[change.change_id] for change in changes]

    def _archive_paths(self, base: str | None) -> list[str] | None:
        """Every path an archive at ``base`` may use (``None``: nothing was archived)."""
        if not base or not base.startswith("/"):
            return None
        return [file_path(base, ext) for ext in ("json", "html", "txt")] + [folder_path(base)]

    def _plan(
        self, change: OutboundChange, plans: list[_Plan], results: dict[str, PushResult]
    ) -> None:
        base = change.parent_remote_id
        if not base or not base.startswith("/"):
            results[change.change_id] = PushResult.retryable(
                change, "its conversation has no archive path yet"
            )
            return
        data = change.data
        contents = {"json": data.get("json"), "html": data.get("html"), "txt": data.get("text")}
        files: list[_File] = []
        for ext in self.config.extensions:
            text = contents[ext]
            if not isinstance(text, str):
                results[change.change_id] = PushResult.permanent(
                    change, f"the transcript has no {ext} rendering"
                )
                return
            files.append(self._file(file_path(base, ext), text.encode("utf-8")))
        if self.config.attachments:
            folder = folder_path(base)
            listed = data.get("attachments")
            for item in listed if isinstance(listed, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("content"), str):
                    continue  # too large, or its bytes are gone: the JSON lists it
                name = safe_name(f"{item.get('id')}-{item.get('name') or 'file'}")
                raw = base64.b64decode(str(item["content"]))
                files.append(self._file(f"{folder}/{name}", raw))
        plans.append(_Plan(change, base, files))

    @staticmethod
    def _file(path: str, content: bytes) -> _File:
        return _File(path, content, content_hash(content))

    # -- the writes (in a worker thread) ----------------------------------------------

    def _write(
        self,
        plans: list[_Plan],
        deletes: list[tuple[OutboundChange, list[str]]],
        results: dict[str, PushResult],
    ) -> None:
        stale: list[tuple[OutboundChange, list[str]]] = []
        if plans:
            stop = self._upload(plans)
            if stop is not None and all(plan.failed is not None for plan in plans):
                raise stop  # nothing was written: the engine waits what Dropbox asked, retries
            for plan in plans:
                change = plan.change
                if plan.failed is not None:
                    results[change.change_id] = plan.failed
                    continue
                first = plan.done.get(plan.files[0].path) if plan.files else None
                results[change.change_id] = PushResult.ok(
                    change, plan.base, remote_type="file", remote_version=first
                )
                old = self._archive_paths(change.remote_id)
                if old is not None and change.remote_id != plan.base:
                    stale.append((change, old))  # moved (its team changed): remove the old copy
        if deletes or stale:
            failed = self._delete([*deletes, *stale])
            for change, _ in deletes:
                results[change.change_id] = failed.get(change.change_id) or PushResult.ok(
                    change, change.remote_id
                )
            for change, _ in stale:
                if change.change_id in failed:
                    results[change.change_id] = failed[change.change_id]

    def _upload(self, plans: list[_Plan]) -> RetryableIntegrationError | None:
        """Stage and commit every plan's files; the 429 or 5xx that stopped it, if any.

        Files are sent ``parallel_uploads`` at a time. The first 429 or 5xx
        stops new uploads; what was staged before it is still committed.
        """
        guarded(self._dbx().check_and_refresh_access_token)  # once, not in every thread
        halted: list[RetryableIntegrationError] = []

        def stage(plan: _Plan) -> list[_Staged]:
            if halted:
                raise halted[0]
            try:
                return [_Staged(plan, f, self._stage(f)) for f in plan.files]
            except RetryableIntegrationError as exc:
                halted.append(exc)
                raise

        staged: list[_Staged] = []
        auth: IntegrationAuthError | None = None
        with ThreadPoolExecutor(max_workers=self.config.parallel_uploads) as pool:
            running = [(plan, pool.submit(stage, plan)) for plan in plans]
            for plan, future in running:
                try:
                    staged += future.result()
                except RetryableIntegrationError as exc:
                    plan.fail(self._retry(plan.change, exc))
                except IntegrationAuthError as exc:
                    auth = auth or exc
                except PermanentIntegrationError as exc:
                    plan.fail(PushResult.permanent(plan.change, str(exc)))
                except dbx_errors.ApiError as exc:  # e.g. content_hash_mismatch in transit
                    plan.fail(
                        PushResult.retryable(plan.change, f"upload refused: {describe(exc.error)}")
                    )
        if auth is not None:
            raise auth
        stop = halted[0] if halted else None
        staged = [s for s in staged if s.plan.failed is None]
        conflicts: list[_Staged] = []
        full = False
        refused: RetryableIntegrationError | None = None
        for batch in _chunks(staged, BATCH):
            if refused is not None:
                for item in batch:
                    item.plan.fail(self._retry(item.plan.change, refused))
                continue
            entries = [
                dbx_files.UploadSessionFinishArg(cursor=item.cursor, commit=self._commit(item.file))
                for item in batch
            ]
            try:
                answer = guarded(
                    functools.partial(self._dbx().files_upload_session_finish_batch_v2, entries)
                )
            except RetryableIntegrationError as exc:
                refused = stop = stop or exc
                for item in batch:
                    item.plan.fail(self._retry(item.plan.change, exc))
                continue
            for item, entry in zip(batch, answer.entries, strict=True):
                if entry.is_success():
                    self._committed(item, entry.get_success())
                    continue
                error = entry.get_failure()
                if error.is_path():
                    write = error.get_path()
                    if write.is_conflict() and write.get_conflict().is_file():
                        conflicts.append(item)
                        continue
                    if write.is_insufficient_space():
                        full = True
                        continue
                self._refused(item, error)
        if full:
            raise DropboxSpaceError(
                "the Dropbox is full (insufficient_space): nothing more can be archived until "
                "space is freed; the conversations are unchanged and will be archived then",
                integration=NAME,
                retry_after=self.config.full_retry_seconds,
            )
        for item in conflicts:
            if item.plan.failed is None:
                self._resolve_conflict(item)
        return stop

    def _stage(self, file: _File) -> Any:
        """Upload one file's bytes into a closed upload session; its cursor for the commit."""
        dbx, size, chunk = self._dbx(), len(file.content), self.config.chunk_bytes
        first = file.content[:chunk]
        started = guarded(lambda: dbx.files_upload_session_start(first, close=size <= chunk))
        offset = len(first)
        while offset < size:
            piece = file.content[offset : offset + chunk]
            cursor = dbx_files.UploadSessionCursor(session_id=started.session_id, offset=offset)
            last = offset + len(piece) >= size
            guarded(
                functools.partial(dbx.files_upload_session_append_v2, piece, cursor, close=last)
            )
            offset += len(piece)
        return dbx_files.UploadSessionCursor(session_id=started.session_id, offset=size)

    def _commit(self, file: _File, mode: Any = None) -> Any:
        return dbx_files.CommitInfo(
            path=file.path,
            mode=mode or dbx_files.WriteMode.add,
            autorename=False,
            mute=self.config.mute,
        )

    def _committed(self, item: _Staged, metadata: Any) -> None:
        if metadata.content_hash != item.file.hash:
            item.plan.fail(
                PushResult.retryable(
                    item.plan.change,
                    f"content hash mismatch at {item.file.path}: Dropbox stored "
                    f"{metadata.content_hash}, the upload was {item.file.hash}",
                )
            )
            return
        item.plan.done[item.file.path] = metadata.rev

    def _refused(self, item: _Staged, error: Any) -> None:
        """A failed commit: retryable when it is passing, permanent when it is the path."""
        what = describe(error)
        path = error.get_path() if error.is_path() else None
        passing = (
            error.is_lookup_failed()
            or error.is_too_many_write_operations()
            or (path is not None and path.is_too_many_write_operations())
            or (path is not None and path.is_conflict() and path.get_conflict().is_file())
        )
        message = f"Dropbox refused {item.file.path}: {what}"
        if passing:
            item.plan.fail(PushResult.retryable(item.plan.change, message))
        else:
            item.plan.fail(PushResult.permanent(item.plan.change, message))

    def _resolve_conflict(self, item: _Staged) -> None:
        """A different file is at the path: ours already (same hash), or replace it by rev."""
        dbx = self._dbx()
        try:
            found = guarded(lambda: dbx.files_get_metadata(item.file.path))
        except RetryableIntegrationError as exc:
            item.plan.fail(self._retry(item.plan.change, exc))
            return
        except dbx_errors.ApiError as exc:
            if exc.error.is_path() and exc.error.get_path().is_not_found():
                found = None  # deleted meanwhile: write it as new
            else:
                item.plan.fail(
                    PushResult.retryable(item.plan.change, f"lookup: {describe(exc.error)}")
                )
                return
        if found is not None and not isinstance(found, dbx_files.FileMetadata):
            item.plan.fail(
                PushResult.permanent(
                    item.plan.change, f"a folder is in the way at {item.file.path}"
                )
            )
            return
        if found is not None and found.content_hash == item.file.hash:
            item.plan.done[item.file.path] = found.rev
            return
        mode = dbx_files.WriteMode.update(found.rev) if found is not None else None
        commit = self._commit(item.file, mode)
        try:
            metadata = guarded(lambda: dbx.files_upload_session_finish(b"", item.cursor, commit))
        except RetryableIntegrationError as exc:
            item.plan.fail(self._retry(item.plan.change, exc))
            return
        except dbx_errors.ApiError as exc:
            self._refused(item, exc.error)
            return
        self._committed(item, metadata)

    def _delete(self, targets: list[tuple[OutboundChange, list[str]]]) -> dict[str, PushResult]:
        """Delete every path of ``targets`` in batches; the changes that did not finish."""
        dbx = self._dbx()
        rows = [(change, path) for change, paths in targets for path in paths]
        failed: dict[str, PushResult] = {}
        for batch in _chunks(rows, BATCH):
            args = [dbx_files.DeleteArg(path=path) for _, path in batch]
            try:
                launched = guarded(functools.partial(dbx.files_delete_batch, args))
                status = self._await_delete(launched)
            except (RetryableIntegrationError, PermanentIntegrationError) as exc:
                for change, _ in batch:
                    failed.setdefault(change.change_id, self._retry(change, exc))
                continue
            for (change, path), entry in zip(batch, status.entries, strict=True):
                if entry.is_success():
                    continue
                error = entry.get_failure()
                if error.is_path_lookup() and error.get_path_lookup().is_not_found():
                    continue  # never archived, or already gone
                message = f"Dropbox could not delete {path}: {describe(error)}"
                passing = error.is_too_many_write_operations() or error.is_too_many_files()
                result = (
                    PushResult.retryable(change, message)
                    if passing
                    else PushResult.permanent(change, message)
                )
                failed.setdefault(change.change_id, result)
        return failed

    def _await_delete(self, launched: Any) -> Any:
        """The ``DeleteBatchResult`` of a launched ``delete_batch``, polling its job."""
        if launched.is_complete():
            return launched.get_complete()
        job = launched.get_async_job_id()
        dbx, pause, deadline = self._dbx(), 0.05, time.monotonic() + self.config.timeout
        while True:
            status = guarded(lambda: dbx.files_delete_batch_check(job))
            if status.is_complete():
                return status.get_complete()
            if status.is_failed():
                raise RetryableIntegrationError(
                    f"Dropbox's batch delete failed: {describe(status.get_failed())}",
                    integration=NAME,
                )
            if time.monotonic() > deadline:
                raise RetryableIntegrationError(
                    "Dropbox's batch delete is still running", integration=NAME
                )
            time.sleep(pause)
            pause = min(1.0, pause * 2)

    @staticmethod
    def _retry(change: OutboundChange, exc: IntegrationError) -> PushResult:
        after = getattr(exc, "retry_after", None)
        if isinstance(exc, PermanentIntegrationError):
            return PushResult.permanent(change, str(exc))
        return PushResult.retryable(change, str(exc) or "retry", retry_after=after)
