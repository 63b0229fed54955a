"""Who wrote a message."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Author", "AuthorRole"]


class AuthorRole(str, Enum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class Author(BaseModel):
    """The writer of a message.

    Example:
        >>> Author.agent("ag_123").role
        <AuthorRole.AGENT: 'agent'>
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: AuthorRole
    id: str | None = None
    """Contact id for customers, agent id for agents, free-form for bots."""

    @model_validator(mode="after")
    def _id_required(self) -> Author:
        if self.role in (AuthorRole.CUSTOMER, AuthorRole.AGENT) and not self.id:
            raise ValueError(f"a {self.role.value} author needs an id")
        return self

    @classmethod
    def customer(cls, contact_id: str) -> Author:
        """The contact ``contact_id``."""
        return cls(role=AuthorRole.CUSTOMER, id=contact_id)

    @classmethod
    def agent(cls, agent_id: str) -> Author:
        """The agent ``agent_id``."""
        return cls(role=AuthorRole.AGENT, id=agent_id)

    @classmethod
    def system(cls) -> Author:
        """chatkit itself."""
        return cls(role=AuthorRole.SYSTEM)

    @classmethod
    def bot(cls, name: str = "bot") -> Author:
        """An automated responder."""
        return cls(role=AuthorRole.BOT, id=name)
