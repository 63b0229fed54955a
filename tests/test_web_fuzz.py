"""Fuzz the customer API from its own OpenAPI document (schemathesis, bounded), on a real server.

Every generated request, valid or not, must get an answer its schema allows
and never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chatkit import ChatKit
from chatkit.ratelimit import RateLimit, RateLimits
from chatkit.web import WebSettings
from chatkit_integrations._server import BackgroundServer

SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, dict[str, str]]]:
    with ChatKit("memory://") as kit:
        site = kit.websites.create("Shop", origins=[SHOP], typing_previews=True)
        unlimited = RateLimits(**{name: RateLimit(100_000, 1) for name in RateLimits.BUILT_IN})
        server = BackgroundServer(kit.asgi(WebSettings(rate_limits=unlimited)))
        server.start()
        try:
            started = httpx.post(f"{server.url}/v1/sessions", json={"website_key": site.public_key})
            token = started.json()["token"]
            sent = httpx.post(
                f"{server.url}/v1/messages",
                json={"text": "hello"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert sent.status_code == 201, sent.text
            yield server.url, {"Authorization": f"Bearer {token}", "Origin": SHOP}
        finally:
            server.stop()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_the_customer_api_never_fails_on_any_input(served: tuple[str, dict[str, str]]) -> None:
    url, headers = served
    # Ending the session would leave the rest of the run anonymous; the
    # real-time event stream never ends (tests/test_web_realtime.py covers it).
    operations = [
        op
        for op in _operations(url)
        if op.path not in ("/v1/sessions/current", "/v1/realtime/events")
    ]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

        fuzz()
