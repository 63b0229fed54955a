"""The Dropbox emulator's state: files, upload sessions, jobs, tokens, quota, calls, faults."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._paths import content_hash

__all__ = ["Call", "DropboxAPIError", "DropboxState", "FailurePlan", "StoredFile"]

Record = dict[str, Any]

ACCESS_TOKEN_SECONDS = 14_400
"""Dropbox's short-lived access tokens last four hours."""

MAX_BATCH = 1000
"""Entries per ``finish_batch`` and ``delete_batch`` call."""


class DropboxAPIError(Exception):
    """An answer other than success: HTTP status, JSON body (or text) and headers."""

    def __init__(
        self,
        status: int,
        body: Record | None = None,
        *,
        text: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, body or text)
        self.status = status
        self.body = body
        self.text = text
        self.headers = headers or {}


def tagged(*tags: str) -> Record:
    """A nested union value: ``tagged("path", "conflict", "file")`` →
    ``{".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "file"}}}``."""
    value: Record = {".tag": tags[-1]}
    for outer in reversed(tags[:-1]):
        value = {".tag": outer, outer: value}
    return value


def summary(error: Record) -> str:
    """Dropbox's ``error_summary``: the chain of tags, then ``/..``."""
    tags: list[str] = []
    node: Any = error
    while isinstance(node, dict) and ".tag" in node:
        tag = node[".tag"]
        tags.append(tag)
        node = node.get(tag, node.get("reason"))
    return "/".join(tags) + "/.."


def route_error(error: Record, *, status: int = 409, **extra: Any) -> DropboxAPIError:
    """An endpoint-specific error (409): ``{"error_summary": ..., "error": {...}}``."""
    return DropboxAPIError(status, {"error_summary": summary(error), "error": {**error, **extra}})


def bad_input(route: str, message: str) -> DropboxAPIError:
    """The 400 Dropbox answers for arguments that do not match the route (plain text)."""
    return DropboxAPIError(400, text=f'Error in call to API function "{route}": {message}')


@dataclass
class StoredFile:
    """One file in the emulated Dropbox."""

    path_display: str
    id: str
    rev: str
    content: bytes
    client_modified: str
    server_modified: str

    @property
    def name(self) -> str:
        return self.path_display.rsplit("/", 1)[-1]

    def metadata(self, *, tag: str | None = None) -> Record:
        """``FileMetadata`` as Dropbox sends it (``tag`` ``"file"`` where it is a `Metadata`)."""
        record: Record = {".tag": tag} if tag else {}
        record.update(
            name=self.name,
            path_lower=self.path_display.lower(),
            path_display=self.path_display,
            id=self.id,
            client_modified=self.client_modified,
            server_modified=self.server_modified,
            rev=self.rev,
            size=len(self.content),
            is_downloadable=True,
            content_hash=content_hash(self.content),
        )
        return record


@dataclass
class Session:
    """An upload session: its bytes so far, and whether it is closed or used."""

    data: bytearray = field(default_factory=bytearray)
    closed: bool = False
    finished: bool = False


@dataclass
class FailurePlan:
    """Answer the next ``times`` matching calls with ``status`` (after letting ``after`` pass)."""

    status: int
    times: int
    retry_after: int | None = None
    route: str | None = None
    after: int = 0


@dataclass(frozen=True)
class Call:
    """One call served: its route (``files/upload``, ``oauth2/token``) and HTTP status."""

    route: str
    status: int


WRITE_ROUTES = frozenset(
    {
        "files/upload",
        "files/upload_session/finish",
        "files/upload_session/finish_batch",
        "files/upload_session/finish_batch_v2",
        "files/delete_batch",
    }
)
"""The routes that change files (the others upload bytes, read or poll)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DropboxState:
    """Everything the emulated Dropbox account holds; thread-safe (the server runs in a thread).

    Args:
        app_key: The app's key (``client_id`` of the token refresh).
        app_secret: The app's secret.
        allocated: The account's space in bytes.
        job_polls: How many ``*/check`` polls answer ``in_progress`` before ``complete``.
    """

    def __init__(
        self,
        *,
        app_key: str = "chatkit-app-key",
        app_secret: str = "chatkit-app-secret",
        allocated: int = 2 * 1024**3,
        job_polls: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        self.app_key = app_key
        self.app_secret = app_secret
        self.allocated = allocated
        self.job_polls = job_polls
        self.files: dict[str, StoredFile] = {}
        self.sessions: dict[str, Session] = {}
        self.jobs: dict[str, tuple[int, Record]] = {}
        self.refresh_tokens: set[str] = {secrets.token_urlsafe(32)}
        self.access_tokens: dict[str, float] = {}
        self.calls: list[Call] = []
        self.failures: list[FailurePlan] = []
        self.corrupt = 0
        self._ids = itertools.count(1)
        self.account_id = "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"

    # -- tokens ------------------------------------------------------------------

    @property
    def refresh_token(self) -> str:
        """A valid refresh token of the app (give it to the integration)."""
        with self.lock:
            return next(iter(sorted(self.refresh_tokens)))

    def issue_access_token(self, seconds: float = ACCESS_TOKEN_SECONDS) -> str:
        """A new short-lived access token (``sl.…``)."""
        token = "sl." + secrets.token_urlsafe(48)
        with self.lock:
            self.access_tokens[token] = time.time() + seconds
        return token

    def expire_access_tokens(self) -> None:
        """Every access token given so far is now expired (401 ``expired_access_token``)."""
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0.0

    def revoke(self) -> None:
        """The user unlinked the app: refresh and access tokens are all refused."""
        with self.lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def refresh(self, form: dict[str, str]) -> Record:
        """``POST /oauth2/token`` with ``grant_type=refresh_token``."""
        if form.get("grant_type") != "refresh_token":
            raise DropboxAPIError(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type"}
            )
        if form.get("client_id") != self.app_key or (
            form.get("client_secret") is not None and form["client_secret"] != self.app_secret
        ):
            raise DropboxAPIError(
                400,
                {"error": "invalid_client", "error_description": "Invalid client_id or secret"},
            )
        with self.lock:
            known = form.get("refresh_token") in self.refresh_tokens
        if not known:
            raise DropboxAPIError(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "refresh token is invalid or revoked",
                },
            )
        return {
            "access_token": self.issue_access_token(),
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }

    def authorize(self, header: str | None) -> None:
        """Check a ``Bearer`` header; raise the 401 Dropbox would send."""
        token = (header or "").removeprefix("Bearer ").strip()
        with self.lock:
            expires = self.access_tokens.get(token)
        if expires is None:
            raise route_error({".tag": "invalid_access_token"}, status=401)
        if expires < time.time():
            raise route_error({".tag": "expired_access_token"}, status=401)

    # -- faults and the call log -------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        route: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` calls (to ``route`` when given, after ``after`` of them
        pass) with ``status``: 429 with ``Retry-After`` and Dropbox's ``too_many_requests``
        body, or a 5xx."""
        with self.lock:
            self.failures.append(FailurePlan(status, times, retry_after, route, after))

    def take_failure(self, route: str) -> DropboxAPIError | None:
        with self.lock:
            for plan in self.failures:
                if plan.route is not None and plan.route != route:
                    continue
                if plan.after > 0:
                    plan.after -= 1
                    continue
                plan.times -= 1
                if plan.times <= 0:
                    self.failures.remove(plan)
                return _failure(plan)
        return None

    def corrupt_next(self, times: int = 1) -> None:
        """The next ``times`` files written are stored with one byte changed (the
        committed ``content_hash`` then differs from the uploaded content's)."""
        with self.lock:
            self.corrupt += times

    def record(self, route: str, status: int) -> None:
        with self.lock:
            self.calls.append(Call(route, status))

    def call_count(self, route: str | None = None) -> int:
        """Calls served (to ``route`` only, when given), failed ones included."""
        with self.lock:
            return sum(1 for c in self.calls if route is None or c.route == route)

    def write_count(self) -> int:
        """Calls to the routes that change files (`WRITE_ROUTES`)."""
        with self.lock:
            return sum(1 for c in self.calls if c.route in WRITE_ROUTES)

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # -- files -------------------------------------------------------------------

    def used(self) -> int:
        with self.lock:
            return sum(len(f.content) for f in self.files.values())

    def space_usage(self) -> Record:
        return {
            "used": self.used(),
            "allocation": {".tag": "individual", "allocated": self.allocated},
        }

    def paths(self) -> list[str]:
        """Every file's ``path_display``, sorted."""
        with self.lock:
            return sorted(f.path_display for f in self.files.values())

    def get(self, path: str) -> StoredFile | None:
        with self.lock:
            return self.files.get(path.lower())

    def read(self, path: str) -> bytes:
        """A file's content (`KeyError` when there is none)."""
        found = self.get(path)
        if found is None:
            raise KeyError(path)
        return found.content

    def put(self, path: str, content: bytes) -> StoredFile:
        """Write a file directly, as a person would in the Dropbox app."""
        with self.lock:
            return self._store(path, content, None)

    def _store(self, path: str, content: bytes, client_modified: str | None) -> StoredFile:
        now = _now()
        old = self.files.get(path.lower())
        stored = StoredFile(
            path_display=path,
            id=old.id if old else f"id:{secrets.token_urlsafe(16)}",
            rev=f"{next(self._ids):09x}{secrets.token_hex(4)}",
            content=content,
            client_modified=client_modified or now,
            server_modified=now,
        )
        self.files[path.lower()] = stored
        return stored

    def _folder_files(self, path: str) -> list[str]:
        prefix = path.lower().rstrip("/") + "/"
        return [key for key in self.files if key.startswith(prefix)]

    def commit(self, commit: Record, content: bytes, *, session_id: str | None = None) -> Record:
        """Save ``content`` under ``commit`` (a ``CommitInfo``); the ``FileMetadata``.

        A refused write raises `_WriteFailed` with Dropbox's ``WriteError`` value.
        """
        path = commit.get("path")
        if not isinstance(path, str):
            raise _WriteFailed(tagged("malformed_path"))
        _check_path(path)
        mode = commit.get("mode", "add")
        tag = mode if isinstance(mode, str) else mode.get(".tag")
        strict = bool(commit.get("strict_conflict", False))
        autorename = bool(commit.get("autorename", False))
        with self.lock:
            if self._folder_files(path):
                raise _WriteFailed(tagged("conflict", "folder"))
            parts = path.split("/")
            for depth in range(2, len(parts)):
                if "/".join(parts[:depth]).lower() in self.files:
                    raise _WriteFailed(tagged("conflict", "file_ancestor"))
            existing = self.files.get(path.lower())
            target = path
            if existing is not None:
                same = content_hash(existing.content) == content_hash(content)
                if same and not strict:
                    return existing.metadata()
                conflict = (
                    tag == "add"
                    or (tag == "update" and mode.get("update") != existing.rev)
                    or (strict and same and tag != "overwrite")
                )
                if conflict:
                    if not autorename:
                        raise _WriteFailed(tagged("conflict", "file"))
                    target = self._free_name(path, "conflicted copy" if tag == "update" else None)
            elif tag == "update" and strict:
                raise _WriteFailed(tagged("conflict", "file"))
            replaced = (
                len(self.files[target.lower()].content) if target.lower() in self.files else 0
            )
            if self.used() - replaced + len(content) > self.allocated:
                raise _WriteFailed(tagged("insufficient_space"))
            if self.corrupt > 0:
                self.corrupt -= 1
                content = content[:-1] + bytes([(content[-1] ^ 0xFF) if content else 0])
            stored = self._store(target, content, commit.get("client_modified"))
            return stored.metadata()

    def _free_name(self, path: str, label: str | None) -> str:
        folder, _, name = path.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        for n in itertools.count(1):
            suffix = (
                f" ({label})" if label and n == 1 else f" ({label} {n})" if label else f" ({n})"
            )
            candidate = f"{folder}/{stem}{suffix}{dot}{ext}"
            if candidate.lower() not in self.files:
                return candidate
        raise AssertionError("unreachable")  # pragma: no cover

    def metadata(self, path: str) -> Record:
        """``get_metadata``: a file's or (implicit) folder's ``Metadata``."""
        _check_path(path, lookup=True)
        with self.lock:
            found = self.files.get(path.lower())
            if found is not None:
                return found.metadata(tag="file")
            inside = self._folder_files(path)
        if inside:
            return {
                ".tag": "folder",
                "name": path.rsplit("/", 1)[-1],
                "path_lower": path.lower(),
                "path_display": path,
                "id": "id:" + hashlib.sha256(path.lower().encode()).hexdigest()[:22],
            }
        raise _LookupFailed(tagged("not_found"))

    def delete(self, path: str, parent_rev: str | None = None) -> Record:
        """Delete a file or a folder with everything in it; its ``Metadata``."""
        _check_path(path, lookup=True)
        with self.lock:
            found = self.files.get(path.lower())
            if found is not None:
                if parent_rev is not None and parent_rev != found.rev:
                    raise _LookupFailed(tagged("not_found"))
                del self.files[path.lower()]
                return found.metadata(tag="file")
            inside = self._folder_files(path)
            if not inside:
                raise _LookupFailed(tagged("not_found"))
            folder = self.metadata(path)
            for key in inside:
                del self.files[key]
            return folder

    # -- sessions and jobs -------------------------------------------------------

    def start_session(self, data: bytes, close: bool) -> str:
        session_id = "pid_upload_session:" + secrets.token_urlsafe(36)
        with self.lock:
            self.sessions[session_id] = Session(bytearray(data), closed=close)
        return session_id

    def session(self, cursor: Record, *, for_finish: bool = False) -> Session:
        """The session of ``cursor`` if its offset is right; else ``UploadSessionLookupError``."""
        with self.lock:
            found = self.sessions.get(str(cursor.get("session_id")))
            if found is None or found.finished:
                raise _LookupFailed(tagged("not_found"))
            if cursor.get("offset") != len(found.data):
                raise _LookupFailed({".tag": "incorrect_offset", "correct_offset": len(found.data)})
            if found.closed and not for_finish:
                raise _LookupFailed(tagged("closed"))
            return found

    def new_job(self, result: Record) -> str:
        job_id = "dbjid:" + secrets.token_urlsafe(24)
        with self.lock:
            self.jobs[job_id] = (self.job_polls, result)
        return job_id

    def poll(self, job_id: str) -> Record:
        with self.lock:
            found = self.jobs.get(job_id)
            if found is None:
                raise route_error(tagged("invalid_async_job_id"))
            polls, result = found
            if polls > 0:
                self.jobs[job_id] = (polls - 1, result)
                return {".tag": "in_progress"}
            return {".tag": "complete", **result}


class _WriteFailed(Exception):
    """A ``WriteError`` value."""

    def __init__(self, error: Record) -> None:
        super().__init__(error)
        self.error = error


class _LookupFailed(Exception):
    """A ``LookupError`` (or ``UploadSessionLookupError``) value."""

    def __init__(self, error: Record) -> None:
        super().__init__(error)
        self.error = error


def _check_path(path: str, *, lookup: bool = False) -> None:
    """Dropbox's path rules: absolute, no empty, ``.`` or ``..`` or over-long component."""
    parts = path.split("/")
    bad = (
        not path.startswith("/")
        or path.endswith("/")
        or any(p in ("", ".", "..") or len(p) > 255 for p in parts[1:])
        or any(ord(ch) < 32 for ch in path)
    )
    if bad:
        error = {".tag": "malformed_path"}
        raise (_LookupFailed(error) if lookup else _WriteFailed(error))


def _failure(plan: FailurePlan) -> DropboxAPIError:
    if plan.status == 429:
        after = plan.retry_after if plan.retry_after is not None else 1
        body = {
            "error_summary": "too_many_requests/..",
            "error": {"reason": {".tag": "too_many_requests"}, "retry_after": after},
        }
        return DropboxAPIError(429, body, headers={"Retry-After": str(after)})
    text = "Internal Server Error" if plan.status == 500 else "Service Unavailable"
    return DropboxAPIError(plan.status, text=text)
