"""Agent profiles."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from ..errors import ConflictError, DuplicateKeyError, InvalidInputError, InvalidTokenError
from ..events import AgentCreated, AgentTokenCreated, AgentTokenRevoked, AgentUpdated
from ..hours import BusinessHours
from ..models import Agent, AgentRole, AgentStatus, AgentToken, Page, Presence, Ticket
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


__all__ = ["TOKEN_PREFIX", "Agents", "hash_token"]

TOKEN_PREFIX: Final = "ckat_"
"""How every agent API token starts (so secret scanners and people can spot one)."""

_TOKEN_BODY: Final = 43
"""Characters after the prefix: 32 random bytes (256 bits), URL-safe base64."""

_TOKEN_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

_LAST_USED_EVERY: Final = timedelta(minutes=1)
"""`AgentToken.last_used_at` is written at most this often per token."""


def hash_token(secret: str) -> str:
    """The SHA-256 of a token's secret, hex: what the store keeps and looks up.

    A plain hash is enough (no salt, no slow hash): the secrets are 256
    random bits, so there is nothing to guess and nothing to precompute.
    """
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _well_formed(secret: object) -> bool:
    return (
        isinstance(secret, str)
        and len(secret) == len(TOKEN_PREFIX) + _TOKEN_BODY
        and secret.startswith(TOKEN_PREFIX)
        and _TOKEN_ALPHABET.issuperset(secret[len(TOKEN_PREFIX) :])
    )


def _role(value: object) -> AgentRole:
    # Only strings are looked up: the enum's own lookup of a deeply nested value recurses.
    if isinstance(value, str):
        try:
            return AgentRole(value)
        except ValueError:
            pass
    roles = ", ".join(r.value for r in AgentRole)
    raise InvalidInputError(f"role must be one of {roles}", field="role")


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
        role: AgentRole | str = AgentRole.AGENT,
    ) -> Agent:
        """Create an agent profile.

        ``shift`` is the agent's work schedule (`BusinessHours`, usually in
        their time zone); `on_duty` answers who works at a given time.
        ``role`` is ``agent``, ``supervisor`` or ``admin`` (`AgentRole`).

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
            role=_role(role),
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
        role: AgentRole | str | Unset = UNSET,
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
            "role": role if isinstance(role, Unset) else _role(role),
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

    # -- API tokens ----------------------------------------------------------

    async def create_token(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        expires_in: timedelta | float | None = None,
    ) -> tuple[AgentToken, str]:
        """Create an API token for an agent; the secret is returned once and never stored.

        The secret is ``ckat_`` and 43 URL-safe characters (256 random
        bits). Only its SHA-256 is kept, so a lost secret cannot be shown
        again: create another and revoke the old one.

        Args:
            agent_id: The agent the token authenticates as.
            name: What the token is for, shown in listings.
            expires_in: Lifetime (a `timedelta` or seconds); ``None`` for
                a token that works until revoked.

        Returns:
            The token's record and its secret.

        Raises:
            NotFoundError: No such agent.
            InvalidInputError: Bad name or lifetime.
        """
        if expires_in is not None:
            if isinstance(expires_in, bool) or not isinstance(expires_in, (timedelta, int, float)):
                raise InvalidInputError(
                    "expires_in must be a timedelta or seconds", field="expires_in"
                )
            try:
                lifetime = (
                    expires_in
                    if isinstance(expires_in, timedelta)
                    else timedelta(seconds=expires_in)
                )
            except (OverflowError, ValueError):
                raise InvalidInputError("expires_in is out of range", field="expires_in") from None
            if not lifetime > timedelta(0):
                raise InvalidInputError("expires_in must be positive", field="expires_in")
        await self.get(agent_id)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        try:
            expires_at = None if expires_in is None else now + lifetime
        except OverflowError:
            raise InvalidInputError("expires_in is too long", field="expires_in") from None
        token = checked(
            AgentToken,
            id=new_id("tok"),
            agent_id=agent_id,
            name=name,
            token_hash=hash_token(secret),
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        created = AgentTokenCreated(
            token_id=token.id,
            agent_id=agent_id,
            name=token.name,
            prefix=token.prefix,
            expires_at=token.expires_at,
        )
        await self._core.commit([Insert(token)], [created])
        return token, secret

    async def tokens(self, agent_id: str) -> builtins.list[AgentToken]:
        """An agent's API tokens (revoked and expired ones too), oldest first.

        Raises:
            NotFoundError: No such agent.
        """
        await self.get(agent_id)
        store = await self._core.ready()
        found = await store.find(AgentToken, {"agent_id": agent_id})
        return sorted(found, key=lambda t: (t.created_at, t.id))

    async def revoke_token(self, token_id: str) -> AgentToken:
        """Revoke an API token: it never authenticates again. Revoking twice is harmless.

        Raises:
            NotFoundError: No such token.
        """

        async def attempt() -> AgentToken:
            token = await self._load(AgentToken, token_id, "token")
            if token.revoked_at is not None:
                return token
            revoked = bump(token, revoked_at=utcnow())
            await self._core.commit(
                [Update(revoked)], [AgentTokenRevoked(token_id=token.id, agent_id=token.agent_id)]
            )
            return revoked

        return await self._core.retry(attempt)

    async def authenticate_token(self, secret: str) -> Agent:
        """The agent an API token's secret belongs to.

        The secret is looked up by its SHA-256 and the stored hash compared
        in constant time. Records when the token was last used (at most
        once a minute, so authenticating stays a read).

        Raises:
            InvalidTokenError: The secret is malformed, unknown, revoked or
                expired, or its agent no longer exists (see
                `InvalidTokenError.reason`).
        """
        if not _well_formed(secret):
            raise InvalidTokenError("malformed")
        digest = hash_token(secret)
        store = await self._core.ready()
        found = await store.find(AgentToken, {"token_hash": digest}, limit=1)
        if not found or not hmac.compare_digest(found[0].token_hash, digest):
            raise InvalidTokenError("unknown")
        token = found[0]
        now = utcnow()
        if token.revoked_at is not None:
            raise InvalidTokenError("revoked")
        if token.expires_at is not None and now >= token.expires_at:
            raise InvalidTokenError("expired")
        agent = await store.get(Agent, token.agent_id)
        if agent is None:
            raise InvalidTokenError("agent_missing")
        if token.last_used_at is None or now - token.last_used_at >= _LAST_USED_EVERY:
            # Used or revoked meanwhile: the next call records it.
            with contextlib.suppress(ConflictError):
                await self._core.commit([Update(bump(token, last_used_at=now))])
        return agent

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
