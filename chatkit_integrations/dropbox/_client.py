"""The Dropbox archive's settings, the SDK client, and what its errors mean to the sync engine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Self, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator

from chatkit._optional import missing
from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import IntegrationConfig

from ._paths import DEFAULT_TEMPLATE, check_template

try:
    import dropbox  # type: ignore[import-untyped]
    import requests
    from dropbox import exceptions as dbx_errors
    from dropbox import files as dbx_files
except ImportError as exc:
    raise missing("dropbox", "the Dropbox archive", exc) from exc

__all__ = [
    "NAME",
    "DropboxConfig",
    "DropboxSpaceError",
    "dbx_errors",
    "dbx_files",
    "guarded",
    "new_client",
]

NAME = "dropbox"
logger = logging.getLogger("chatkit_integrations.dropbox")
_T = TypeVar("_T")

EXTENSIONS = {"json": "json", "html": "html", "text": "txt"}
"""Transcript format → file extension."""


class DropboxSpaceError(IntegrationQuotaError):
    """The Dropbox is full (``insufficient_space``): nothing of the batch is counted as
    archived, the conversations are untouched, and sync parks until space is freed
    (checked again after ``DropboxConfig.full_retry_seconds``)."""


class DropboxConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_DROPBOX_*`` variables or a file.

    Give ``refresh_token`` with ``app_key`` (and ``app_secret`` unless the app
    uses PKCE): the SDK gets short-lived access tokens from it as needed. A
    long-lived ``access_token`` also works, for old apps.

    Attributes:
        app_key: The app's key (App Console → Settings).
        app_secret: The app's secret.
        refresh_token: The refresh token of the account the archive writes to.
        access_token: An access token instead of a refresh token.
        path_template: Where a conversation's archive goes, e.g.
            ``/chatkit/{year}/{month}/{team}/{conversation_id}.{ext}``;
            placeholders ``year``, ``month``, ``day`` (when the conversation
            started), ``team``, ``conversation_id``, ``contact_id`` and a final
            ``.{ext}`` (added when missing). Values are made safe for paths.
        formats: The transcript files written: ``json``, ``html``, ``text``.
        attachments: Archive the conversation's attachments too, in the
            folder ``<path>.attachments``.
        max_attachment_bytes: Attachments larger than this are listed in the
            JSON transcript but not copied.
        chunk_bytes: Files larger than this are uploaded in pieces of this size.
        parallel_uploads: Files sent at once (Dropbox recommends parallel
            uploads; the commit is one call per 1,000 files either way).
        mute: Do not notify the account's devices of new files.
        full_retry_seconds: While the Dropbox is full, how long sync parks
            before it tries again.
        ca_bundle: A CA file to trust instead of the system's (tests).
        timeout: Seconds to wait for one HTTP answer.
    """

    app_key: str | None = None
    app_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    access_token: SecretStr | None = None
    path_template: str = DEFAULT_TEMPLATE
    formats: tuple[Literal["json", "html", "text"], ...] = Field(
        default=("json", "html"), min_length=1
    )
    attachments: bool = False
    max_attachment_bytes: int = Field(default=50 * 1024**2, ge=0)
    chunk_bytes: int = Field(default=8 * 1024**2, ge=1, le=150 * 1024**2)
    parallel_uploads: int = Field(default=4, ge=1, le=32)
    mute: bool = True
    full_retry_seconds: float = Field(default=3600, gt=0)
    ca_bundle: str | None = None
    timeout: float = Field(default=100, gt=0, le=900)

    @field_validator("path_template")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a format is listed twice")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if self.refresh_token is None and self.access_token is None:
            raise ValueError("give refresh_token (with app_key) or access_token")
        if self.refresh_token is not None and not self.app_key:
            raise ValueError("refresh_token needs app_key")
        return self

    @property
    def extensions(self) -> list[str]:
        """The file extensions written, in ``formats`` order."""
        return [EXTENSIONS[f] for f in self.formats]


def new_client(config: DropboxConfig) -> tuple[Any, requests.Session]:
    """A ``dropbox.Dropbox`` that never retries by itself (the engine does), and its session."""
    session = dropbox.create_session(ca_certs=config.ca_bundle)
    if config.ca_bundle is not None:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the given CA
    options: dict[str, Any] = {
        "session": session,
        "timeout": config.timeout,
        "max_retries_on_error": 0,
        "max_retries_on_rate_limit": 0,
        "user_agent": "chatkit-dropbox-archive",
    }
    if config.refresh_token is not None:
        options["oauth2_refresh_token"] = config.refresh_token.get_secret_value()
        options["app_key"] = config.app_key
        if config.app_secret is not None:
            options["app_secret"] = config.app_secret.get_secret_value()
    else:
        assert config.access_token is not None
        options["oauth2_access_token"] = config.access_token.get_secret_value()
    return dropbox.Dropbox(**options), session


def guarded(call: Callable[[], _T]) -> _T:
    """Run one SDK call, turning its transport and auth failures into chatkit's errors.

    Route errors (``ApiError``, HTTP 409) pass through for the caller to read.

    Raises:
        IntegrationAuthError: Dropbox refused the token, or the refresh token.
        RetryableIntegrationError: 429 (with Dropbox's ``retry_after``), 5xx,
            timeouts and lost connections.
        PermanentIntegrationError: Dropbox refused the request itself (400).
    """
    try:
        return call()
    except dbx_errors.AuthError as exc:
        raise IntegrationAuthError(_auth_message(exc), integration=NAME) from None
    except dbx_errors.RateLimitError as exc:
        raise RetryableIntegrationError(
            "Dropbox is rate limiting the app (429)",
            integration=NAME,
            status_code=429,
            retry_after=float(exc.backoff) if exc.backoff is not None else None,
        ) from None
    except dbx_errors.InternalServerError as exc:
        raise RetryableIntegrationError(
            f"Dropbox answered {exc.status_code}", integration=NAME, status_code=exc.status_code
        ) from None
    except dbx_errors.BadInputError as exc:
        text = str(exc.message)
        if "invalid_client" in text or "invalid_grant" in text:
            raise IntegrationAuthError(
                "Dropbox refused the app key or secret: check CHATKIT_DROPBOX_APP_KEY and "
                "CHATKIT_DROPBOX_APP_SECRET",
                integration=NAME,
            ) from None
        raise PermanentIntegrationError(
            f"Dropbox refused the request: {text[:300]}", integration=NAME, status_code=400
        ) from None
    except dbx_errors.HttpError as exc:
        status = int(exc.status_code)
        if status >= 500 or status in (408, 425):
            raise RetryableIntegrationError(
                f"Dropbox answered {status}", integration=NAME, status_code=status
            ) from None
        raise PermanentIntegrationError(
            f"Dropbox answered {status}", integration=NAME, status_code=status
        ) from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetryableIntegrationError(
            f"Dropbox could not be reached: {type(exc).__name__}", integration=NAME
        ) from None


def _auth_message(exc: Any) -> str:
    error = exc.error
    tag = "unknown"
    if error is not None and hasattr(error, "_tag"):
        tag = str(error._tag)
    if tag == "expired_access_token":
        why = "the access token expired and could not be renewed"
    elif tag == "invalid_access_token":
        why = "the token was revoked or the app unlinked"
    elif tag == "missing_scope":
        why = "the app lacks a scope (it needs files.content.write and files.content.read)"
    else:
        why = f"Dropbox said {tag}"
    return (
        f"Dropbox refused the app's credentials ({why}): connect the app again and set a new "
        "refresh token (CHATKIT_DROPBOX_REFRESH_TOKEN)"
    )


def describe(error: Any) -> str:
    """A short path of tags for a Dropbox union value, e.g. ``path/conflict/file``."""
    tags: list[str] = []
    node = error
    while node is not None and hasattr(node, "_tag") and len(tags) < 6:
        tags.append(str(node._tag))
        node = getattr(node, "_value", None)
        if node is not None and hasattr(node, "reason") and not hasattr(node, "_tag"):
            node = node.reason
    return "/".join(tags) or type(error).__name__


def wrap_unexpected(exc: Exception) -> IntegrationError:
    """Any other SDK failure, as a retryable error naming its type (never its arguments)."""
    return RetryableIntegrationError(f"Dropbox call failed: {type(exc).__name__}", integration=NAME)
