"""Teams: who answers what, and when."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from ..errors import DuplicateKeyError, InvalidInputError, NotFoundError
from ..events import TeamCreated, TeamUpdated
from ..hours import BusinessHours
from ..models import Page, Team
from ..models._base import new_id
from ..stores.base import Insert, Update
from ._core import UNSET, Unset, changed, check_names, checked
from .contacts import Service, check_key

__all__ = ["Teams"]


def _hours(value: object) -> BusinessHours | None:
    if value is None or isinstance(value, BusinessHours):
        return value
    raise InvalidInputError(
        "hours must be a BusinessHours (see BusinessHours.weekly) or None", field="hours"
    )


class Teams(Service):
    """Teams of agents, with their business hours and the topics routed to them.

    Agents join a team by listing its name in `Agent.teams`.

    Example:
        ```python
        await kit.teams.create(
            "billing",
            hours=BusinessHours.weekly("Europe/Istanbul", {"mon-fri": "09:00-18:00"}),
            categories=["orders & billing"],
        )
        ```
    """

    async def create(
        self,
        name: str,
        *,
        hours: BusinessHours | None = None,
        categories: Sequence[str] = (),
        description: str | None = None,
    ) -> Team:
        """Create a team.

        Raises:
            InvalidInputError: Bad field, or a team of that name exists.
        """
        team = checked(
            Team,
            id=new_id("team"),
            name=name,
            hours=_hours(hours),
            categories=check_names(categories, "categories"),
            description=description,
        )
        try:
            await self._core.commit([Insert(team)], [TeamCreated(team=team)])
        except DuplicateKeyError as exc:
            raise InvalidInputError(f"a team named {team.name!r} exists", field="name") from exc
        return team

    async def get(self, name: str) -> Team:
        """The team called ``name``.

        Raises:
            NotFoundError: No such team.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a team name is a non-empty string", field="team")
        check_key(name.strip(), "team")  # no NUL or lone surrogate, which no store can look up
        store = await self._core.ready()
        found = await store.find(Team, {"name": name.strip()}, limit=1)
        if not found:
            raise NotFoundError("team", name)
        return found[0]

    async def update(
        self,
        name: str,
        *,
        hours: BusinessHours | Unset | None = UNSET,
        categories: Sequence[str] | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> Team:
        """Change a team's hours, categories or description (its name stays)."""
        updates: dict[str, Any] = {}
        if not isinstance(hours, Unset):
            updates["hours"] = _hours(hours)
        if not isinstance(categories, Unset):
            updates["categories"] = check_names(categories, "categories")
        if not isinstance(description, Unset):
            updates["description"] = description

        async def attempt() -> Team:
            team = await self.get(name)
            new = changed(team, **updates)
            diff = sorted(k for k in updates if getattr(new, k) != getattr(team, k))
            if not diff:
                return team
            await self._core.commit([Update(new)], [TeamUpdated(team=new, changed=diff)])
            return new

        return await self._core.retry(attempt)

    async def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[Team]:
        """Page through teams by name."""
        return await self._core.paged(Team, order_by="name", limit=limit, cursor=cursor)

    async def for_topic(self, topic: str) -> builtins.list[Team]:
        """Teams whose categories include ``topic`` (case-insensitive), by name."""
        wanted = topic.strip().lower() if isinstance(topic, str) else ""
        if not wanted:
            raise InvalidInputError("topic must be a non-empty string", field="topic")
        store = await self._core.ready()
        teams = await store.find(Team, order_by="name")
        return [t for t in teams if wanted in t.categories]
