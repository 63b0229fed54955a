"""Fuzz the agent API from its OpenAPI document (schemathesis, bounded), on a real server.

A blocking `ChatKit` on SQLite serves it (so the agent API also runs on the
kit's own loop and a SQL store). Every generated request, valid or not, as an
admin and on a real conversation, must get an answer its schema allows and
never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.requests import HTTPConnection

from chatkit import ChatKit
from chatkit.models import Author
from chatkit.web import AgentIdentity
from chatkit_integrations._server import BackgroundServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    path: Path = tmp_path_factory.mktemp("agent-fuzz") / "chat.db"
    with ChatKit(f"sqlite:///{path}") as kit:
        kit.teams.create("billing")
        ada = kit.agents.create(
            name="Ada", role="admin", teams=["billing"], max_concurrent_chats=50
        )
        contact = kit.contacts.create(name="Alice")
        conv = kit.conversations.create(contact_id=contact.id, team="billing")
        kit.messages.send(conv.id, "hello", author=Author.customer(contact.id))
        kit.canned.create("/hello", "Hello", "Hello!")

        async def admin(connection: HTTPConnection) -> AgentIdentity | None:
            if connection.headers.get("x-agent") == ada.id:
                return AgentIdentity(agent_id=ada.id, role="admin")
            return None

        server = BackgroundServer(kit.asgi(authenticate=admin))
        server.start()
        try:
            me = httpx.get(f"{server.url}/v1/agent/me", headers={"x-agent": ada.id})
            assert me.status_code == 200, me.text
            yield server.url, ada.id, conv.id
        finally:
            server.stop()


def test_the_agent_api_never_fails_on_any_input(served: tuple[str, str, str]) -> None:
    url, agent_id, conversation_id = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        # The typing long poll waits up to 30 s by design; its input is checked below.
        if op.path.startswith("/v1/agent/") and not op.path.endswith("/typing")
    ]
    assert len(operations) >= 15
    headers = {"x-agent": agent_id}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            if case.path_parameters and "conversation_id" in case.path_parameters:
                case.path_parameters["conversation_id"] = conversation_id
            case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

        fuzz()

    typing = f"{url}/v1/agent/conversations/{conversation_id}/typing"
    for wait in ("-1", "31", "nan", "soon"):
        refused = httpx.get(typing, params={"wait": wait}, headers=headers)
        assert refused.status_code == 422, (wait, refused.text)
    quiet = httpx.get(typing, params={"wait": "0.1"}, headers=headers)
    assert quiet.status_code == 204
