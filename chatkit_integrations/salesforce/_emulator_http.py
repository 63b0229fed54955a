"""What the Salesforce emulator's routes share: answers, headers, errors, the caller.

`_HTTPBase` holds the org's response headers (``Sforce-Limit-Info``), the
error and injected-failure answers, the session's user and the allowed
methods of a resource; `_object` reads a request's JSON object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chatkit._optional import missing

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:
    raise missing("starlette", "the Salesforce emulator", exc) from exc

from ._records import Record, SalesforceAPIError
from ._state import FailurePlan, SalesforceState

_JSON = "application/json;charset=UTF-8"
_XML = "text/xml; charset=utf-8"


@dataclass
class _Answer:
    status: int
    body: Any = None
    route: str = ""
    raw: bytes | None = None


async def _object(request: Request) -> Record:
    try:
        body: Any = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise SalesforceAPIError.one(
            400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise SalesforceAPIError.one(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of object from the request body"
        )
    return body


class _HTTPBase:
    """The plumbing every route of `SalesforceEmulator` uses."""

    state: SalesforceState
    close_connections: bool

    def _headers(self, *, error: bool = False) -> dict[str, str]:
        headers = {
            "Sforce-Limit-Info": f"api-usage={self.state.api_usage}/{self.state.daily_api_limit}"
        }
        if error or self.close_connections:
            headers["Connection"] = "close"
        return headers

    def _error(self, error: SalesforceAPIError) -> Response:
        return JSONResponse(
            error.errors,
            error.status,
            headers={**self._headers(error=True), **error.headers},
            media_type=_JSON,
        )

    def _failure(self, plan: FailurePlan) -> Response:
        headers = self._headers(error=True)
        if plan.retry_after is not None:
            headers["Retry-After"] = str(plan.retry_after)
        body = [{"message": plan.message, "errorCode": plan.error_code}]
        return JSONResponse(body, plan.status, headers=headers, media_type=_JSON)

    def _user(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        with self.state.lock:
            return self.state.sessions.get(token.strip())

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise SalesforceAPIError.one(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
            )
