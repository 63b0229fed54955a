"""Teams: groups of agents with their own hours and topics."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from ..hours import BusinessHours
from ._base import Record, SafeText

__all__ = ["Team"]


class Team(Record):
    """A team of agents that conversations are queued for.

    Attributes:
        name: Unique name; agents list it in `Agent.teams`.
        description: Free text.
        hours: When the team answers; ``None`` means round the clock.
        categories: Topics routed to this team, e.g. ``["orders & billing"]``.
    """

    table: ClassVar[str] = "teams"
    columns: ClassVar[tuple[str, ...]] = ("name",)
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("name",),)
    sort_keys: ClassVar[frozenset[str]] = frozenset({"name"})

    name: SafeText = Field(min_length=1, max_length=100)
    description: SafeText | None = Field(default=None, max_length=1000)
    hours: BusinessHours | None = None
    categories: list[SafeText] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _stripped(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a team needs a name")
        return value

    @field_validator("categories")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
