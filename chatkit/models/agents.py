"""Agents: the people who answer."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from enum import Enum
from typing import ClassVar

from pydantic import Field, field_validator

from ..hours import BusinessHours, time_zone
from ._base import Record, SafeText, UTCDateTime

__all__ = [
    "Agent",
    "AgentRole",
    "AgentStatus",
    "AgentToken",
    "Presence",
    "base_language",
    "routing_list",
]


@functools.lru_cache(maxsize=16384)
def routing_list(
    order: str,
    team: str | None = None,
    skill: str | None = None,
    *,
    language: str | None = None,
) -> str:
    """The name of a store list of available agents (see `Agent.list_entries`).

    Args:
        order: ``"load"`` (least busy first: share of capacity in use, then
            longest since their last assignment) or ``"turn"`` (longest since
            their last assignment first).
        team: A team name, or ``None`` for agents of every team.
        skill: A skill (any case), or ``None`` for agents with any skills.
        language: A base language (``"ko"``; any case, a region is dropped)
            for the agents who speak it, ``"*"`` for those who list no
            language (they serve any), or ``None`` for agents whatever they
            speak. Language lists exist per team, without a skill.
    """
    name = [order, team, skill.lower() if skill else None]
    if language is not None:
        name.append(base_language(language))
    return json.dumps(name, ensure_ascii=False)


def base_language(tag: str) -> str:
    """The lowercase primary subtag of a tag (``"en-US"`` -> ``"en"``): what routing matches."""
    return tag.lower().split("-")[0]


class Presence(str, Enum):
    """What an agent chose to be (see `Agents.set_presence`)."""

    AVAILABLE = "available"
    """Signed in and ready to take chats."""
    ONLINE = "online"
    """Signed in, not taking new chats (e.g. working on tickets)."""
    AWAY = "away"
    """On a break or away from the desk."""
    OFFLINE = "offline"
    """Signed out."""


class AgentRole(str, Enum):
    """What an agent may see and do; a web app authorizes by it.

    chatkit itself does not restrict anything by role: the policy belongs to
    whoever serves agents (see the web app's authorization).
    """

    AGENT = "agent"
    """Answers conversations of their teams and those assigned to them."""
    SUPERVISOR = "supervisor"
    """An agent who also oversees their teams' conversations and agents."""
    ADMIN = "admin"
    """Sees and manages everything."""


class AgentStatus(str, Enum):
    """What an agent is, all things considered (see `Agent.status`)."""

    AVAILABLE = "available"
    """Ready to chat, with room for another conversation."""
    BUSY = "busy"
    """Available, but holding ``max_concurrent_chats`` conversations."""
    ONLINE = "online"
    """Signed in, not taking new chats."""
    IDLE = "idle"
    """Signed in, but no activity for `PresenceSettings.idle_after`."""
    AWAY = "away"
    """On a break or away."""
    OFFLINE = "offline"
    """Signed out, or their process stopped sending heartbeats."""


class Agent(Record):
    """A support agent's profile.

    Attributes:
        name: Display name.
        email: Work e-mail; unique among agents when set.
        skills: Topics the agent handles, e.g. ``["billing", "refunds"]``.
        languages: Languages spoken, as BCP 47 tags (``"en"``, ``"ko"``, ``"tr"``).
        teams: Team names the agent belongs to.
        time_zone: IANA zone name, e.g. ``"Europe/Istanbul"``.
        max_concurrent_chats: How many conversations the agent may hold at
            once. New agents start at 1; experienced ones rarely above 3.
        active_chats: Conversations assigned to the agent that are not
            resolved or closed. Kept by chatkit in the same commit as every
            assignment and status change; never above ``max_concurrent_chats``
            through `Conversations.assign` or `Conversations.claim`.
        presence: What the agent chose (`Agents.set_presence`).
        status: The stored status, as last published in an
            ``agent.status_changed`` event (see `effective_status`).
        status_since: When `status` last changed.
        last_active_at: The agent's last activity (`Agents.touch`).
        heartbeat_at: The last sign of life from the agent's process
            (`Agents.heartbeat`); an agent without one for
            `PresenceSettings.offline_after` counts as offline.
        last_assigned_at: When a conversation was last assigned to the agent.
        shift: The agent's work schedule, in their time zone (see `on_duty`).
        role: What the agent may see and do (`AgentRole`; ``agent`` by default).
    """

    table: ClassVar[str] = "agents"
    columns: ClassVar[tuple[str, ...]] = ("email", "status")
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("email",),)
    listed: ClassVar[bool] = True

    name: SafeText = Field(min_length=1, max_length=200)
    email: SafeText | None = Field(default=None, max_length=320)
    skills: list[SafeText] = Field(default_factory=list)
    languages: list[SafeText] = Field(default_factory=list)
    teams: list[SafeText] = Field(default_factory=list)
    time_zone: str = "UTC"
    max_concurrent_chats: int = Field(default=1, ge=1, le=50)
    active_chats: int = Field(default=0, ge=0)
    presence: Presence = Presence.OFFLINE
    status: AgentStatus = AgentStatus.OFFLINE
    status_since: UTCDateTime | None = None
    last_active_at: UTCDateTime | None = None
    heartbeat_at: UTCDateTime | None = None
    last_assigned_at: UTCDateTime | None = None
    shift: BusinessHours | None = None
    role: AgentRole = AgentRole.AGENT

    def list_entries(self) -> tuple[tuple[str, str], ...]:
        """Where an available agent sits in the routing lists (see `routing_list`).

        One entry per order, per team (and all teams), per skill (and any
        skill), and per team and language spoken (``"*"`` when none is
        listed). Agents who are not `AgentStatus.AVAILABLE` are in no list,
        so the router never reads them.
        """
        if self.status is not AgentStatus.AVAILABLE:
            return ()
        skills = dict.fromkeys(s.lower() for s in self.skills)
        languages = dict.fromkeys(base_language(lang) for lang in self.languages) or {"*": None}
        entries: list[tuple[str, str]] = []
        for order in ("load", "turn"):
            key = self.routing_key(order)
            for team in (None, *self.teams):
                entries += [(routing_list(order, team, skill), key) for skill in (None, *skills)]
                entries += [(routing_list(order, team, language=lang), key) for lang in languages]
        return tuple(entries)

    def routing_key(self, order: str) -> str:
        """The agent's sort key in the routing lists of ``order`` (``"load"`` or ``"turn"``)."""
        stamp = (self.last_assigned_at or self.created_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if order == "turn":
            return f"{stamp}|{self.id}"
        share = self.active_chats * 1_000_000 // self.max_concurrent_chats
        return f"{share:07d}|{stamp}|{self.id}"

    def on_duty(self, at: datetime) -> bool:
        """Whether ``at`` falls inside the agent's shift (never, without a shift)."""
        return self.shift is not None and self.shift.is_open(at)

    def effective_status(
        self, now: datetime, *, idle_after: timedelta, offline_after: timedelta
    ) -> AgentStatus:
        """The status at ``now``: presence, heartbeat, activity and load together."""
        if self.presence is Presence.OFFLINE:
            return AgentStatus.OFFLINE
        if self.heartbeat_at is None or now - self.heartbeat_at > offline_after:
            return AgentStatus.OFFLINE
        if self.presence is Presence.AWAY:
            return AgentStatus.AWAY
        if self.last_active_at is not None and now - self.last_active_at > idle_after:
            return AgentStatus.IDLE
        if self.presence is Presence.ONLINE:
            return AgentStatus.ONLINE
        if self.active_chats >= self.max_concurrent_chats:
            return AgentStatus.BUSY
        return AgentStatus.AVAILABLE

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.strip().lower() if value is not None else None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    @field_validator("skills", "languages", "teams")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))


class AgentToken(Record):
    """A per-agent API token (see `Agents.create_token`); the secret is never stored.

    Attributes:
        agent_id: The agent the token authenticates as.
        name: What the token is for, e.g. ``"console on laptop"``.
        token_hash: SHA-256 of the secret, hex; how `Agents.authenticate_token`
            finds the token.
        prefix: The first characters of the secret (``ckat_`` and 6 more),
            to tell tokens apart in listings.
        expires_at: When the token stops working; ``None`` for never.
        revoked_at: When it was revoked; a revoked token never works again.
        last_used_at: When it last authenticated (recorded at most once a minute).
    """

    table: ClassVar[str] = "agent_tokens"
    columns: ClassVar[tuple[str, ...]] = ("agent_id", "token_hash")
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("token_hash",),)

    agent_id: str
    name: SafeText | None = Field(default=None, max_length=200)
    token_hash: str = Field(repr=False)
    prefix: str
    expires_at: UTCDateTime | None = None
    revoked_at: UTCDateTime | None = None
    last_used_at: UTCDateTime | None = None

    def active(self, now: datetime) -> bool:
        """Whether the token works at ``now``: not revoked, not expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)
