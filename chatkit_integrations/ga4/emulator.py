"""An emulator of the GA4 Measurement Protocol (``chatkit emulate ga4``).

Served by Starlette, like GA4:

- ``POST /mp/collect?measurement_id=…&api_secret=…`` answers **204 even
  for a bad payload** (GA4 returns no HTTP errors for malformed events); the
  emulator records every request with the problems GA4's validation server
  would have found, and keeps the events of valid requests (with a known
  measurement id and API secret) as *received*;
- ``POST /debug/mp/collect`` answers 200 with ``{"validationMessages":
  [...]}`` (``fieldPath``, ``description``, ``validationCode``) and keeps
  nothing; like GA4's, it does not check the API secret;
- failures on demand: `fail_next` (429 with ``Retry-After``, 5xx: nothing
  kept), `stall_next` (hold the answer longer than the client waits, after
  keeping the events: the client cannot tell whether they arrived).

Tests read `received`, `requests` and `calls`, or ``GET /_emulator/events``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chatkit._optional import missing

from .._server import Emulator
from ._limits import validate_body

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the extra
    raise missing("starlette", "the GA4 emulator", exc) from exc

__all__ = ["GA4Emulator", "ReceivedEvent", "RecordedRequest", "main"]


@dataclass(frozen=True)
class ReceivedEvent:
    """One event GA4 would count.

    Attributes:
        measurement_id: The stream it went to.
        client_id: The visitor's client id.
        user_id: The signed-in user's id, when sent.
        consent: The request's ``consent`` object.
        name: The event name.
        params: Its parameters.
        timestamp_micros: The event's time, as sent.
    """

    measurement_id: str
    client_id: str | None
    user_id: str | None
    consent: dict[str, Any] | None
    name: str
    params: dict[str, Any]
    timestamp_micros: int | None


@dataclass
class RecordedRequest:
    """One request to ``/mp/collect`` or ``/debug/mp/collect``, as received.

    Attributes:
        path: The path.
        status: What was answered.
        body: The parsed body (``None`` when it was not JSON).
        messages: The validation messages it earned.
        accepted: Whether its events were kept.
    """

    path: str
    status: int
    body: Any
    messages: list[dict[str, str]] = field(default_factory=list)
    accepted: bool = False


class _Duplicates(list[str]):
    """Keys met twice in one JSON object while parsing."""


def _parse(raw: bytes) -> tuple[Any, list[str]]:
    seen = _Duplicates()

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                seen.append(key)
            out[key] = value
        return out

    return json.loads(raw, object_pairs_hook=hook), list(seen)


class GA4Emulator(Emulator):
    """The Measurement Protocol on a local port, checking GA4's documented limits.

    Args:
        measurement_id: The stream whose events are kept.
        api_secret: Its API secret; requests with another are answered 204
            and dropped, as GA4 does.
    """

    default_port = 8790

    def __init__(
        self, *, measurement_id: str = "G-EMULATOR1", api_secret: str = "emulator-secret"
    ) -> None:
        self.measurement_id = measurement_id
        self.api_secret = api_secret
        self.received: list[ReceivedEvent] = []
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, float | None]] = []
        self._stalls: list[float] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/mp/collect", self._collect, methods=["POST"]),
                Route("/debug/mp/collect", self._debug, methods=["POST"]),
                Route("/_emulator/events", self._events, methods=["GET"]),
            ]
        )

    # -- test controls -----------------------------------------------------------

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` collect requests with ``status`` (keeping nothing)."""
        with self._lock:
            self._failures += [(status, retry_after)] * times

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        """Keep the next ``times`` requests' events, then answer only after ``seconds``."""
        with self._lock:
            self._stalls += [seconds] * times

    def calls(self, path: str = "/mp/collect") -> int:
        """Requests received on ``path``."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def invalid(self) -> list[RecordedRequest]:
        """Collect requests GA4 would have dropped (answered 204 all the same)."""
        with self._lock:
            return [r for r in self.requests if r.path == "/mp/collect" and r.messages]

    def reset(self) -> None:
        """Forget requests, events and pending failures."""
        with self._lock:
            self.received.clear()
            self.requests.clear()
            self._failures.clear()
            self._stalls.clear()

    def events(self, name: str | None = None) -> list[ReceivedEvent]:
        """The events kept, optionally of one name."""
        with self._lock:
            return [e for e in self.received if name is None or e.name == name]

    # -- handlers ----------------------------------------------------------------

    def _check(self, request: Request, raw: bytes) -> tuple[Any, list[dict[str, str]]]:
        try:
            body, duplicates = _parse(raw)
        except ValueError:
            return None, [
                {
                    "fieldPath": "",
                    "description": "Unable to parse the request body as JSON.",
                    "validationCode": "VALUE_INVALID",
                }
            ]
        messages = validate_body(body, size=len(raw), now_micros=int(time.time() * 1_000_000))
        for key in duplicates:
            messages.append(
                {
                    "fieldPath": key,
                    "description": f"The name [{key}] appears more than once.",
                    "validationCode": "NAME_DUPLICATED",
                }
            )
        if request.query_params.get("measurement_id") is None:
            messages.append(
                {
                    "fieldPath": "measurement_id",
                    "description": "measurement_id is required.",
                    "validationCode": "VALUE_REQUIRED",
                }
            )
        return body, messages

    async def _collect(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            stall = self._stalls.pop(0) if self._stalls and failure is None else None
        if failure is not None:
            status, after = failure
            with self._lock:
                self.requests.append(RecordedRequest("/mp/collect", status, None))
            headers = {"Retry-After": f"{after:g}"} if after is not None else {}
            return Response(status_code=status, headers=headers)
        body, messages = self._check(request, raw)
        query = request.query_params
        known = (
            query.get("measurement_id") == self.measurement_id
            and query.get("api_secret") == self.api_secret
        )
        accepted = known and not messages
        with self._lock:
            self.requests.append(RecordedRequest("/mp/collect", 204, body, messages, accepted))
            if accepted:
                for event in body["events"]:
                    stamp = event.get("timestamp_micros")
                    self.received.append(
                        ReceivedEvent(
                            measurement_id=self.measurement_id,
                            client_id=body.get("client_id"),
                            user_id=body.get("user_id"),
                            consent=body.get("consent"),
                            name=event["name"],
                            params=dict(event.get("params") or {}),
                            timestamp_micros=int(stamp) if stamp is not None else None,
                        )
                    )
        if stall is not None:
            await asyncio.sleep(stall)
        return Response(status_code=204)

    async def _debug(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, after = failure
            headers = {"Retry-After": f"{after:g}"} if after is not None else {}
            return Response(status_code=status, headers=headers)
        body, messages = self._check(request, raw)
        with self._lock:
            self.requests.append(RecordedRequest("/debug/mp/collect", 200, body, messages))
        return JSONResponse({"validationMessages": messages})

    async def _events(self, request: Request) -> Response:
        return JSONResponse(
            {
                "events": [e.__dict__ for e in self.events()],
                "requests": self.calls(),
                "invalid_requests": len(self.invalid()),
            }
        )


def main(argv: Sequence[str] | None = None) -> None:
    """``chatkit emulate ga4 [--port 8790] [--measurement-id G-…] [--api-secret …]``."""
    parser = argparse.ArgumentParser(
        prog="chatkit emulate ga4", description="Serve a GA4 Measurement Protocol emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=GA4Emulator.default_port)
    parser.add_argument("--measurement-id", default="G-EMULATOR1")
    parser.add_argument("--api-secret", default="emulator-secret")
    args = parser.parse_args(list(argv) if argv is not None else None)
    emulator = GA4Emulator(measurement_id=args.measurement_id, api_secret=args.api_secret)
    emulator.start(host=args.host, port=args.port)
    print(
        f"GA4 Measurement Protocol emulator on {emulator.url} "
        f"(CHATKIT_GA4_BASE_URL={emulator.url} CHATKIT_GA4_MEASUREMENT_ID={args.measurement_id} "
        f"CHATKIT_GA4_API_SECRET={args.api_secret}); Ctrl-C stops it",
        flush=True,
    )
    emulator.serve_forever()
