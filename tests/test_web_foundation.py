"""The web app's foundation against a real uvicorn server: mounting, OpenAPI, errors, headers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI, WebSocket
from starlette.requests import HTTPConnection

from chatkit import AsyncChatKit, ChatKit
from chatkit.errors import (
    ConfigurationError,
    ConflictError,
    ContactBlockedError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    StoreError,
)
from chatkit.ratelimit import RateLimit, RateLimiter, RateLimits, StoreBackend
from chatkit.web import (
    AgentIdentity,
    AgentPrincipal,
    AuthenticationError,
    CustomerPrincipal,
    OriginNotAllowedError,
    WebSettings,
    current_agent,
    current_principal,
    error_code,
    identity_hash,
    normalize_origin,
    status_for,
    verify_identity_hash,
)

from .webserver import serve

pytestmark = pytest.mark.anyio

SHOP = "https://shop.example"


@pytest.fixture
async def kit() -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit("memory://") as k:
        yield k


def _assert_secure(response: httpx.Response) -> None:
    headers = response.headers
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", headers["x-request-id"])
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers  # plain http here


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["message"]
    _assert_secure(response)
    return error


async def test_mounted_in_a_host_app_over_a_real_server(kit: AsyncChatKit) -> None:
    site = await kit.websites.create("Shop", origins=[SHOP])
    host = FastAPI()

    @host.get("/")
    async def home() -> dict[str, str]:
        return {"host": "yes"}

    host.mount("/chat", kit.asgi(WebSettings(max_body_bytes=4096)))
    async with serve(host) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/")).json() == {"host": "yes"}

        spec_response = await http.get("/chat/openapi.json")
        assert spec_response.status_code == 200
        _assert_secure(spec_response)
        spec = spec_response.json()
        assert spec["openapi"] == "3.1.0"
        assert "/v1/sessions" in spec["paths"]
        assert all(path.startswith("/v1/") for path in spec["paths"])
        start = spec["paths"]["/v1/sessions"]["post"]
        assert start["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
        assert "ErrorBody" in spec["components"]["schemas"]

        # Typed errors: no token, unknown path, malformed JSON, wrong types, huge body.
        error = _assert_error(
            await http.delete("/chat/v1/sessions/current"), 401, "unauthenticated"
        )
        assert "field" not in error
        _assert_error(await http.get("/chat/v1/nothing-here"), 404, "not_found")
        bad_json = await http.post(
            "/chat/v1/sessions", content=b"{not json", headers={"content-type": "application/json"}
        )
        _assert_error(bad_json, 400, "malformed_json")
        wrong = await http.post("/chat/v1/sessions", json={"website_key": 42})
        assert _assert_error(wrong, 422, "invalid_input")["field"] == "website_key"
        huge = await http.post("/chat/v1/sessions", json={"website_key": "x" * 10_000})
        assert _assert_error(huge, 413, "payload_too_large")["field"] == "body"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000  # no Content-Length: the streamed body passes the limit

        streamed = await http.post(
            "/chat/v1/sessions", content=chunks(), headers={"content-type": "application/json"}
        )
        _assert_error(streamed, 413, "payload_too_large")

        # A caller's well-formed request id is kept; a malformed one is replaced.
        mine = await http.get("/chat/openapi.json", headers={"x-request-id": "trace-1"})
        assert mine.headers["x-request-id"] == "trace-1"
        other = await http.get("/chat/openapi.json", headers={"x-request-id": "bad id\x7f"})
        assert other.headers["x-request-id"].startswith("req_")

        # CORS from the websites' allowlists: exact origins only.
        preflight = {"access-control-request-method": "POST"}
        ok = await http.options("/chat/v1/sessions", headers={**preflight, "origin": SHOP})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == SHOP
        assert "Idempotency-Key" in ok.headers["access-control-allow-headers"]
        for foreign in (
            "https://shop.example.evil.test",
            "https://evil-shop.example",
            "http://shop.example",
            "https://shop.example:8443",
            "null",
        ):
            refused = await http.options(
                "/chat/v1/sessions", headers={**preflight, "origin": foreign}
            )
            _assert_error(refused, 403, "origin_not_allowed")
            assert "access-control-allow-origin" not in refused.headers

        # A session from an allowed origin; a foreign origin is refused with the same key.
        created = await http.post(
            "/chat/v1/sessions", json={"website_key": site.public_key}, headers={"origin": SHOP}
        )
        assert created.status_code == 201, created.text
        assert created.headers["access-control-allow-origin"] == SHOP
        foreign = await http.post(
            "/chat/v1/sessions",
            json={"website_key": site.public_key},
            headers={"origin": "https://evil.example"},
        )
        _assert_error(foreign, 403, "origin_not_allowed")


async def test_an_unexpected_exception_is_a_500_with_the_request_id(
    kit: AsyncChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    app = kit.asgi()

    @app.get("/v1/boom")
    async def boom() -> None:
        secret = "-".join(["secret", "token", "in", "message"])
        raise RuntimeError(secret)

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/v1/boom", headers={"authorization": "Bearer cks_abc"})
    error = _assert_error(response, 500, "internal_error")
    assert error["request_id"] in error["message"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert error["request_id"] in logged
    assert "secret-token-in-message" not in logged
    assert "cks_abc" not in logged


async def test_hsts_on_https(kit: AsyncChatKit) -> None:
    app = kit.asgi(WebSettings(hsts_seconds=600))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://chat.example") as http:
        response = await http.get("/openapi.json")
    assert response.headers["strict-transport-security"] == "max-age=600"


def test_a_blocking_kit_serves_through_its_own_loop(tmp_path: Path) -> None:
    """The sync ChatKit's store lives on its background loop; the app calls it there."""
    import anyio

    with ChatKit(f"sqlite:///{tmp_path / 'support.db'}") as sync_kit:
        site = sync_kit.websites.create("Shop", origins=[SHOP])
        app = sync_kit.asgi(WebSettings(rate_limits={"new_session": "1/min"}))

        async def run() -> str:
            async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
                created = await http.post("/v1/sessions", json={"website_key": site.public_key})
                assert created.status_code == 201, created.text
                token = created.json()["token"]
                # the rate limit's cell lives in the kit's store, on the kit's loop
                refused = await http.post("/v1/sessions", json={"website_key": site.public_key})
                assert refused.status_code == 429, refused.text
                assert refused.headers["retry-after"] == "60"
                auth = {"authorization": f"Bearer {token}"}
                assert (await http.delete("/v1/sessions/current", headers=auth)).status_code == 204
                again = await http.delete("/v1/sessions/current", headers=auth)
                assert again.status_code == 401
                return str(created.json()["contact_id"])

        contact_id = anyio.run(run)
        assert sync_kit.contacts.get(contact_id).id == contact_id


def test_error_codes_and_statuses() -> None:
    assert (
        error_code(NotFoundError("conversation", "x")),
        status_for(NotFoundError("c", "x")),
    ) == (
        "not_found",
        404,
    )
    assert status_for(InvalidInputError("bad")) == 422
    assert error_code(InvalidInputError("bad")) == "invalid_input"
    assert status_for(ConflictError("race")) == 409
    assert status_for(StoreError("down")) == 503
    assert status_for(AuthenticationError("x")) == 401
    assert status_for(OriginNotAllowedError("x")) == 403
    assert error_code(OriginNotAllowedError("x")) == "origin_not_allowed"
    assert status_for(ContactBlockedError.__new__(ContactBlockedError)) == 403
    limited = RateLimitedError(limit_name="new_session", retry_after=3.2, limit=5, period=3600)
    assert status_for(limited) == 429
    assert error_code(limited) == "rate_limited"


async def test_rate_limit_settings(kit: AsyncChatKit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATKIT_RATE_LIMIT_URL", raising=False)
    monkeypatch.delenv("CHATKIT_RATE_LIMIT_SECRET", raising=False)
    defaults = WebSettings()
    assert defaults.rate_limits == RateLimits()
    assert defaults.rate_limits.new_session == RateLimit(5, 3600)
    assert defaults.rate_limits.new_conversation == RateLimit(6, 12 * 3600)
    assert defaults.rate_limit_url is None
    assert defaults.rate_limit_secret is None
    # specs and None in a mapping; the names are the SDK's, nothing else
    custom = WebSettings(rate_limits={"new_session": "20/h", "typing": None})
    assert custom.rate_limits.new_session == RateLimit(20, 3600)
    assert custom.rate_limits.typing is None
    assert custom.rate_limits.message == RateLimits().message
    with pytest.raises(ConfigurationError, match="sessions_per_ip"):
        WebSettings(rate_limits={"sessions_per_ip": "5/h"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="expected a rate like"):
        WebSettings(rate_limits={"new_session": "5 per hour"})  # type: ignore[arg-type]
    for bad in ({"rate_limit_url": "memcached://cache:11211"}, {"rate_limit_secret": "short"}):
        with pytest.raises(ValueError, match="rate_limit"):
            WebSettings(**bad)  # type: ignore[arg-type]
    # the default limiter keeps its counts in the kit's store
    app = kit.asgi()
    limiter = app.state.chatkit.limiter
    assert isinstance(limiter, RateLimiter)
    assert isinstance(limiter.backend, StoreBackend)
    assert limiter.limits == RateLimits()
    refusal = app.openapi()["paths"]["/v1/sessions"]["post"]["responses"]["429"]
    assert set(refusal["headers"]) == {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    }
    # the environment names the backend and the secret every process shares
    monkeypatch.setenv("CHATKIT_RATE_LIMIT_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CHATKIT_RATE_LIMIT_SECRET", "s" * 32)
    from_env = WebSettings()
    assert from_env.rate_limit_url == "redis://127.0.0.1:6379/0"
    assert from_env.rate_limit_secret is not None
    assert from_env.rate_limit_secret.get_secret_value() == "s" * 32
    assert "s" * 32 not in repr(from_env)
    redis_backed = kit.asgi(from_env).state.chatkit.limiter
    assert type(redis_backed.backend).__name__ == "RedisBackend"
    assert redis_backed.hashed("x", "k") == RateLimiter(secret="s" * 32).hashed("x", "k")
    await redis_backed.close()
    # a limiter of your own wins
    own = RateLimiter("memory://", {"new_session": RateLimit(1, 60)})
    assert kit.asgi(WebSettings(limiter=own)).state.chatkit.limiter is own


def test_origins_are_canonical_and_exact() -> None:
    assert normalize_origin("HTTPS://Shop.Example") == "https://shop.example:443"
    assert normalize_origin("http://localhost:3000/") == "http://localhost:3000"
    assert normalize_origin("http://[::1]:8000") == "http://[::1]:8000"
    for bad in (
        "*",
        "https://*.shop.example",
        "https://shop.example/path",
        "null",
        "ftp://a.b",
        "https://user@shop.example",
        "shop.example",
        " https://shop.example",
    ):
        with pytest.raises(ValueError, match="origin"):
            normalize_origin(bad)


def test_identity_hash_vector() -> None:
    expected = "aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597"
    assert identity_hash("secret", "Message") == expected
    assert verify_identity_hash("secret", "Message", expected)
    assert verify_identity_hash("secret", "Message", expected.upper())
    assert not verify_identity_hash("secret", "Message2", expected)
    assert not verify_identity_hash("other", "Message", expected)
    assert not verify_identity_hash("secret", "Message", expected[:-1])
    assert json.dumps(expected)


def test_chatkit_serve_runs_the_app_on_sqlite(tmp_path: Path) -> None:
    """``chatkit serve`` is a real uvicorn process on the store of --url."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'support.db'}"
    with ChatKit(url) as kit:
        site = kit.websites.create("Shop", origins=[SHOP])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from chatkit.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--url",
            url,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                spec = httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "chatkit serve did not start"
                time.sleep(0.1)
        assert spec.json()["openapi"] == "3.1.0"
        started = httpx.post(
            f"{base}/v1/sessions", json={"website_key": site.public_key}, headers={"origin": SHOP}
        )
        assert started.status_code == 201, started.text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, 130), output  # 130: stopped by Ctrl-C, as every command
    assert "serving" in output
    assert "Finished server process" in output  # uvicorn shut down cleanly


async def test_websocket_handshakes_use_the_same_customer_checks(kit: AsyncChatKit) -> None:
    """What the realtime layer builds on: a session token and the website's origins, on a socket."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    from chatkit.web import authenticate_customer

    site = await kit.websites.create("Shop", origins=[SHOP])
    app = kit.asgi()

    @app.websocket("/v1/test-socket")
    async def socket(websocket: WebSocket) -> None:
        try:
            customer = await authenticate_customer(websocket, websocket.query_params["token"])
        except (AuthenticationError, OriginNotAllowedError) as exc:
            await websocket.close(code=4403 if isinstance(exc, OriginNotAllowedError) else 4401)
            return
        await websocket.accept()
        await websocket.send_json({"contact_id": customer.contact_id})
        await websocket.close()

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        session = (await http.post("/v1/sessions", json={"website_key": site.public_key})).json()
        ws_url = url.replace("http", "ws") + f"/v1/test-socket?token={session['token']}"
        async with connect(ws_url, origin=SHOP) as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv()) == {"contact_id": session["contact_id"]}
        for origin, token in (("https://evil.example", session["token"]), (SHOP, "cks_nope")):
            bad_url = url.replace("http", "ws") + f"/v1/test-socket?token={token}"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(bad_url, origin=origin):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403


async def test_agent_and_principal_dependencies(kit: AsyncChatKit) -> None:
    """What the agent API builds on: the host's hook, agent API tokens, agent origins."""

    async def hook(connection: HTTPConnection) -> AgentIdentity | None:
        if connection.headers.get("x-host-user") == "sam":
            return AgentIdentity(agent_id="agent_sam", role="supervisor")
        return None

    async def authenticate_token(secret: str) -> AgentIdentity | None:
        return AgentIdentity(agent_id="agent_tok", role="admin") if secret == "cka_good" else None

    kit.agents.authenticate_token = authenticate_token  # type: ignore[attr-defined]
    site = await kit.websites.create("Shop", origins=[SHOP])
    app = kit.asgi(WebSettings(agent_origins=["https://console.example"]), authenticate=hook)

    @app.get("/v1/agent/whoami")
    async def whoami(agent: Annotated[AgentPrincipal, Depends(current_agent)]) -> dict[str, str]:
        return {"agent": agent.agent_id, "role": agent.role}

    @app.get("/v1/anyone")
    async def anyone(
        who: Annotated[AgentPrincipal | CustomerPrincipal, Depends(current_principal)],
    ) -> dict[str, str]:
        return {"kind": who.kind}

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        by_hook = await http.get("/v1/agent/whoami", headers={"x-host-user": "sam"})
        assert by_hook.json() == {"agent": "agent_sam", "role": "supervisor"}
        by_token = await http.get("/v1/agent/whoami", headers={"authorization": "Bearer cka_good"})
        assert by_token.json() == {"agent": "agent_tok", "role": "admin"}
        for headers in ({}, {"authorization": "Bearer cka_bad"}, {"x-host-user": "eve"}):
            _assert_error(
                await http.get("/v1/agent/whoami", headers=headers), 401, "unauthenticated"
            )

        # Cross-origin agent calls only from the console's origin; CORS says the same.
        console = {"x-host-user": "sam", "origin": "https://console.example"}
        allowed = await http.get("/v1/agent/whoami", headers=console)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://console.example"
        foreign = {"x-host-user": "sam", "origin": SHOP}
        _assert_error(
            await http.get("/v1/agent/whoami", headers=foreign), 403, "origin_not_allowed"
        )
        same = {"x-host-user": "sam", "origin": url}
        assert (await http.get("/v1/agent/whoami", headers=same)).status_code == 200
        preflight = {"origin": SHOP, "access-control-request-method": "GET"}
        _assert_error(
            await http.options("/v1/agent/whoami", headers=preflight), 403, "origin_not_allowed"
        )

        token = (await http.post("/v1/sessions", json={"website_key": site.public_key})).json()[
            "token"
        ]
        customer = await http.get("/v1/anyone", headers={"authorization": f"Bearer {token}"})
        assert customer.json() == {"kind": "customer"}
        agent = await http.get("/v1/anyone", headers={"x-host-user": "sam"})
        assert agent.json() == {"kind": "agent"}
        _assert_error(await http.get("/v1/anyone"), 401, "unauthenticated")
