"""Zoho CRM part: settings, data centres, OAuth tokens and the HTTP client (httpx).

Tokens: Zoho access tokens last an hour and come from
``POST {accounts}/oauth/v2/token`` with ``grant_type=refresh_token``. The
client refreshes a token a minute before it expires and when a call answers
401 ``INVALID_TOKEN``. Refreshing is compare-and-set: under a lock, a worker
first looks whether another one has stored a newer token than the one it was
refused with, and refreshes only if not. The lock and the shared token are
per process (an ``asyncio.Lock`` per refresh token), and across processes
when ``token_cache`` names a file (an ``fcntl`` lock beside it, the token
written atomically), so several workers of one connection never race each
other into Zoho's refresh limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import IntegrationConfig

__all__ = ["DATA_CENTRES", "ZohoCRMConfig", "ZohoHTTPError", "api_domain_for"]

logger = logging.getLogger("chatkit.integrations.zoho_crm")

NAME = "zoho_crm"
BATCH = 100
"""Records per insert / upsert / delete call."""
PAGE = 200
"""Records per list page."""
REFRESH_MARGIN = 60.0
"""Seconds before expiry at which a token is refreshed."""

DATA_CENTRES = {
    "accounts.zoho.com": "https://www.zohoapis.com",
    "accounts.zoho.eu": "https://www.zohoapis.eu",
    "accounts.zoho.in": "https://www.zohoapis.in",
    "accounts.zoho.com.au": "https://www.zohoapis.com.au",
    "accounts.zoho.jp": "https://www.zohoapis.jp",
    "accounts.zoho.com.cn": "https://www.zohoapis.com.cn",
    "accounts.zohocloud.ca": "https://www.zohoapis.ca",
    "accounts.zoho.sa": "https://www.zohoapis.sa",
}
"""Zoho's data centres: the accounts server of a connection and its API domain."""


def api_domain_for(accounts_url: str) -> str | None:
    """The API domain of the data centre whose accounts server is ``accounts_url``."""
    return DATA_CENTRES.get(urlsplit(accounts_url).hostname or "")


class ZohoCRMConfig(IntegrationConfig):
    """Settings of a Zoho CRM connection (environment prefix ``CHATKIT_ZOHO_CRM_``).

    Attributes:
        client_id: The OAuth client (API console: self client or server-based).
        client_secret: Its secret.
        refresh_token: A refresh token granted with the scopes
            ``ZohoCRM.modules.ALL`` and ``ZohoCRM.notifications.ALL``.
        accounts_url: The accounts server of the org's data centre
            (``https://accounts.zoho.eu`` for the EU, ...).
        api_domain: The API domain; by default the data centre's
            (``https://www.zohoapis.eu``), else the token answer's ``api_domain``.
        api_version: The REST API version in paths.
        id_field: API name of the unique custom field holding the chatkit id on
            Contacts and Cases (``Do not allow duplicate values`` set).
        notify_url: Where Zoho posts notifications (``None``: no channel).
        channel_id: The notification channel's id (a number).
        channel_token: The secret Zoho sends back in each notification (≤ 50 chars).
        token_cache: A file where workers of this connection share the access token.
        timeout: Seconds per HTTP call.
    """

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr
    accounts_url: str = "https://accounts.zoho.com"
    api_domain: str | None = None
    api_version: str = "v7"
    id_field: str = Field(default="Chatkit_Id", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    notify_url: str | None = None
    channel_id: str = Field(default="1000000068001", pattern=r"^[0-9]{1,19}$")
    channel_token: SecretStr | None = None
    token_cache: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("accounts_url", "api_domain", "notify_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("channel_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value()) <= 50:
            raise ValueError("must be 1 to 50 characters (Zoho's limit)")
        return value


class ZohoHTTPError(Exception):
    """A Zoho answer that failed the whole call."""

    def __init__(self, status: int, body: Any, headers: httpx.Headers | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.code = str(self.body.get("code", "")) if self.body else ""
        self.headers = headers or httpx.Headers()
        message = self.body.get("message") if self.body else None
        details = self.body.get("details") if self.body else None
        where = details.get("api_name") if isinstance(details, dict) else None
        text = f"HTTP {status} {self.code}: {message or 'no message'}" + (
            f" ({where})" if where else ""
        )
        super().__init__(text)


@dataclass
class _Token:
    value: str
    expires_at: float  # epoch seconds
    api_domain: str | None


_Slot = tuple[asyncio.Lock, list[_Token | None]]
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Slot]] = (
    weakref.WeakKeyDictionary()
)
"""Per event loop (an ``asyncio.Lock`` belongs to one), per connection: the lock and the token."""


AUTH_CODES = ("INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH")
"""Whole-call error codes that mean the credentials were refused."""


def classify(error: ZohoHTTPError | httpx.TransportError) -> IntegrationError:
    """The chatkit error for a failed call."""
    if isinstance(error, httpx.TransportError):
        return RetryableIntegrationError(
            f"zoho_crm unreachable: {type(error).__name__}", integration=NAME
        )
    # INVALID_TOKEN, AUTHENTICATION_FAILURE and OAUTH_SCOPE_MISMATCH: codes of the official
    # SDK's APIException (zoho/zohocrm-python-sdk-8.0, versions/6.0.0/.../json_details.json).
    if error.status in (401, 403) or error.code in AUTH_CODES:
        return IntegrationAuthError(f"zoho_crm refused the credentials: {error}", integration=NAME)
    if error.status == 429 or error.status >= 500:
        return RetryableIntegrationError(
            f"zoho_crm: {error}", integration=NAME, retry_after=retry_after(error.headers)
        )
    return PermanentIntegrationError(
        f"zoho_crm: {error}", integration=NAME, status_code=error.status
    )


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait: ``Retry-After``, else ``X-RATELIMIT-RESET`` (epoch millis)."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) / 1000 - time.time())
    return None


class ZohoAPI:
    """Zoho CRM REST calls over one ``httpx.AsyncClient``, with token handling."""

    def __init__(self, config: ZohoCRMConfig) -> None:
        self.config = config
        self._http: httpx.AsyncClient | None = None
        secret = config.refresh_token.get_secret_value()
        self._key = hashlib.sha256(
            f"{config.accounts_url}|{config.client_id}|{secret}".encode()
        ).hexdigest()

    async def open(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.config.timeout, trust_env=False)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("zoho_crm is not open")
        return self._http

    # -- tokens --------------------------------------------------------------------

    def _slot(self) -> _Slot:
        slots = _SLOTS.setdefault(asyncio.get_running_loop(), {})
        if self._key not in slots:
            slots[self._key] = (asyncio.Lock(), [None])
        return slots[self._key]

    async def token(self, *, refused: str | None = None) -> _Token:
        """A valid access token; a fresh one when ``refused`` was just refused."""
        lock, slot = self._slot()
        current = slot[0]
        if _usable(current, refused):
            assert current is not None
            return current
        async with lock:
            current = slot[0]
            if _usable(current, refused):
                assert current is not None
                return current
            if self.config.token_cache:
                token = await asyncio.to_thread(self._file_refresh, refused)
            else:
                token = await self._refresh_now()
            slot[0] = token
            return token

    def _file_refresh(self, refused: str | None) -> _Token:
        import fcntl

        path = Path(str(self.config.token_cache))
        with open(f"{path}.lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                cached = _read_cache(path, self._key)
                if _usable(cached, refused):
                    assert cached is not None
                    return cached
                token: _Token = _run_sync(self._refresh_now())
                tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
                tmp.write_text(
                    json.dumps(
                        {
                            "key": self._key,
                            "access_token": token.value,
                            "expires_at": token.expires_at,
                            "api_domain": token.api_domain,
                        }
                    )
                )
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
                return token
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    async def _refresh_now(self) -> _Token:
        data = {
            "grant_type": "refresh_token",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value(),
            "refresh_token": self.config.refresh_token.get_secret_value(),
        }
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout, trust_env=False) as client:
                answer = await client.post(f"{self.config.accounts_url}/oauth/v2/token", data=data)
        except httpx.TransportError as exc:
            raise classify(exc) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise classify(ZohoHTTPError(answer.status_code, {}, answer.headers))
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or "access_token" not in body:
            reason = (
                body.get("error", f"HTTP {answer.status_code}") if isinstance(body, dict) else "?"
            )
            raise IntegrationAuthError(
                f"zoho_crm: the refresh token was refused ({reason})", integration=NAME
            )
        logger.debug("zoho_crm: access token refreshed")
        return _Token(
            value=str(body["access_token"]),
            expires_at=time.time() + float(body.get("expires_in", 3600)),
            api_domain=body.get("api_domain"),
        )

    def _base(self, token: _Token) -> str:
        domain = (
            self.config.api_domain or api_domain_for(self.config.accounts_url) or token.api_domain
        )
        if not domain:
            raise IntegrationAuthError("zoho_crm: no API domain known", integration=NAME)
        return f"{domain.rstrip('/')}/crm/{self.config.api_version}"

    # -- calls ---------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One API call; retried once with a fresh token on 401 ``INVALID_TOKEN``.

        Returns the status and the JSON body (``None`` for 204). Raises
        `ZohoHTTPError` for a failed whole call (401 after a refresh, 429,
        4xx without per-record ``data``, 5xx) and ``httpx.TransportError``.
        """
        token = await self.token()
        for attempt in (1, 2):
            answer = await self.http.request(
                method,
                self._base(token) + path,
                params=params,
                json=body,
                headers={"Authorization": f"Zoho-oauthtoken {token.value}", **(headers or {})},
            )
            if answer.status_code == 204:
                return 204, None
            try:
                payload = answer.json()
            except ValueError:
                payload = {}
            if answer.status_code == 401 and attempt == 1:
                token = await self.token(refused=token.value)
                continue
            per_record = isinstance(payload, dict) and isinstance(payload.get("data"), list)
            if answer.status_code in (200, 201, 202, 207) or (
                answer.status_code == 400 and per_record
            ):
                return answer.status_code, payload
            raise ZohoHTTPError(answer.status_code, payload, answer.headers)
        raise AssertionError("unreachable")


def _usable(token: _Token | None, refused: str | None) -> bool:
    return (
        token is not None
        and token.value != refused
        and token.expires_at - REFRESH_MARGIN > time.time()
    )


def _read_cache(path: Path, key: str) -> _Token | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return _Token(str(data["access_token"]), float(data["expires_at"]), data.get("api_domain"))


def _run_sync(coroutine: Any) -> Any:
    """Run a coroutine to completion in this (worker) thread."""
    return asyncio.run(coroutine)
