"""Agents: the people who answer."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from ._base import Record, SafeText

__all__ = ["Agent"]


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
    """

    table: ClassVar[str] = "agents"
    columns: ClassVar[tuple[str, ...]] = ("email",)
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("email",),)

    name: SafeText = Field(min_length=1, max_length=200)
    email: SafeText | None = Field(default=None, max_length=320)
    skills: list[SafeText] = Field(default_factory=list)
    languages: list[SafeText] = Field(default_factory=list)
    teams: list[SafeText] = Field(default_factory=list)
    time_zone: str = "UTC"
    max_concurrent_chats: int = Field(default=1, ge=1, le=50)
    active_chats: int = Field(default=0, ge=0)

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.strip().lower() if value is not None else None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("skills", "languages", "teams")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))
