"""The simple-salesforce client shared by every part of `SalesforceIntegration`:
settings, session and login, how a failed call is classified, the REST calls
and the sObject Collections helpers.

The integration is assembled from parts, one module each, all built on
`_SalesforceClient`: contacts, cases and their owners (``_cases.py``),
case comments and transcripts (``_comments.py``), pull (``_pull.py``);
``integration.py`` holds the class itself, the push that runs the parts in
order, and deletes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar, cast
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator

from chatkit.errors import (
    IntegrationAuthError,
    IntegrationQuotaError,
    PermanentIntegrationError,
    RetryableIntegrationError,
)
from chatkit.integrations import Integration, IntegrationConfig, OutboundChange, PushResult

from ._vendor import (
    HTTPAdapter,
    Salesforce,
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceLogin,
    SalesforceRefusedRequest,
    SFType,
    requests,
)

logger = logging.getLogger("chatkit_integrations.salesforce.integration")

BATCH = 200
"""Records per sObject Collections call, Salesforce's limit."""


NAME = "salesforce"


_T = TypeVar("_T")


_RETRYABLE_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "REQUEST_LIMIT_EXCEEDED",
        "REQUEST_RUNNING_TOO_LONG",
        "QUERY_TIMEOUT",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    }
)


_GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


_DAILY_LIMIT = "TotalRequests"


class SalesforceConfig(IntegrationConfig):
    """Settings, from code, ``CHATKIT_SALESFORCE_*`` variables or a file.

    Give either ``session_id`` (an OAuth access token) or ``username``,
    ``password`` and ``security_token`` (SOAP login, renewed when the session
    expires).

    Attributes:
        instance_url: The org, e.g. ``https://acme.my.salesforce.com``. With a
            password login the instance the login answers is used instead.
        session_id: An access token of the API user.
        username: The API user's username, for the password login.
        password: Its password.
        security_token: Its security token.
        domain: The login domain: ``login``, ``test`` (sandboxes) or a My
            Domain such as ``acme.my``.
        login_url: A full base URL for the login instead of ``domain`` (an
            emulator, a scratch org).
        api_version: REST API version, e.g. ``59.0``.
        external_id_field: The External ID field on Contact and Case holding
            the chatkit id.
        api_user_id: The API user's id (``005...``), to recognise our own
            comments; read from ``/services/oauth2/userinfo`` when not set.
        case_origin: ``Origin`` of the cases chatkit creates (``None``: unset).
        ca_bundle: A CA file to trust instead of the system's (tests).
        verify: Whether to verify TLS certificates.
        timeout: Seconds to wait for one HTTP answer.
    """

    instance_url: str = Field(pattern=r"^https://[^/\s]+/?$")
    session_id: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    domain: str = Field(default="login", pattern=r"^[A-Za-z0-9.-]+$")
    login_url: str | None = Field(default=None, pattern=r"^https://[^/\s]+/?$")
    api_version: str = Field(default="59.0", pattern=r"^\d{2}\.\d$")
    external_id_field: str = Field(default="Chatkit_Id__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
    api_user_id: str | None = Field(default=None, pattern=r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
    case_origin: str | None = "Chat"
    ca_bundle: str | None = None
    verify: bool = True
    timeout: float = Field(default=30, gt=0, le=600)

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        password_login = (self.username, self.password, self.security_token)
        if self.session_id is None and any(v is None for v in password_login):
            raise ValueError("give session_id, or username, password and security_token together")
        return self

    @property
    def password_login(self) -> bool:
        """Whether it logs in with username, password and security token."""
        return self.username is not None and self.password is not None


@dataclass
class _Outcome:
    """Per-change results of one push, filled in as calls succeed."""

    results: dict[str, PushResult]
    wrote: bool = False


class _SalesforceClient(Integration):
    """The HTTP session, the login and the classification of failed calls."""

    config: SalesforceConfig

    def __init__(self, config: IntegrationConfig) -> None:
        super().__init__(config)
        self._client: Salesforce | None = None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._retry_after: float | None = None
        self._api_user_id: str | None = self.config.api_user_id
        self._owners: dict[str, tuple[str | None, float]] = {}

    def record_url(self, kind: str, remote_id: str) -> str | None:
        """The record in Lightning (``{instance_url}/{id}`` opens any object by its id)."""
        if kind not in ("contact", "conversation"):
            return None
        return f"{self.config.instance_url.rstrip('/')}/{quote(remote_id, safe='')}"

    async def open(self) -> None:
        """Create the HTTP session (and log in, for a password login). Idempotent."""
        await asyncio.to_thread(self._connect)

    async def close(self) -> None:
        """Close the HTTP session. Idempotent; never raises."""
        with self._lock:
            session, self._session, self._client = self._session, None, None
        if session is not None:
            try:
                session.close()
            except Exception:  # pragma: no cover - closing never fails the caller
                logger.debug("salesforce: closing the HTTP session failed", exc_info=True)

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        if self.config.ca_bundle is not None:
            session.verify = self.config.ca_bundle
            session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        else:
            session.verify = self.config.verify
        session.hooks["response"].append(self._remember_retry_after)
        adapter = _TimeoutAdapter(self.config.timeout)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        value = response.headers.get("Retry-After")
        try:
            self._retry_after = float(value) if value is not None else None
        except ValueError:
            self._retry_after = None

    def _connect(self, *, renew: bool = False) -> Salesforce:
        with self._lock:
            if self._client is not None and not renew:
                return self._client
            if self._session is None:
                self._session = self._new_session()
            config = self.config
            instance_url = config.instance_url.rstrip("/")
            if config.password_login:
                assert config.username is not None
                assert config.password is not None
                assert config.security_token is not None
                try:
                    token, instance = SalesforceLogin(
                        username=config.username,
                        password=config.password.get_secret_value(),
                        security_token=config.security_token.get_secret_value(),
                        sf_version=config.api_version,
                        session=self._session,
                        domain=config.domain,
                        scratch_url=config.login_url.rstrip("/") if config.login_url else None,
                    )
                except SalesforceAuthenticationFailed as exc:
                    raise IntegrationAuthError(
                        f"salesforce: login refused ({exc.code})", integration=NAME
                    ) from None
                except requests.RequestException as exc:
                    raise RetryableIntegrationError(
                        f"salesforce: login failed: {type(exc).__name__}", integration=NAME
                    ) from None
                instance_url = f"https://{instance}"
            else:
                assert config.session_id is not None
                token = config.session_id.get_secret_value()
            self._client = Salesforce(
                instance_url=instance_url,
                session_id=token,
                session=self._session,
                version=config.api_version,
            )
            return self._client

    def _call(self, action: Callable[[Salesforce], _T]) -> _T:
        """Run one API call, translating failures into chatkit's errors."""
        renewed = False
        while True:
            client = self._connect()
            self._retry_after = None
            try:
                return action(client)
            except SalesforceExpiredSession as exc:
                if self.config.password_login and not renewed:
                    renewed = True
                    self._connect(renew=True)
                    continue
                raise IntegrationAuthError(
                    f"salesforce: {_describe(exc)}", integration=NAME
                ) from None
            except SalesforceRefusedRequest as exc:
                code, message = _first_error(exc)
                if code == "REQUEST_LIMIT_EXCEEDED" and _DAILY_LIMIT in message:
                    raise IntegrationQuotaError(
                        f"salesforce: {message}",
                        integration=NAME,
                        retry_after=self._retry_after,
                    ) from None
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise RetryableIntegrationError(
                        f"salesforce: {message}",
                        integration=NAME,
                        status_code=403,
                        retry_after=self._retry_after,
                    ) from None
                raise IntegrationAuthError(
                    f"salesforce: request refused: {_describe(exc)}", integration=NAME
                ) from None
            except SalesforceError as exc:
                if exc.status == 429 or exc.status >= 500:
                    raise RetryableIntegrationError(
                        f"salesforce: {_describe(exc)}",
                        integration=NAME,
                        status_code=exc.status,
                        retry_after=self._retry_after,
                    ) from None
                raise PermanentIntegrationError(
                    f"salesforce: {_describe(exc)}", integration=NAME, status_code=exc.status
                ) from None
            except requests.RequestException as exc:
                raise RetryableIntegrationError(
                    f"salesforce: {type(exc).__name__} talking to Salesforce", integration=NAME
                ) from None

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(function, *args)

    def _api_user(self) -> str | None:
        if self._api_user_id is None:
            info = self._call(_oauth2_userinfo)
            if isinstance(info, dict) and info.get("user_id"):
                self._api_user_id = str(info["user_id"])
        return self._api_user_id

    def _collection(
        self, method: str, path: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        answer = self._call(_restful(path, method, json={"allOrNone": False, "records": records}))
        return list(answer or [])

    def _apply(
        self,
        batch: list[OutboundChange],
        answers: list[dict[str, Any]],
        outcome: _Outcome,
        remote_type: str,
    ) -> None:
        outcome.wrote = True
        for change, answer in zip(batch, answers, strict=False):
            if answer.get("success"):
                outcome.results[change.change_id] = PushResult.ok(
                    change, str(answer["id"]), remote_type=remote_type
                )
            else:
                outcome.results[change.change_id] = _refused(change, answer.get("errors") or [])

    @abstractmethod
    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write a batch (`SalesforceIntegration.push`, in ``integration.py``)."""


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout (simple-salesforce passes none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _limits(sf: Salesforce) -> Any:
    return sf.limits()


def _oauth2_userinfo(sf: Salesforce) -> Any:
    return sf.oauth2("userinfo")


def _restful(path: str, method: str, **kwargs: Any) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return sf.restful(path, method=method, **kwargs)

    return run


def _query_all(soql: str, *, include_deleted: bool = False) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return sf.query_all(soql, include_deleted=include_deleted)

    return run


def _create_version(record: dict[str, Any]) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        return cast(SFType, sf.ContentVersion).create(record)

    return run


def _version_document(version_id: str) -> Callable[[Salesforce], Any]:
    def run(sf: Salesforce) -> Any:
        versions = cast(SFType, sf.ContentVersion)
        return versions.get(version_id, params={"fields": "ContentDocumentId"})

    return run


def _chunks(items: list[_T], size: int = BATCH) -> list[list[_T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _first_error(exc: SalesforceError) -> tuple[str, str]:
    content: Any = exc.content  # simple-salesforce stores the decoded JSON here
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or ""), str(first.get("message") or "")
    return "", str(content)[:200]


def _describe(exc: SalesforceError) -> str:
    code, message = _first_error(exc)
    return f"{exc.status} {code}: {message}" if code else f"{exc.status}: {message}"


def _refused(change: OutboundChange, errors: list[dict[str, Any]]) -> PushResult:
    """The result of a record Salesforce refused inside a collection."""
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "refused"
    codes = {str(e.get("statusCode")) for e in errors}
    if codes & _RETRYABLE_CODES:
        return PushResult.retryable(change, text)
    return PushResult.permanent(change, text)
