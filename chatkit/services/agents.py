"""Agent profiles."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from ..errors import ConflictError, DuplicateKeyError, InvalidInputError
from ..events import AgentCreated, AgentUpdated
from ..hours import BusinessHours
from ..models import Agent, AgentStatus, Page, Presence, Ticket
from ..models._base import new_id, utcnow
from ..models.tickets import OPEN_TICKET_STATUSES
from ..stores.base import Gt, In, Insert, Op, Update
from ._core import UNSET, Unset, bump, changed, check_limit, checked, choice
from .contacts import Service
from .presence import restatus
from .tickets import Tickets


def _check_capacity(value: object) -> None:
    if not isinstance(value, (int, Unset)) or isinstance(value, bool):
        raise InvalidInputError(
            "max_concurrent_chats must be a whole number", field="max_concurrent_chats"
        )


__all__ = ["Agents"]

_Fields = Callable[[Agent, datetime], dict[str, Any]]


def _shift(value: object) -> BusinessHours | None:
    if value is None or isinstance(value, BusinessHours):
        return value
    raise InvalidInputError("shift must be a BusinessHours or None", field="shift")


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
        shift: BusinessHours | None = None,
    ) -> Agent:
        """Create an agent profile.

        ``shift`` is the agent's work schedule (`BusinessHours`, usually in
        their time zone); `on_duty` answers who works at a given time.

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
            shift=_shift(shift),
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
        shift: BusinessHours | Unset | None = UNSET,
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
            "shift": shift if isinstance(shift, Unset) else _shift(shift),
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

    async def list(
        self,
        *,
        status: AgentStatus | str | Collection[AgentStatus | str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Agent]:
        """Page through agents in id order, optionally only those with a stored status.

        Stored statuses move with every presence change, heartbeat, activity
        and assignment, and with `refresh` for time-based ones (idle,
        heartbeat lost): run `refresh` periodically for those to show.
        """
        where = None
        if status is not None:
            if not isinstance(status, str | AgentStatus | list | tuple | set | frozenset):
                raise InvalidInputError(
                    "status is an agent status or a list of them", field="status"
                )
            wanted = [status] if isinstance(status, (str, AgentStatus)) else list(status)
            where = {"status": In([choice(AgentStatus, s, "status", "status") for s in wanted])}
        return await self._core.paged(Agent, where, limit=limit, cursor=cursor)

    async def on_duty(
        self, *, at: datetime | None = None, team: str | None = None
    ) -> builtins.list[Agent]:
        """Agents whose shift covers ``at`` (default: now), optionally of one team, by name.

        Agents without a shift are never listed: give everyone who works
        scheduled hours a `shift`.
        """
        when = at if at is not None else utcnow()
        if not isinstance(when, datetime) or when.utcoffset() is None:
            raise InvalidInputError("at must be a timezone-aware datetime", field="at")
        store = await self._core.ready()
        agents = await store.find(Agent)
        found = [a for a in agents if a.on_duty(when) and (team is None or team in a.teams)]
        return sorted(found, key=lambda a: (a.name, a.id))

    async def set_presence(self, agent_id: str, presence: Presence | str) -> Agent:
        """Record what the agent chose: available, online (no new chats), away or offline.

        Counts as activity and as a heartbeat. Publishes
        ``agent.status_changed`` when the status moves.

        Raises:
            NotFoundError: No such agent.
            InvalidInputError: Unknown presence.
        """
        chosen = choice(Presence, presence, "presence", "presence")
        return await self._mark(
            agent_id,
            "presence",
            lambda a, now: {"presence": chosen, "last_active_at": now, "heartbeat_at": now},
        )

    async def touch(self, agent_id: str) -> Agent:
        """Record activity (a keystroke, a click in the console): an idle agent is back.

        Counts as a heartbeat too.
        """
        return await self._mark(
            agent_id, "activity", lambda a, now: {"last_active_at": now, "heartbeat_at": now}
        )

    async def heartbeat(self, agent_ids: Sequence[str]) -> builtins.list[Agent]:
        """Tell that the process serving these agents' consoles is alive.

        Call it more often than `PresenceSettings.offline_after` (every 30 s
        by default is plenty). An agent whose heartbeats stop counts as
        offline, which `refresh` publishes.
        """
        if not isinstance(agent_ids, list | tuple) or not all(
            isinstance(a, str) for a in agent_ids
        ):
            raise InvalidInputError("agent_ids must be a list of ids", field="agent_ids")
        return [
            await self._mark(agent_id, "heartbeat", lambda a, now: {"heartbeat_at": now})
            for agent_id in dict.fromkeys(agent_ids)
        ]

    async def refresh(self, *, batch_size: int = 200) -> builtins.list[Agent]:
        """Publish time-based status changes: agents gone idle, or whose heartbeats stopped.

        Run it periodically from any one or more processes (every few
        seconds); each change is written once, with a version check.

        Returns:
            The agents whose status changed.
        """
        check_limit(batch_size)
        settings = self._core.settings.presence
        store = await self._core.ready()
        moved: builtins.list[Agent] = []
        awake = [s for s in AgentStatus if s is not AgentStatus.OFFLINE]
        cursor = ""
        while True:
            where = {"status": In(awake), "id": Gt(cursor)} if cursor else {"status": In(awake)}
            agents = await store.find(Agent, where, limit=batch_size)
            if not agents:
                return moved
            now = utcnow()
            for agent in agents:
                updated, events = restatus(bump(agent), settings, now, "refresh")
                if events:
                    try:
                        await self._core.commit([Update(updated)], events)
                    except ConflictError:
                        continue  # changed meanwhile by someone who restatused it
                    moved.append(updated)
                    if updated.status is AgentStatus.OFFLINE:
                        await self._release_tickets(updated.id)
            cursor = agents[-1].id

    async def _mark(self, agent_id: str, reason: str, fields: _Fields) -> Agent:
        async def attempt() -> Agent:
            agent = await self.get(agent_id)
            now = utcnow()
            updated, events = restatus(
                bump(agent, **fields(agent, now)), self._core.settings.presence, now, reason
            )
            ops: builtins.list[Op] = [Update(updated)]
            await self._core.commit(ops, events)
            return updated

        agent = await self._core.retry(attempt)
        if agent.status is AgentStatus.OFFLINE:
            await self._release_tickets(agent.id)
        return agent

    async def _release_tickets(self, agent_id: str) -> None:
        """An agent went offline: their open tickets go back to their team's queue.

        So that no ticket waits on someone who is not there; the SLA clocks
        keep running and ``ticket.updated`` says the owner changed.
        """
        store = await self._core.ready()
        owned = await store.find(
            Ticket, {"owner_id": agent_id, "status": In(list(OPEN_TICKET_STATUSES))}
        )
        for ticket in owned:
            await Tickets(self._core).update(ticket.id, owner_id=None)
