"""Google Analytics 4: chat milestones as Measurement Protocol events, over httpx.

Outbound only. The sync engine hands over chat milestones
(`SyncObject.EVENT`); this integration turns each into a GA4 event on the
visitor's analytics ``client_id`` (and ``user_id`` for a signed-in
visitor), groups them by visitor into requests of at most 25 events, and
POSTs them to ``/mp/collect``.

GA4 has no idempotency: a request sent twice counts twice. The engine sends
these events at most once (`ObjectSync.at_most_once`), and this
integration never raises after a request may have reached GA4: each group's
outcome is reported per event, so a failure of one request never sends
another again.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import Field, JsonValue, SecretStr, field_validator

from chatkit.errors import PermanentIntegrationError, RetryableIntegrationError
from chatkit.integrations import (
    Capabilities,
    HealthState,
    HealthStatus,
    Integration,
    IntegrationConfig,
    ObjectSync,
    OutboundChange,
    PushResult,
    SyncObject,
)

from ._limits import (
    MAX_EVENTS,
    MAX_PARAM_VALUE,
    MAX_PARAMS,
    RESERVED_EVENT_NAMES,
    name_problem,
    validate_body,
)

__all__ = [
    "DEFAULT_EVENT_NAMES",
    "GA4Config",
    "GA4Integration",
    "GA4Stats",
    "GA4ValidationError",
    "ValidationMessage",
]

DEFAULT_EVENT_NAMES: dict[str, str] = {
    "chat_started": "chat_started",
    "first_reply": "chat_first_reply",
    "handover": "chat_handover",
    "resolved": "chat_resolved",
    "rated": "chat_rated",
}
"""The GA4 event name of each chat milestone."""

_MEASUREMENT_ID = re.compile(r"^G-[A-Z0-9]{4,20}$")
_MAX_AGE = timedelta(hours=72)


@dataclass(frozen=True)
class ValidationMessage:
    """One message of GA4's validation server (``/debug/mp/collect``).

    Attributes:
        field_path: Where in the request (``fieldPath``), e.g. ``events``.
        description: What is wrong.
        validation_code: ``VALUE_INVALID``, ``VALUE_REQUIRED``,
            ``NAME_INVALID``, ``NAME_RESERVED``, ``VALUE_OUT_OF_BOUNDS``,
            ``EXCEEDED_MAX_ENTITIES`` or ``NAME_DUPLICATED``.
    """

    field_path: str
    description: str
    validation_code: str

    def __str__(self) -> str:
        return f"{self.validation_code} at {self.field_path or '(body)'}: {self.description}"


class GA4ValidationError(PermanentIntegrationError):
    """GA4's validation server refused a request: what was wrong, message by message.

    Attributes:
        messages: The validation messages, as GA4 gave them.
    """

    def __init__(self, messages: Sequence[ValidationMessage], *, integration: str = "ga4") -> None:
        shown = "; ".join(str(m) for m in messages[:5])
        more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
        super().__init__(f"GA4 refused the request: {shown}{more}", integration=integration)
        self.messages = tuple(messages)


class GA4Config(IntegrationConfig):
    """Settings of the GA4 integration (environment: ``CHATKIT_GA4_*``).

    Attributes:
        measurement_id: The web stream's measurement id, ``G-XXXXXXXXXX``
            (GA Admin → Data streams → your stream).
        api_secret: A Measurement Protocol API secret of that stream (GA
            Admin → Data streams → your stream → Measurement Protocol API
            secrets → Create).
        base_url: Where the Measurement Protocol is served (an emulator in
            tests; ``https://region1.google-analytics.com`` to collect in
            the EU).
        validate_first: Send each request to the validation server
            (``/debug/mp/collect``) first, and send only what it accepts (one
            more call per request; for setting up, not for production).
        event_names: GA4 event names to use instead of `DEFAULT_EVENT_NAMES`,
            by milestone.
        timeout: Seconds for one request.
        retries: Further tries of one request after a 429, a 5xx or a
            refused connection (GA4 did not take it), within one push.
        max_retry_wait: The longest ``Retry-After`` waited for within a push;
            longer, and the events go back to the queue.
        resend_unconfirmed: After a timeout or a broken connection once the
            request was sent, GA4 may or may not have the events. ``False``
            (the default): they are not sent again, but dead-lettered as
            "outcome unknown" (at most once). ``True``: sent again (at least
            once: possibly counted twice).
    """

    measurement_id: str
    api_secret: SecretStr
    base_url: str = "https://www.google-analytics.com"
    validate_first: bool = False
    event_names: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    max_retry_wait: float = Field(default=10.0, ge=0, le=300)
    resend_unconfirmed: bool = False

    @field_validator("measurement_id")
    @classmethod
    def _measurement_id(cls, value: str) -> str:
        if not _MEASUREMENT_ID.match(value):
            raise ValueError("a GA4 measurement id looks like G-XXXXXXXXXX")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("event_names")
    @classmethod
    def _event_names(cls, value: dict[str, str]) -> dict[str, str]:
        for milestone, name in value.items():
            if milestone not in DEFAULT_EVENT_NAMES:
                raise ValueError(f"unknown milestone {milestone!r}")
            problem = name_problem(name)
            if problem is None and name in RESERVED_EVENT_NAMES:
                problem = "NAME_RESERVED"
            if problem is not None:
                raise ValueError(
                    f"{milestone}: not a GA4 event name ({problem}): up to 40 letters, digits "
                    "and underscores, a letter first, no reserved name or prefix"
                )
        return value


@dataclass
class GA4Stats:
    """What this instance did, for monitoring and tests.

    Attributes:
        requests: POSTs to ``/mp/collect`` answered 2xx.
        events_sent: Events in those requests.
        validations: POSTs to ``/debug/mp/collect``.
        no_consent: Events not sent: the visitor did not consent.
        no_client_id: Events not sent: no analytics client id for the visitor.
        too_old: Events not sent: older than GA4's 72 hours.
        unconfirmed: Events whose request timed out after it was sent.
    """

    requests: int = 0
    events_sent: int = 0
    validations: int = 0
    no_consent: int = 0
    no_client_id: int = 0
    too_old: int = 0
    unconfirmed: int = 0


def _consent_value(value: JsonValue) -> str:
    return "GRANTED" if value is True else "DENIED"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Group:
    """Events of one visitor (one client id, user id and consent): one request per 25."""

    def __init__(self, head: dict[str, Any]) -> None:
        self.head = head
        self.items: list[tuple[OutboundChange, dict[str, Any]]] = []


class GA4Integration(Integration):
    """Sends chat milestones to Google Analytics 4 with the Measurement Protocol.

    Example:
        ```python
        ga4 = GA4Integration(GA4Config.from_env("ga4"))   # CHATKIT_GA4_MEASUREMENT_ID, ...
        async with kit.sync.engine(ga4) as engine:
            await engine.run_once()
        ```
    """

    name = "ga4"
    config_class = GA4Config
    capabilities = Capabilities(
        objects=(ObjectSync.outbound_only(SyncObject.EVENT, "event", 2500, at_most_once=True),),
    )

    config: GA4Config

    def __init__(
        self, config: GA4Config, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(config)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.stats = GA4Stats()
        self.names = {**DEFAULT_EVENT_NAMES, **config.event_names}

    async def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                transport=self._transport,
                headers={"Content-Type": "application/json"},
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("open the integration first (async with ...)")
        return self._client

    def _query(self) -> dict[str, str]:
        return {
            "measurement_id": self.config.measurement_id,
            "api_secret": self.config.api_secret.get_secret_value(),
        }

    # -- validation --------------------------------------------------------------

    async def validate(self, body: dict[str, Any]) -> list[ValidationMessage]:
        """Send ``body`` to GA4's validation server; its messages (none: valid).

        Raises:
            RetryableIntegrationError: GA4 could not be reached or answered 5xx.
        """
        self.stats.validations += 1
        try:
            response = await self._http().post(
                "/debug/mp/collect", params=self._query(), content=json.dumps(body)
            )
        except httpx.HTTPError as exc:
            raise RetryableIntegrationError(
                f"GA4 validation server unreachable: {type(exc).__name__}", integration=self.name
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableIntegrationError(
                f"GA4 validation server answered {response.status_code}",
                integration=self.name,
                status_code=response.status_code,
                retry_after=_retry_after(response),
            )
        try:
            found = response.json().get("validationMessages") or []
        except (ValueError, AttributeError):
            found = []
        return [
            ValidationMessage(
                field_path=str(item.get("fieldPath", "")),
                description=str(item.get("description", "")),
                validation_code=str(item.get("validationCode", "")),
            )
            for item in found
            if isinstance(item, dict)
        ]

    async def check_payload(self, body: dict[str, Any]) -> None:
        """Validate ``body`` with GA4's validation server.

        Raises:
            GA4ValidationError: GA4 found problems; ``messages`` lists them.
        """
        messages = await self.validate(body)
        if messages:
            raise GA4ValidationError(messages, integration=self.name)

    def sample(self) -> dict[str, Any]:
        """A request with one of each event this integration sends (for checks)."""
        events = [
            {"name": name, "params": {"conversation_id": "conv_check", "channel": "web"}}
            for name in self.names.values()
        ]
        return {"client_id": "1234567890.1700000000", "events": events}

    async def check(self) -> HealthStatus:
        """Validate a sample of every event name with GA4's validation server.

        GA4 accepts any API secret on ``/mp/collect`` and never says whether
        it was right; this checks that GA4 is reachable and that the event
        names and parameters pass its validation.
        """
        try:
            messages = await self.validate(self.sample())
        except PermanentIntegrationError as exc:
            return HealthStatus(state=HealthState.DEGRADED, detail=str(exc))
        except RetryableIntegrationError as exc:
            return HealthStatus(state=HealthState.UNREACHABLE, detail=str(exc))
        if messages:
            return HealthStatus(
                state=HealthState.DEGRADED,
                detail="; ".join(str(m) for m in messages[:5]),
            )
        return HealthStatus(
            state=HealthState.OK,
            detail=f"GA4 validation server accepts the {len(self.names)} chat events",
        )

    # -- mapping -----------------------------------------------------------------

    def event_of(self, change: OutboundChange) -> dict[str, Any]:
        """The GA4 event for one milestone: its name, parameters and timestamp."""
        data = change.data
        milestone = str(data.get("event") or "")
        params: dict[str, Any] = {}
        conversation = data.get("conversation_id")
        if isinstance(conversation, str):
            params["conversation_id"] = conversation[:MAX_PARAM_VALUE]
        raw = data.get("params")
        for key, value in raw.items() if isinstance(raw, dict) else ():
            if len(params) >= MAX_PARAMS or name_problem(key) is not None:
                continue
            if isinstance(value, str):
                params[key] = value[:MAX_PARAM_VALUE]
            elif isinstance(value, bool):
                params[key] = int(value)
            elif isinstance(value, int | float):
                params[key] = value
        event: dict[str, Any] = {"name": self.names[milestone], "params": params}
        event["timestamp_micros"] = _micros(self._when(change))
        return event

    @staticmethod
    def _when(change: OutboundChange) -> datetime:
        raw = change.data.get("occurred_at")
        if isinstance(raw, str):
            try:
                moment = datetime.fromisoformat(raw)
                if moment.tzinfo is not None:
                    return moment
            except ValueError:
                pass
        return change.occurred_at

    def _plan(
        self, changes: Sequence[OutboundChange], now: datetime, *, count: bool = True
    ) -> tuple[list[_Group], list[PushResult]]:
        """Group what may be sent by visitor; skip what may not (counted in `stats`)."""
        stats = self.stats if count else GA4Stats()
        done: list[PushResult] = []
        groups: dict[str, _Group] = {}
        for change in changes:
            visitor = change.data.get("visitor")
            visitor = visitor if isinstance(visitor, dict) else {}
            consent = visitor.get("consent")
            consent = consent if isinstance(consent, dict) else {}
            milestone = change.data.get("event")
            if change.object is not SyncObject.EVENT or milestone not in self.names:
                done.append(PushResult.permanent(change, f"not a chat milestone: {milestone!r}"))
                continue
            if (
                visitor.get("consent_required", True) is not False
                and consent.get("analytics") is not True
            ):
                stats.no_consent += 1
                done.append(PushResult.skipped(change, "no analytics consent from the visitor"))
                continue
            client_id = visitor.get("client_id")
            if not isinstance(client_id, str) or not client_id:
                stats.no_client_id += 1
                done.append(PushResult.skipped(change, "no analytics client id for the visitor"))
                continue
            if now - self._when(change) > _MAX_AGE:
                stats.too_old += 1
                done.append(
                    PushResult.skipped(change, "older than 72 hours: GA4 no longer takes it")
                )
                continue
            head: dict[str, Any] = {"client_id": client_id}
            user_id = visitor.get("user_id")
            if isinstance(user_id, str) and user_id:
                head["user_id"] = user_id[:256]
            head["consent"] = {
                "ad_user_data": _consent_value(consent.get("ad_user_data")),
                "ad_personalization": _consent_value(consent.get("ad_personalization")),
            }
            key = json.dumps(head, sort_keys=True)
            groups.setdefault(key, _Group(head)).items.append((change, self.event_of(change)))
        for group in groups.values():  # a visitor's events in the order they happened
            group.items.sort(key=lambda item: (item[1]["timestamp_micros"], item[0].change_id))
        return list(groups.values()), done

    # -- sending -----------------------------------------------------------------

    def split_calls(self, changes: Sequence[OutboundChange]) -> list[list[OutboundChange]]:
        """One part per request this push would make (a visitor's events, 25 at a time),
        and one for what is not sent (no consent, no client id, too old: no request)."""
        groups, done = self._plan(changes, datetime.now(UTC), count=False)
        by_id = {change.change_id: change for change in changes}
        parts = [[by_id[result.change_id] for result in done]] if done else []
        for group in groups:
            for start in range(0, len(group.items), MAX_EVENTS):
                parts.append([change for change, _ in group.items[start : start + MAX_EVENTS]])
        return parts

    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Send the milestones, grouped by visitor, 25 events a request.

        Never raises once a request may have reached GA4: each event's
        outcome is in its result (OK; retryable after a 429, a 5xx or a
        refused connection; skipped without consent, client id, or when older
        than 72 hours; permanent after a timeout once sent, unless
        ``resend_unconfirmed``, or when the validation server refused it).
        """
        groups, results = self._plan(changes, datetime.now(UTC))
        for group in groups:
            for start in range(0, len(group.items), MAX_EVENTS):
                chunk = group.items[start : start + MAX_EVENTS]
                body = {**group.head, "events": [event for _, event in chunk]}
                results += await self._send(body, [change for change, _ in chunk])
        return results

    async def _send(self, body: dict[str, Any], changes: list[OutboundChange]) -> list[PushResult]:
        local = validate_body(body)
        if local:
            error = GA4ValidationError(
                [
                    ValidationMessage(m["fieldPath"], m["description"], m["validationCode"])
                    for m in local
                ]
            )
            return [PushResult.permanent(change, str(error)) for change in changes]
        if self.config.validate_first:
            try:
                messages = await self.validate(body)
            except RetryableIntegrationError as exc:  # nothing was sent: try again later
                return [PushResult.retryable(change, str(exc)) for change in changes]
            if messages:
                error = GA4ValidationError(messages, integration=self.name)
                return [PushResult.permanent(change, str(error)) for change in changes]
        content = json.dumps(body, separators=(",", ":"))
        error_text = "GA4 did not answer"
        wait: float | None = None
        for attempt in range(self.config.retries + 1):
            if attempt and wait:
                await asyncio.sleep(wait)
            try:
                response = await self._http().post(
                    "/mp/collect", params=self._query(), content=content
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error_text, wait = f"GA4 unreachable: {type(exc).__name__}", 0.05 * 2**attempt
                continue  # the request never left: safe to send again
            except httpx.HTTPError as exc:
                self.stats.unconfirmed += len(changes)
                problem = (
                    f"GA4 may have these events: {type(exc).__name__} after the request was sent"
                )
                if self.config.resend_unconfirmed:
                    return [PushResult.retryable(change, problem) for change in changes]
                return [
                    PushResult.permanent(change, f"outcome unknown: {problem}; not sent again")
                    for change in changes
                ]
            if 200 <= response.status_code < 300:
                self.stats.requests += 1
                self.stats.events_sent += len(changes)
                return [PushResult.ok(change, None, remote_type="event") for change in changes]
            if response.status_code == 429 or response.status_code >= 500:
                wait = _retry_after(response)
                error_text = f"GA4 answered {response.status_code}"
                if wait is not None and wait > self.config.max_retry_wait:
                    return [
                        PushResult.retryable(change, error_text, retry_after=wait)
                        for change in changes
                    ]
                wait = wait if wait is not None else 0.05 * 2**attempt
                continue
            return [
                PushResult.permanent(
                    change, f"GA4 refused the request: HTTP {response.status_code}"
                )
                for change in changes
            ]
        return [PushResult.retryable(change, error_text, retry_after=wait) for change in changes]
