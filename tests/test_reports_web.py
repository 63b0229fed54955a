"""Reports in the agent API, on a real uvicorn server: figures and who may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit

from .agentworld import hook
from .test_reports import DAY, scripted_day
from .webserver import serve

pytestmark = pytest.mark.anyio

RANGE = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}


@pytest.fixture
async def kit() -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit("memory://") as k:
        yield k


async def test_reports_endpoints(kit: AsyncChatKit) -> None:
    await scripted_day(kit)
    await kit.reports.drain()
    sue = await kit.agents.create(name="Sue", teams=["support"], role="supervisor")
    sam = await kit.agents.create(name="Sam", teams=["sales"], role="supervisor")
    ada = await kit.agents.create(name="Ada", role="admin")
    ann = await kit.agents.create(name="Ann", teams=["support"])
    app = kit.asgi(authenticate=hook(kit))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:

        async def get(path: str, who: str, **params: str) -> httpx.Response:
            return await http.get(
                f"/v1/agent/reports/{path}", params={**RANGE, **params}, headers={"X-Agent": who}
            )

        summary = await get("summary", ada.id, group_by="team")
        assert summary.status_code == 200, summary.text
        body = summary.json()
        expected = await kit.reports.summary(
            start=DAY, end=DAY + timedelta(days=1), group_by="team"
        )
        assert body["totals"]["first_response"] == expected.totals.first_response.model_dump()
        assert body["totals"]["csat"]["satisfied"]["count"] == 2
        assert [g["key"] for g in body["groups"]] == ["support"]

        mine = await get("summary", sue.id, team="support")
        assert mine.status_code == 200
        assert mine.json()["totals"]["conversations"] == 7
        for who, params in (
            (sue.id, {}),
            (sam.id, {"team": "support"}),
            (ann.id, {"team": "support"}),
        ):
            denied = await get("summary", who, **params)
            assert denied.status_code == 403, (who, denied.text)
            assert denied.json()["error"]["code"] == "forbidden"

        heat = await get("heatmap", sue.id, team="support", time_zone="Europe/Istanbul")
        assert heat.status_code == 200
        assert heat.json()["cells"][0][5] == 1
        for path in ("trend", "mood", "sla", "staffing"):
            response = await get(path, ada.id)
            assert response.status_code == 200, (path, response.text)
        bad = await get("summary", ada.id, time_zone="Mars/Olympus")
        assert bad.status_code == 422
        nobody = await http.get("/v1/agent/reports/summary")
        assert nobody.status_code == 401
