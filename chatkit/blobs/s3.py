"""Blob store in an S3-compatible bucket: AWS S3, MinIO, Cloudflare R2... (extra ``s3``).

Built on aiobotocore, the asyncio port of botocore (the engine of AWS's own
boto3): every call is a real coroutine on the kit's event loop, with
botocore's request signing, retries, endpoint rules and checksums. aioboto3
wraps the same client in boto3's resource and transfer helpers, which this
store does not need: it streams the parts itself.

Uploads stream: bytes are gathered until one part (`S3Settings.part_size`,
8 MiB by default) is full; a blob smaller than a part is one ``PutObject``,
a larger one a multipart upload, aborted when the source fails. Every
request carries the SHA-256 of its bytes (``ChecksumAlgorithm=SHA256``), so
the service refuses a part that changed on the way. Downloads stream in
chunks of one ``GetObject`` with ``ChecksumMode=ENABLED``: the bytes are
checked against the checksum stored with the object (for a multipart object,
with `S3Settings.verify_multipart`, each part's SHA-256 and the SHA-256 of
those, with the part size the upload recorded in the object's metadata). A
mismatch is a `BlobIntegrityError`, raised at the end of the stream.

Example:
    ```python
    from chatkit import AsyncChatKit

    kit = AsyncChatKit(
        "postgresql://chat@db/support",
        blobs="s3://support-attachments/chat?region=eu-west-1",
    )
    ```
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from typing import Any, Final, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

import anyio
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .._optional import missing
from ..errors import (
    BlobAccessError,
    BlobIntegrityError,
    BlobNotFoundError,
    BlobStoreError,
    ConfigurationError,
    InvalidInputError,
)
from .base import BlobInfo, BlobStore, check_key

try:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session
    from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError
except ImportError as exc:  # pragma: no cover - exercised by tests/test_optional_imports.py
    raise missing("aiobotocore", "the S3 blob store", exc) from exc

__all__ = ["S3BlobStore", "S3Settings"]

MiB: Final = 1024 * 1024
MIN_PART_SIZE: Final = 5 * MiB
"""The smallest part S3 accepts (every part but the last)."""
PART_SIZE_META: Final = "chatkit-part-size"
"""Object metadata a multipart upload records its part size in (to check its checksum)."""
MAX_DELETE: Final = 1000
"""Keys one ``DeleteObjects`` request may name."""

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}$")

_ACCESS: Final = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "InvalidToken",
        "NoSuchBucket",
        "PermanentRedirect",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "403",
        "301",
    }
)
"""Error codes that mean the bucket refused us: configuration, not a passing fault."""
_INTEGRITY: Final = frozenset(
    {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
)
_MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _env_flag(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


class S3Settings(BaseModel):
    """Where and how the S3 blob store keeps blobs.

    Credentials are optional: unset, botocore's own chain finds them
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, the
    instance or task role...). Secrets are `SecretStr`: never in a repr,
    a log line or an error message.

    Attributes:
        bucket: The bucket's name.
        prefix: Keys are written under this prefix (``chat/`` gives
            ``chat/att/..``); empty for the bucket's root.
        region: The bucket's region (``$CHATKIT_S3_REGION``, else
            botocore's ``AWS_REGION``/``AWS_DEFAULT_REGION``/profile).
        endpoint_url: The service's URL for another S3-compatible service:
            ``http://127.0.0.1:9000`` (MinIO),
            ``https://<account>.r2.cloudflarestorage.com`` (R2). Default
            ``$CHATKIT_S3_ENDPOINT_URL``, else AWS.
        public_endpoint_url: The URL browsers reach the service at, when it
            differs from ``endpoint_url`` (MinIO inside a private network
            behind ``https://files.example.com``): signed URLs use it.
        path_style: Address the bucket in the path
            (``endpoint/bucket/key``) rather than as a host name
            (``bucket.endpoint/key``); MinIO and most emulators want it.
            Default ``$CHATKIT_S3_PATH_STYLE``.
        access_key_id: Access key id (``$CHATKIT_S3_ACCESS_KEY_ID``).
        secret_access_key: Secret key (``$CHATKIT_S3_SECRET_ACCESS_KEY``).
        session_token: Session token of temporary credentials (``$CHATKIT_S3_SESSION_TOKEN``).
        part_size: Bytes per part of a multipart upload, and the most an
            upload holds in memory (at least 5 MiB, S3's minimum). A blob
            smaller than this is one ``PutObject``.
        url_expires: Seconds a signed download URL stays valid.
        checksums: Send and check SHA-256 checksums (turn off only for a
            service that rejects them).
        verify_multipart: Also check a multipart object's checksum on
            download (the SHA-256 of its parts' SHA-256s): one more SHA-256
            pass over its bytes, on a worker thread. Single-part objects
            (smaller than ``part_size``) are always checked, and every part
            is checked by the service on upload.
        max_attempts: Attempts per request (botocore's standard retry mode).
        connect_timeout: Seconds to connect.
        read_timeout: Seconds to wait for data.
        max_pool_connections: Connections kept open to the service.
    """

    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str = ""
    region: str | None = Field(default_factory=lambda: _env("CHATKIT_S3_REGION"))
    endpoint_url: str | None = Field(default_factory=lambda: _env("CHATKIT_S3_ENDPOINT_URL"))
    public_endpoint_url: str | None = None
    path_style: bool = Field(default_factory=lambda: _env_flag("CHATKIT_S3_PATH_STYLE"))
    access_key_id: str | None = Field(default_factory=lambda: _env("CHATKIT_S3_ACCESS_KEY_ID"))
    secret_access_key: SecretStr | None = Field(
        default_factory=lambda: _env("CHATKIT_S3_SECRET_ACCESS_KEY"),
        validate_default=True,
        exclude=True,
    )
    session_token: SecretStr | None = Field(
        default_factory=lambda: _env("CHATKIT_S3_SESSION_TOKEN"),
        validate_default=True,
        exclude=True,
    )
    part_size: int = Field(default=8 * MiB, ge=MIN_PART_SIZE, le=5 * 1024 * MiB)
    url_expires: float = Field(default=300.0, gt=0, le=7 * 24 * 3600)
    checksums: bool = True
    verify_multipart: bool = False
    max_attempts: int = Field(default=5, ge=1, le=20)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_pool_connections: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(
        cls, value: Any, handler: ModelWrapValidatorHandler[S3Settings]
    ) -> S3Settings:
        """Raise `ConfigurationError` naming the fields (never their values: secrets)."""
        try:
            return handler(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigurationError(f"bad S3 blob store settings: {problems}") from None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError("a bucket name is 3-63 lower-case letters, digits, dots and hyphens")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not value:
            return ""
        if not _PREFIX.match(value) or "//" in value or ".." in value:
            raise ValueError("a prefix is letters, digits, '_', '-', '.' and '/', without '..'")
        return value + "/"

    @field_validator("endpoint_url", "public_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an endpoint is an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("put credentials in access_key_id and secret_access_key, not the URL")
        return value.rstrip("/")

    @classmethod
    def from_url(cls, url: str) -> S3Settings:
        """Read ``s3://bucket/prefix?region=..&endpoint=..&path_style=true``.

        Query parameters: ``region``, ``endpoint``, ``public_endpoint``,
        ``path_style``, ``part_size`` (bytes), ``url_expires`` (seconds),
        ``checksums``, ``verify_multipart``, ``max_attempts``. Credentials never go in the URL
        (it ends up in logs): use the settings or the environment.

        Raises:
            ConfigurationError: The URL is malformed or a value is invalid.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise ConfigurationError(
                f"an S3 blob store URL looks like s3://bucket/prefix, not {url!r}"
            )
        if "@" in parts.netloc:
            raise ConfigurationError(
                "an S3 blob store URL carries no credentials: set CHATKIT_S3_ACCESS_KEY_ID "
                "and CHATKIT_S3_SECRET_ACCESS_KEY (or AWS_*), or pass S3Settings"
            )
        names = {
            "region": "region",
            "endpoint": "endpoint_url",
            "endpoint_url": "endpoint_url",
            "public_endpoint": "public_endpoint_url",
            "public_endpoint_url": "public_endpoint_url",
            "path_style": "path_style",
            "part_size": "part_size",
            "url_expires": "url_expires",
            "checksums": "checksums",
            "verify_multipart": "verify_multipart",
            "max_attempts": "max_attempts",
        }
        values: dict[str, Any] = {"bucket": parts.netloc, "prefix": unquote(parts.path)}
        for name, found in parse_qs(parts.query, keep_blank_values=True).items():
            if name not in names:
                raise ConfigurationError(
                    f"unknown S3 blob store URL parameter {name!r} "
                    f"(known: {', '.join(sorted(set(names)))})"
                )
            values[names[name]] = found[-1]
        return cls(**values)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _disposition(name: str) -> str:
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class _Composite:
    """Checks a multipart object's composite SHA-256 (of its parts' SHA-256s) as it streams.

    The bytes are hashed in batches of `BATCH` on a worker thread (hashlib
    releases the GIL), one batch at a time and in order, so hashing overlaps
    with reading the next bytes from the network.
    """

    BATCH: Final = 1 << 20

    def __init__(self, expected: str, parts: int, part_size: int) -> None:
        self.expected, self.parts, self.part_size = expected, parts, part_size
        self.digests: list[bytes] = []
        self.current = hashlib.sha256()
        self.left = part_size
        self.batch: list[bytes] = []
        self.batched = 0
        self.pending: asyncio.Future[None] | None = None

    @classmethod
    def of(cls, response: dict[str, Any]) -> _Composite | None:
        stored = str(response.get("ChecksumSHA256") or "")
        expected, dash, count = stored.rpartition("-")
        size = str((response.get("Metadata") or {}).get(PART_SIZE_META, ""))
        if not (dash and count.isdigit() and size.isdigit() and int(size) > 0):
            return None
        return cls(expected, int(count), int(size))

    def update(self, chunk: bytes) -> None:
        """Hash ``chunk`` now (on this thread)."""
        view = memoryview(chunk)
        while len(view) >= self.left:
            self.current.update(view[: self.left])
            view = view[self.left :]
            self.digests.append(self.current.digest())
            self.current, self.left = hashlib.sha256(), self.part_size
        if view:
            self.current.update(view)
            self.left -= len(view)

    def _update_all(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.update(chunk)

    async def feed(self, chunk: bytes) -> None:
        """Queue ``chunk``; a full batch is hashed on a worker thread."""
        self.batch.append(chunk)
        self.batched += len(chunk)
        if self.batched >= self.BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if self.pending is not None:
            await self.pending
            self.pending = None
        if self.batch:
            batch, self.batch, self.batched = self.batch, [], 0
            loop = asyncio.get_running_loop()
            self.pending = loop.run_in_executor(None, self._update_all, batch)

    async def finish(self) -> bool:
        """Hash what is queued; whether the checksum matches."""
        await self._flush()
        await self._flush()
        return self.matches()

    def matches(self) -> bool:
        if self.left < self.part_size:
            self.digests.append(self.current.digest())
        whole = hashlib.sha256(b"".join(self.digests)).digest()
        return len(self.digests) == self.parts and _b64(whole) == self.expected


class S3BlobStore(BlobStore):
    """Keeps each blob as an object in an S3-compatible bucket (extra ``s3``).

    Args:
        settings: Bucket, prefix, endpoint and credentials (`S3Settings`),
            or the bucket's name with the other settings as keywords.
        **options: `S3Settings` fields, when ``settings`` is a bucket name.

    The client is made on first use, on the running event loop, and closed by
    `close` (the kit closes it with itself).

    Example:
        ```python
        blobs = S3BlobStore("support-attachments", prefix="chat", region="eu-west-1")
        blobs = S3BlobStore.from_url("s3://files/chat?endpoint=http://127.0.0.1:9000&path_style=1")
        ```
    """

    def __init__(self, settings: S3Settings | str, **options: Any) -> None:
        if isinstance(settings, str):
            settings = S3Settings(bucket=settings, **options)
        elif options:
            raise ConfigurationError("pass either S3Settings or keyword options, not both")
        self.settings = settings
        self._stack: AsyncExitStack | None = None
        self._client_obj: Any = None
        self._signer: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        where = f", endpoint={self.settings.endpoint_url!r}" if self.settings.endpoint_url else ""
        region = f", region={self.settings.region!r}" if self.settings.region else ""
        return (
            f"S3BlobStore(bucket={self.settings.bucket!r}, "
            f"prefix={self.settings.prefix!r}{region}{where})"
        )

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``s3://bucket/prefix?region=..&endpoint=..&path_style=true`` (see `S3Settings.from_url`).

        Raises:
            ConfigurationError: The URL is malformed or a value is invalid.
        """
        return cls(S3Settings.from_url(url))

    # -- the client -------------------------------------------------------------

    def _config(self) -> AioConfig:
        s = self.settings
        return AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path" if s.path_style else "auto"},
            retries={"max_attempts": s.max_attempts, "mode": "standard"},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            max_pool_connections=s.max_pool_connections,
            # Checksums are sent and checked where this store asks for them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def _client_args(self, endpoint_url: str | None) -> dict[str, Any]:
        s = self.settings
        return {
            "region_name": s.region,
            "endpoint_url": endpoint_url,
            "aws_access_key_id": s.access_key_id,
            "aws_secret_access_key": (
                s.secret_access_key.get_secret_value() if s.secret_access_key else None
            ),
            "aws_session_token": s.session_token.get_secret_value() if s.session_token else None,
            "config": self._config(),
        }

    async def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client_obj is not None and self._loop is loop:
            return self._client_obj
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
            self._client_obj = self._signer = self._stack = None  # another loop's: dropped
        async with self._lock:
            if self._client_obj is None:
                stack = AsyncExitStack()
                session = get_session()
                try:
                    self._client_obj = await stack.enter_async_context(
                        session.create_client("s3", **self._client_args(self.settings.endpoint_url))
                    )
                    if self.settings.public_endpoint_url:
                        self._signer = await stack.enter_async_context(
                            session.create_client(
                                "s3", **self._client_args(self.settings.public_endpoint_url)
                            )
                        )
                    else:
                        self._signer = self._client_obj
                except BaseException:
                    self._client_obj = self._signer = None
                    await stack.aclose()
                    raise
                self._stack = stack
        return self._client_obj

    async def close(self) -> None:
        """Close the client's connections (a later call opens them again)."""
        stack, self._stack = self._stack, None
        self._client_obj = self._signer = None
        if stack is not None and self._loop is asyncio.get_running_loop():
            await stack.aclose()

    # -- errors -----------------------------------------------------------------

    def _error(self, exc: Exception, operation: str, key: str | None = None) -> Exception:
        bucket = self.settings.bucket
        if isinstance(exc, FlexibleChecksumError):
            return BlobIntegrityError(
                f"S3 {operation} of {key!r} in bucket {bucket!r}: the bytes do not match "
                "their stored checksum",
                reason="ChecksumMismatch",
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(
                error.get("Code")
                or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "unknown")
            )
            text = str(error.get("Message") or "").strip()
            detail = f"{code}: {text}" if text and text != code else code
            if code in _MISSING and key is not None:
                return BlobNotFoundError(key)
            message = f"S3 {operation} in bucket {bucket!r} failed ({detail})"
            if code in _ACCESS:
                return BlobAccessError(message, reason=code)
            if code in _INTEGRITY:
                return BlobIntegrityError(message, reason=code)
            return BlobStoreError(message, reason=code)
        kind = type(exc).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
            return BlobAccessError(f"S3 {operation} in bucket {bucket!r}: {exc}", reason=kind)
        return BlobStoreError(f"S3 {operation} in bucket {bucket!r} failed: {exc}", reason=kind)

    def _object(self, key: str) -> str:
        return self.settings.prefix + check_key(key)

    # -- the contract -----------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> BlobInfo:
        name = self._object(key)
        client = await self._client()
        bucket, part_size = self.settings.bucket, self.settings.part_size
        use_checksums = self.settings.checksums
        loop = asyncio.get_running_loop()
        whole, size = hashlib.sha256(), 0
        pending: list[bytes] = []
        pending_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part() -> None:
            nonlocal upload_id, pending, pending_size
            # Exactly one part of the gathered bytes; the rest waits for the next.
            gathered = pending[0] if len(pending) == 1 else b"".join(pending)
            body, rest = gathered[:part_size], gathered[part_size:]
            del gathered
            pending, pending_size = ([rest], len(rest)) if rest else ([], 0)
            if upload_id is None:
                extra = {"ChecksumAlgorithm": "SHA256"} if use_checksums else {}
                created = await client.create_multipart_upload(
                    Bucket=bucket,
                    Key=name,
                    ContentType="application/octet-stream",
                    Metadata={PART_SIZE_META: str(part_size)},
                    **extra,
                )
                upload_id = created["UploadId"]
            number = len(parts) + 1
            part: dict[str, Any] = {"PartNumber": number}
            sums: dict[str, str] = {}
            if use_checksums:  # hashed on a worker thread: the event loop keeps serving
                found = await loop.run_in_executor(None, _sha256, body)
                sums = {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": _b64(found)}
                part["ChecksumSHA256"] = sums["ChecksumSHA256"]
            # The whole blob's SHA-256 moves on while the part is on the wire.
            hashing = loop.run_in_executor(None, whole.update, body)
            try:
                sent = await client.upload_part(
                    Bucket=bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ContentLength=len(body),
                    **sums,
                )
            finally:
                await hashing
            part["ETag"] = sent["ETag"]
            parts.append(part)

        operation = "upload"
        try:
            try:
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    pending.append(bytes(chunk))
                    pending_size += len(chunk)
                    while pending_size >= part_size:
                        await send_part()
                if upload_id is None:
                    # One PutObject: its checksum is the blob's SHA-256.
                    body = b"".join(pending)
                    pending = []
                    if len(body) >= 1 << 18:
                        whole = await loop.run_in_executor(None, hashlib.sha256, body)
                    else:
                        whole.update(body)
                    sums = (
                        {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": _b64(whole.digest())}
                        if use_checksums
                        else {}
                    )
                    await client.put_object(
                        Bucket=bucket,
                        Key=name,
                        Body=body,
                        ContentLength=len(body),
                        ContentType="application/octet-stream",
                        **sums,
                    )
                else:
                    if pending:
                        await send_part()
                    operation = "completing the upload"
                    await client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=name,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, operation, key) from exc
        except BaseException:
            if upload_id is not None:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload_id)
            raise
        return BlobInfo(key=key, size=size, sha256=whole.hexdigest())

    async def open(self, key: str, *, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
        name = self._object(key)
        client = await self._client()
        mode = {"ChecksumMode": "ENABLED"} if self.settings.checksums else {}
        try:
            response = await client.get_object(Bucket=self.settings.bucket, Key=name, **mode)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "download", key) from exc
        body = response["Body"]
        # A single-part object's SHA-256 is checked by botocore as the body
        # streams; a multipart object's is of its parts' checksums, which this
        # store checks itself (with verify_multipart) when it knows the part
        # size (it wrote the object).
        verify = self.settings.checksums and self.settings.verify_multipart
        composite = _Composite.of(response) if verify else None
        try:
            async for chunk in body.iter_chunks(chunk_size):
                if composite is not None:
                    await composite.feed(chunk)
                yield chunk
            if composite is not None and not await composite.finish():
                raise FlexibleChecksumError(error_msg="the parts' checksums do not match")
        except (FlexibleChecksumError, BotoCoreError) as exc:
            raise self._error(exc, "download", key) from exc
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        name = self._object(key)
        client = await self._client()
        try:
            await client.delete_object(Bucket=self.settings.bucket, Key=name)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "delete") from exc

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the blobs, up to 1,000 keys per ``DeleteObjects`` request.

        Raises:
            InvalidBlobKeyError: A key is not safe (checked before anything is deleted).
            BlobStoreError: The bucket refused some keys (the first is named).
        """
        names = list(dict.fromkeys(self._object(key) for key in keys))
        if not names:
            return
        client = await self._client()
        for start in range(0, len(names), MAX_DELETE):
            batch = names[start : start + MAX_DELETE]
            try:
                answer = await client.delete_objects(
                    Bucket=self.settings.bucket,
                    Delete={"Objects": [{"Key": n} for n in batch], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, "delete") from exc
            errors = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                first = errors[0]
                code = str(first.get("Code") or "unknown")
                message = (
                    f"S3 delete in bucket {self.settings.bucket!r} refused {len(errors)} of "
                    f"{len(batch)} keys, the first {first.get('Key')!r} ({code}: "
                    f"{first.get('Message', '')})"
                )
                kind = BlobAccessError if code in _ACCESS else BlobStoreError
                raise kind(message, reason=code)

    async def exists(self, key: str) -> bool:
        name = self._object(key)
        client = await self._client()
        try:
            await client.head_object(Bucket=self.settings.bucket, Key=name)
        except ClientError as exc:
            error = self._error(exc, "lookup", key)
            if isinstance(error, BlobNotFoundError):
                return False
            raise error from exc
        except BotoCoreError as exc:
            raise self._error(exc, "lookup") from exc
        return True

    async def signed_url(
        self, key: str, *, name: str, mime_type: str, expires_in: float | None = None
    ) -> str:
        """A presigned ``GetObject`` URL, valid ``expires_in`` seconds (`S3Settings.url_expires`).

        Its response carries ``Content-Type: mime_type`` and
        ``Content-Disposition: attachment`` with ``name``. Signing is local:
        no request is made, and a missing object shows when the URL is used.
        """
        target = self._object(key)
        await self._client()
        expires = self.settings.url_expires if expires_in is None else expires_in
        if not 0 < expires <= 7 * 24 * 3600:
            raise InvalidInputError(
                "a signed URL lives between 1 second and 7 days", field="expires_in"
            )
        try:
            url: str = await self._signer.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.settings.bucket,
                    "Key": target,
                    "ResponseContentType": mime_type,
                    "ResponseContentDisposition": _disposition(name),
                    "ResponseCacheControl": "private, no-store",
                },
                ExpiresIn=max(1, int(expires)),
            )
        except BotoCoreError as exc:
            raise self._error(exc, "signing a URL", key) from exc
        return url
