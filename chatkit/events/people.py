"""Events about people: contacts, agents, teams, and blocks against abuse."""

from __future__ import annotations

from typing import Literal

from ..models._base import UTCDateTime
from ..models.abuse import Block, Incident
from ..models.agents import Agent, AgentStatus
from ..models.contacts import Contact, Identity
from ..models.teams import Team
from .base import BaseEvent

__all__ = [
    "AbuseIncidentRecorded",
    "AgentCreated",
    "AgentStatusChanged",
    "AgentTokenCreated",
    "AgentTokenRevoked",
    "AgentUpdated",
    "ContactBlocked",
    "ContactCreated",
    "ContactIdentityAdded",
    "ContactMerged",
    "ContactUnblocked",
    "ContactUpdated",
    "TeamCreated",
    "TeamUpdated",
]


class ContactCreated(BaseEvent):
    """A contact was created."""

    type: Literal["contact.created"] = "contact.created"
    contact: Contact


class ContactUpdated(BaseEvent):
    """A contact's name or attributes changed."""

    type: Literal["contact.updated"] = "contact.updated"
    contact: Contact
    changed: list[str]


class ContactIdentityAdded(BaseEvent):
    """A new identity now leads to the contact."""

    type: Literal["contact.identity_added"] = "contact.identity_added"
    identity: Identity


class ContactMerged(BaseEvent):
    """``merged_contact_id`` was merged into ``contact_id``; only the latter remains."""

    type: Literal["contact.merged"] = "contact.merged"
    merged_contact_id: str
    contact: Contact
    moved_conversation_ids: list[str]
    moved_ticket_ids: list[str]


class AgentCreated(BaseEvent):
    """An agent profile was created."""

    type: Literal["agent.created"] = "agent.created"
    agent: Agent


class AgentUpdated(BaseEvent):
    """An agent profile changed."""

    type: Literal["agent.updated"] = "agent.updated"
    agent: Agent
    changed: list[str]


class AgentTokenCreated(BaseEvent):
    """An API token was created for an agent (`Agents.create_token`).

    Carries no secret and no hash: only what identifies the token.
    """

    type: Literal["agent.token_created"] = "agent.token_created"
    token_id: str
    agent_id: str
    name: str | None
    prefix: str
    expires_at: UTCDateTime | None


class AgentTokenRevoked(BaseEvent):
    """An agent's API token was revoked (`Agents.revoke_token`)."""

    type: Literal["agent.token_revoked"] = "agent.token_revoked"
    token_id: str
    agent_id: str


class AgentStatusChanged(BaseEvent):
    """An agent's status changed (available, busy, online, idle, away, offline)."""

    type: Literal["agent.status_changed"] = "agent.status_changed"
    agent_id: str
    status: AgentStatus
    previous: AgentStatus
    reason: str
    """``presence`` (the agent chose), ``activity``, ``heartbeat``, ``load``
    (conversations assigned or released), ``idle`` or ``heartbeat_lost``
    (found by `Agents.refresh`)."""


class TeamCreated(BaseEvent):
    """A team was created."""

    type: Literal["team.created"] = "team.created"
    team: Team


class TeamUpdated(BaseEvent):
    """A team changed (hours, categories, description)."""

    type: Literal["team.updated"] = "team.updated"
    team: Team
    changed: list[str]


class ContactBlocked(BaseEvent):
    """A block was made: matching messages are refused from now on."""

    type: Literal["contact.blocked"] = "contact.blocked"
    block: Block


class ContactUnblocked(BaseEvent):
    """A block was lifted."""

    type: Literal["contact.unblocked"] = "contact.unblocked"
    block: Block
    """The block as it was when lifted (with its count of refused messages)."""


class AbuseIncidentRecorded(BaseEvent):
    """An agent or a rule recorded an abuse incident."""

    type: Literal["abuse.incident_recorded"] = "abuse.incident_recorded"
    incident: Incident
