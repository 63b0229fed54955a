"""Agent status bookkeeping shared by the agent and workload services."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..events import AgentStatusChanged, Event
from ..models import Agent, AgentStatus, Presence
from ..settings import PresenceSettings

__all__ = ["restatus"]


def restatus(
    agent: Agent, settings: PresenceSettings, now: datetime, reason: str
) -> tuple[Agent, list[Event]]:
    """``agent`` with its stored status brought up to date, and the event if it changed.

    The caller writes the returned record (its version already set) in the
    same commit as the change that moved the status. ``reason`` says what
    moved it; a move to idle is reported as ``idle`` and one to offline
    while the agent had not signed out as ``heartbeat_lost``, whatever
    noticed it.
    """
    status = agent.effective_status(
        now,
        idle_after=timedelta(seconds=settings.idle_after),
        offline_after=timedelta(seconds=settings.offline_after),
    )
    if status is agent.status:
        return agent, []
    if status is AgentStatus.IDLE:
        reason = "idle"
    elif status is AgentStatus.OFFLINE and agent.presence is not Presence.OFFLINE:
        reason = "heartbeat_lost"
    event = AgentStatusChanged(
        agent_id=agent.id, status=status, previous=agent.status, reason=reason
    )
    return agent.model_copy(update={"status": status, "status_since": now}), [event]
