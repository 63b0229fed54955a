"""What the Zendesk emulator's routes share: request payloads, id lists, cursor pages, errors.

The 400 ``TooManyValues`` body, the bodies and rate-limit headers of injected
failures, and the helpers that read a request's JSON payload, a show_many id
list, and write a list endpoint's cursor page or a bulk job's failed item.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from chatkit._optional import missing

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:
    raise missing("starlette", "the Zendesk emulator", exc) from exc

from ._records import BULK_LIMIT, Record, ZendeskAPIError
from ._state import FailurePlan

Handler = Callable[[Request], Awaitable[tuple[int, Record]]]

TOO_MANY_VALUES: Record = {
    "error": "TooManyValues",
    "description": "Parameter  cannot specify more than 100 values",
    "max_count": 100,
}
"""The 400 body of a bulk call with more than 100 items, exactly as Zendesk sends it."""

_FAILURE_BODIES: dict[int, Record] = {
    401: {"error": "Couldn't authenticate you"},
    403: {"error": "Forbidden", "description": "You do not have access to this page."},
    429: {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    },
    500: {"error": "InternalServerError", "description": "Something went wrong"},
    503: {"error": "ServiceUnavailable", "description": "Service temporarily unavailable"},
}
_RATE_LIMIT_HEADERS = {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}


def _id_list(raw: str, *, int_ids: bool = True) -> list[str]:
    """The comma-separated ids of a show_many call: at most 100, integers unless external."""
    items = [item for item in raw.split(",") if item]
    if len(items) > BULK_LIMIT:
        raise ZendeskAPIError(400, TOO_MANY_VALUES)
    if int_ids and not all(item.isdigit() for item in items):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": "ids must be integers"}
        )
    return items


def _cursor_page(request: Request, key: str, items: list[Record], base_url: str) -> Record:
    """A page of a list endpoint with cursor pagination (``page[size]``, ``page[after]``)."""
    size = min(int(request.query_params.get("page[size]", "100")), 100)
    after = request.query_params.get("page[after]")
    try:
        start = int(base64.b64decode(after).decode()) if after else 0
    except ValueError as exc:
        raise ZendeskAPIError(
            400, {"error": "InvalidPaginationParameter", "description": "page[after] is invalid"}
        ) from exc
    page = items[start : start + size]
    has_more = start + size < len(items)
    after_cursor = base64.b64encode(str(start + len(page)).encode()).decode()
    params = {k: v for k, v in request.query_params.items() if not k.startswith("page[")}
    params.update({"page[after]": after_cursor, "page[size]": str(size)})
    next_url = f"{base_url}{request.url.path}?{urlencode(params)}"
    return {
        key: page,
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
        "links": {"next": next_url if has_more else None, "prev": None},
    }


def _failure(plan: FailurePlan) -> Response:
    body = _FAILURE_BODIES.get(plan.status, {"error": "Error", "description": "Injected failure"})
    headers = dict(_RATE_LIMIT_HEADERS)
    if plan.retry_after is not None:
        headers["Retry-After"] = str(plan.retry_after)
    return JSONResponse(body, plan.status, headers=headers)


def _client(request: Request) -> str:
    return request.headers.get("user-agent", "unknown")


async def _payload(request: Request, key: str) -> Record:
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise ZendeskAPIError(400, {"error": "InvalidJSON", "description": str(exc)}) from exc
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": f"{key} parameter is required"}
        )
    return dict(body[key])


async def _bulk_payload(request: Request, key: str) -> list[Record]:
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise ZendeskAPIError(400, {"error": "InvalidJSON", "description": str(exc)}) from exc
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ZendeskAPIError(
            400, {"error": "InvalidParameter", "description": f"{key} parameter is required"}
        )
    if len(items) > BULK_LIMIT:
        raise ZendeskAPIError(400, TOO_MANY_VALUES)
    return [dict(item) for item in items]


def _item_error(index: int, error: ZendeskAPIError) -> Record:
    """A job result for a failed item: ``details`` is text, as in Zendesk's job results."""
    details = error.body.get("details")
    if isinstance(details, dict):
        texts = [
            str(problem.get("description") if isinstance(problem, dict) else problem)
            for problems in details.values()
            for problem in (problems if isinstance(problems, list) else [problems])
        ]
        text = "; ".join(texts)
    else:
        text = str(details or error.body.get("description") or "")
    return {"index": index, "error": error.body.get("error"), "details": text}
