"""The integration: one JSON file per conversation, messages and notes inside."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import anyio
from pydantic import Field, SecretStr

from chatkit.integrations import (
    Capabilities,
    ChangeAction,
    HealthState,
    HealthStatus,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PushResult,
    SyncObject,
)

__all__ = ["NotesConfig", "NotesIntegration", "verify"]

logger = logging.getLogger(__name__)


class NotesConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_EXAMPLE_NOTES_*`` or a file.

    Attributes:
        folder: Where the files go; must exist.
        signing_key: Key of the HMAC-SHA256 written into each file.
        indent: JSON indentation.
    """

    folder: Path
    signing_key: SecretStr = Field(min_length=8)
    indent: int = Field(default=2, ge=0, le=8)


class NotesIntegration(Integration):
    """Writes ``<folder>/<conversation id>.json``; messages and notes go inside it."""

    name = "example-notes"
    config_class = NotesConfig
    capabilities = Capabilities(
        objects=(
            ObjectSync(
                object=SyncObject.CONVERSATION,
                remote_type="file",
                directions={"outbound"},
                batch_size=50,
            ),
            ObjectSync(
                object=SyncObject.MESSAGE,
                remote_type="comment",
                directions={"outbound"},
                batch_size=200,
            ),
            ObjectSync(
                object=SyncObject.NOTE,
                remote_type="internal_note",
                directions={"outbound"},
                batch_size=200,
            ),
        )
    )
    config: NotesConfig

    async def check(self) -> HealthStatus:
        """OK when the folder exists and is writable."""
        folder = self.config.folder
        if not folder.is_dir():
            return HealthStatus(state=HealthState.UNREACHABLE, detail=f"{folder} is no folder")
        if not os.access(folder, os.W_OK):
            return HealthStatus(state=HealthState.AUTH_FAILED, detail=f"{folder} is read-only")
        return HealthStatus(state=HealthState.OK, detail=str(folder))

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write each change; one bad record never stops the others."""
        return [await anyio.to_thread.run_sync(self._push_one, change) for change in changes]

    def _push_one(self, change: OutboundChange) -> PushResult:
        try:
            if change.object is SyncObject.CONVERSATION:
                return self._conversation(change)
            if change.object in (SyncObject.MESSAGE, SyncObject.NOTE):
                return self._entry(change)
            return PushResult.permanent(change, f"{change.object.value}s are not synced")
        except OSError as exc:  # disk full, folder gone: may pass
            logger.warning("example-notes: %s failed: %s", change.change_id, exc.strerror)
            return PushResult.retryable(change, f"cannot write: {exc.strerror}")

    def _path(self, conversation_id: str) -> Path:
        if not conversation_id.replace("_", "").isalnum():
            raise ValueError(conversation_id)
        return self.config.folder / f"{conversation_id}.json"

    def _conversation(self, change: OutboundChange) -> PushResult:
        try:
            path = self._path(change.local_id)
        except ValueError:
            return PushResult.permanent(change, "not a conversation id")
        if change.action is ChangeAction.DELETE:
            path.unlink(missing_ok=True)  # already gone counts as done
            return PushResult.ok(change, None)
        document = self._read(path) or {"entries": {}}
        document["conversation"] = change.data
        self._write(path, document)
        return PushResult.ok(change, path.name, remote_type="file")

    def _entry(self, change: OutboundChange) -> PushResult:
        if not change.parent_local_id:
            return PushResult.permanent(change, "a message without its conversation")
        try:
            path = self._path(change.parent_local_id)
        except ValueError:
            return PushResult.permanent(change, "not a conversation id")
        document = self._read(path)
        if document is None:  # the conversation is not written yet: later
            return PushResult.retryable(change, f"{path.name} does not exist yet")
        entries = document["entries"]
        assert isinstance(entries, dict)
        if change.action is ChangeAction.DELETE:
            entries.pop(change.local_id, None)
        else:  # keyed by id: writing it twice changes nothing
            entries[change.local_id] = {"kind": change.object.value, **change.data}
        self._write(path, document)
        return PushResult.ok(
            change,
            None if change.action is ChangeAction.DELETE else change.local_id,
            remote_type="internal_note" if change.object is SyncObject.NOTE else "comment",
        )

    def _read(self, path: Path) -> dict[str, object] | None:
        try:
            document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        document.pop("signature", None)
        return document

    def _write(self, path: Path, document: dict[str, object]) -> None:
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        key = self.config.signing_key.get_secret_value().encode()
        signed = {**document, "signature": hmac.new(key, body, hashlib.sha256).hexdigest()}
        partial = path.with_suffix(".json.partial")
        partial.write_text(
            json.dumps(signed, sort_keys=True, indent=self.config.indent), encoding="utf-8"
        )
        os.replace(partial, path)  # readers never see half a file


def verify(path: Path, signing_key: str) -> bool:
    """Whether the file at ``path`` carries a valid signature for ``signing_key``."""
    document = json.loads(path.read_text(encoding="utf-8"))
    signature = document.pop("signature", "")
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    expected = hmac.new(signing_key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)
