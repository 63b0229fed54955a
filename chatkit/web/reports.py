"""Reports in the agent API (``/v1/agent/reports/...``): supervisors and admins only.

Each route answers with the typed result of `Reports` (``kit.reports``) as
JSON. Who may read which report is the app policy's ``can_report`` (see
`DefaultPolicy.can_report`: admins every report, supervisors their own
teams' reports, so a supervisor passes ``team``); anyone else gets 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ..reports.models import (
    GroupBy,
    Heatmap,
    MoodReport,
    ServiceReport,
    SLAResult,
    StaffingReport,
    TrendPoint,
)
from ._deps import APIRouter, Depends, Query
from .auth import ADMIN, SUPERVISOR, AgentPrincipal, current_agent, web_context
from .context import WebContext
from .errors import PermissionDeniedError

__all__ = ["router"]

router = APIRouter(prefix="/v1/agent/reports", tags=["reports"])

Web = Annotated[WebContext, Depends(web_context)]
Caller = Annotated[AgentPrincipal, Depends(current_agent)]
Name = Annotated[str | None, Query(min_length=1, max_length=100)]
Days = Annotated[int | None, Query(ge=1, le=3660)]
Zone = Annotated[str, Query(min_length=1, max_length=64)]


async def _allowed(web: WebContext, caller: AgentPrincipal, team: str | None) -> None:
    check = getattr(web.policy, "can_report", None)
    if check is not None:
        allowed = bool(await check(caller, team))
    else:  # a custom policy without the method: admins, and supervisors for a team
        allowed = caller.role == ADMIN or (caller.role == SUPERVISOR and team is not None)
    if not allowed:
        raise PermissionDeniedError(
            "reports are for admins, and for supervisors of the team asked for (team=)"
        )


@router.get("/summary", response_model=ServiceReport)
async def summary(
    caller: Caller,
    web: Web,
    start: datetime | None = None,
    end: datetime | None = None,
    days: Days = None,
    team: Name = None,
    agent: Name = None,
    channel: Name = None,
    tag: Name = None,
    language: Name = None,
    time_zone: Zone = "UTC",
    group_by: GroupBy | None = None,
) -> ServiceReport:
    """Every service metric over the range, optionally grouped (see the concept page Reports)."""
    await _allowed(web, caller, team)
    return await web.call(
        web.kit.reports.summary,
        start=start,
        end=end,
        days=days,
        team=team,
        agent=agent,
        channel=channel,
        tag=tag,
        language=language,
        time_zone=time_zone,
        group_by=group_by,
    )


@router.get("/heatmap", response_model=Heatmap)
async def heatmap(
    caller: Caller,
    web: Web,
    metric: Literal["started", "resolved"] = "started",
    start: datetime | None = None,
    end: datetime | None = None,
    days: Days = None,
    team: Name = None,
    channel: Name = None,
    time_zone: Zone = "UTC",
) -> Heatmap:
    """Busiest hours: weekday x hour counts in ``time_zone``, with quantile levels."""
    await _allowed(web, caller, team)
    return await web.call(
        web.kit.reports.heatmap,
        metric=metric,
        start=start,
        end=end,
        days=days,
        team=team,
        channel=channel,
        time_zone=time_zone,
    )


@router.get("/trend", response_model=list[TrendPoint])
async def trend(
    caller: Caller,
    web: Web,
    period: Literal["day", "week", "month"] = "day",
    start: datetime | None = None,
    end: datetime | None = None,
    days: Days = None,
    team: Name = None,
    channel: Name = None,
    time_zone: Zone = "UTC",
) -> list[TrendPoint]:
    """Conversations, median first response and resolution, CSAT and sentiment per period."""
    await _allowed(web, caller, team)
    return await web.call(
        web.kit.reports.trend,
        period=period,
        start=start,
        end=end,
        days=days,
        team=team,
        channel=channel,
        time_zone=time_zone,
    )


@router.get("/mood", response_model=MoodReport)
async def mood(
    caller: Caller,
    web: Web,
    start: datetime | None = None,
    end: datetime | None = None,
    days: Days = None,
    team: Name = None,
    time_zone: Zone = "UTC",
) -> MoodReport:
    """Sentiment, moods that fell, complaint terms, intents and question patterns."""
    await _allowed(web, caller, team)
    return await web.call(
        web.kit.reports.mood, start=start, end=end, days=days, team=team, time_zone=time_zone
    )


@router.get("/sla", response_model=list[SLAResult])
async def sla(
    caller: Caller,
    web: Web,
    start: datetime | None = None,
    end: datetime | None = None,
    days: Days = None,
    team: Name = None,
) -> list[SLAResult]:
    """Compliance and breaches per SLA policy."""
    await _allowed(web, caller, team)
    return await web.call(web.kit.reports.sla, start=start, end=end, days=days, team=team)


@router.get("/staffing", response_model=StaffingReport)
async def staffing(
    caller: Caller,
    web: Web,
    days: Days = None,
    team: Name = None,
    channel: Name = None,
    time_zone: Zone = "UTC",
) -> StaffingReport:
    """Agents needed per weekday-hour (Erlang C) beside the planned shifts."""
    await _allowed(web, caller, team)
    return await web.call(
        web.kit.reports.staffing, days=days, team=team, channel=channel, time_zone=time_zone
    )
