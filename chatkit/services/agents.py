"""Agent profiles."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DuplicateKeyError, InvalidInputError
from ..events import AgentCreated, AgentUpdated
from ..models import Agent, Page
from ..models._base import new_id
from ..stores.base import Insert, Update
from ._core import UNSET, Unset, changed, checked
from .contacts import Service


def _check_capacity(value: object) -> None:
    if not isinstance(value, (int, Unset)) or isinstance(value, bool):
        raise InvalidInputError(
            "max_concurrent_chats must be a whole number", field="max_concurrent_chats"
        )


__all__ = ["Agents"]


def _listed(value: object) -> object:
    """Lists and tuples as a list; anything else as given, for validation to judge."""
    return list(value) if isinstance(value, (list, tuple)) else value


class Agents(Service):
    """The people who answer: skills, languages, teams, time zone, capacity.

    Example:
        ```python
        mia = await kit.agents.create(
            name="Mia", skills=["billing"], languages=["en", "tr"], max_concurrent_chats=2
        )
        ```
    """

    async def create(
        self,
        *,
        name: str,
        email: str | None = None,
        skills: Sequence[str] = (),
        languages: Sequence[str] = (),
        teams: Sequence[str] = (),
        time_zone: str = "UTC",
        max_concurrent_chats: int = 1,
    ) -> Agent:
        """Create an agent profile.

        Raises:
            InvalidInputError: Bad field, or the e-mail belongs to another agent.
        """
        _check_capacity(max_concurrent_chats)
        agent = checked(
            Agent,
            id=new_id("ag"),
            name=name,
            email=email,
            # A plain string is refused by validation, not split into letters.
            skills=_listed(skills),
            languages=_listed(languages),
            teams=_listed(teams),
            time_zone=time_zone,
            max_concurrent_chats=max_concurrent_chats,
        )
        try:
            await self._core.commit([Insert(agent)], [AgentCreated(agent=agent)])
        except DuplicateKeyError as exc:
            raise InvalidInputError(
                f"an agent with e-mail {email!r} exists", field="email"
            ) from exc
        return agent

    async def get(self, agent_id: str) -> Agent:
        """Return an agent.

        Raises:
            NotFoundError: No such agent.
        """
        return await self._load(Agent, agent_id, "agent")

    async def update(
        self,
        agent_id: str,
        *,
        name: str | Unset = UNSET,
        email: str | Unset | None = UNSET,
        skills: Sequence[str] | Unset = UNSET,
        languages: Sequence[str] | Unset = UNSET,
        teams: Sequence[str] | Unset = UNSET,
        time_zone: str | Unset = UNSET,
        max_concurrent_chats: int | Unset = UNSET,
    ) -> Agent:
        """Change fields of a profile; arguments not given stay as they are."""
        _check_capacity(max_concurrent_chats)
        given = {
            "name": name,
            "email": email,
            "skills": skills,
            "languages": languages,
            "teams": teams,
            "time_zone": time_zone,
            "max_concurrent_chats": max_concurrent_chats,
        }
        updates = {k: _listed(v) for k, v in given.items() if not isinstance(v, Unset)}

        async def attempt() -> Agent:
            agent = await self.get(agent_id)
            new = changed(agent, **updates)
            diff = sorted(k for k in updates if getattr(new, k) != getattr(agent, k))
            if not diff:
                return agent
            try:
                await self._core.commit([Update(new)], [AgentUpdated(agent=new, changed=diff)])
            except DuplicateKeyError as exc:
                raise InvalidInputError(
                    f"an agent with e-mail {new.email!r} exists", field="email"
                ) from exc
            return new

        return await self._core.retry(attempt)

    async def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[Agent]:
        """Page through agents in id order."""
        return await self._core.paged(Agent, limit=limit, cursor=cursor)
