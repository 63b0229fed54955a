"""Agent workload: the active-chat counter kept in step with assignments.

Every change that moves a conversation onto or off an agent's plate (assign,
claim, resolve, close, reopen, purge) also updates that agent's record in the
same commit. Both records carry versions, so the store itself refuses a
commit that raced with another: two claims of one conversation, or two
claims that would push one agent over capacity, cannot both land.
"""

from __future__ import annotations

from ..errors import AgentAtCapacityError, NotFoundError
from ..events import ConversationAssigned, Event
from ..models import Agent, Conversation, ConversationStatus
from ..models._base import utcnow
from ..stores.base import Op, Update
from ._core import Core, bump
from .pipeline import MessageDraft, standard_step
from .presence import restatus

__all__ = ["ACTIVE", "workload_changes"]

ACTIVE = frozenset(
    {ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.SNOOZED}
)
"""Statuses in which a conversation counts toward its assignee's load."""


def _holder(conversation: Conversation | None) -> str | None:
    if conversation is None or conversation.status not in ACTIVE:
        return None
    return conversation.assignee_id


async def workload_changes(
    core: Core, before: Conversation | None, after: Conversation, *, enforce: bool
) -> tuple[list[Op], Conversation, list[Event]]:
    """Agent updates for the move from ``before`` to ``after``.

    Args:
        core: The kit's core.
        before: The conversation as read (``None`` when new).
        after: Its next version.
        enforce: Raise `AgentAtCapacityError` when the new holder is full.
            Otherwise (a customer reopening a chat) the conversation is
            unassigned instead, so it goes back to the queue.

    Returns:
        The agent updates, ``after`` (unassigned if it had to be), and the
        events: ``agent.status_changed`` for an agent who became busy or
        available again, and ``conversation.assigned`` for an unassignment.
    """
    old, new = _holder(before), _holder(after)
    if old == new:
        return [], after, []
    store = await core.ready()
    ops: list[Op] = []
    events: list[Event] = []
    now = utcnow()

    def load(agent: Agent, active: int) -> None:
        fields: dict[str, object] = {"active_chats": active}
        if active > agent.active_chats:
            fields["last_assigned_at"] = now
        updated, changed = restatus(bump(agent, **fields), core.settings.presence, now, "load")
        ops.append(Update(updated))
        events.extend(changed)

    if old is not None:
        agent = await store.get(Agent, old)
        if agent is not None:
            load(agent, max(0, agent.active_chats - 1))
    if new is not None:
        agent = await store.get(Agent, new)
        if agent is None:
            raise NotFoundError("agent", new)
        if agent.active_chats >= agent.max_concurrent_chats:
            if enforce:
                raise AgentAtCapacityError(agent_id=agent.id, limit=agent.max_concurrent_chats)
            after = after.model_copy(update={"assignee_id": None})
            events.append(
                ConversationAssigned(
                    conversation_id=after.id,
                    contact_id=after.contact_id,
                    assignee_id=None,
                    previous_assignee_id=new,
                    team=after.team,
                    previous_team=after.team,
                )
            )
        else:
            load(agent, agent.active_chats + 1)
    return ops, after, events


@standard_step("workload", order=200)
async def _reopened(draft: MessageDraft) -> None:
    """The ``workload`` step of every message commit: a customer reopening a chat."""
    if draft.conversation.status is draft.before.status:
        return
    load, updated, unassigned = await workload_changes(
        draft.core, draft.before, draft.conversation, enforce=False
    )
    draft.conversation = updated
    draft.ops += load
    draft.leading += unassigned
