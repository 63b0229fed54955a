"""Chat milestones: the outbox events an analytics integration (`SyncObject.EVENT`) sends.

Each milestone gets a stable local id, so the id map holds it once however
often its outbox event is read: ``<conversation>#chat_started``,
``<conversation>#first_reply``, ``<conversation>#handover``,
``<conversation>#resolved#<event id>`` (a conversation may be resolved again
after it reopened) and ``<survey>#rated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import JsonValue

from ..events import (
    BotHandoff,
    ConversationAssigned,
    ConversationCreated,
    ConversationStatusChanged,
    Event,
    MessageCreated,
    SurveyAnswered,
)
from ..models import AuthorRole, Conversation, ConversationStatus, MessageKind, WebSession, Website

__all__ = ["MILESTONES", "Milestone", "event_data", "milestones", "visitor_of"]

MILESTONES = ("chat_started", "first_reply", "handover", "resolved", "rated")
"""The milestones, in the order a chat reaches them."""

Milestone = tuple[str, str | None, dict[str, JsonValue]]
"""A milestone's local id, its conversation, and its payload."""


def _payload(
    name: str, event: Event, conversation_id: str | None, params: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    return {
        "event": name,
        "occurred_at": event.occurred_at.isoformat(),
        "conversation_id": conversation_id,
        "contact_id": event.contact_id,
        "params": params,
    }


def milestones(event: Event) -> list[Milestone]:
    """The milestones ``event`` marks (none for most events)."""
    cid = event.conversation_id
    if isinstance(event, ConversationCreated):
        conversation = event.conversation
        payload = _payload(
            "chat_started", event, conversation.id, {"channel": conversation.channel.value}
        )
        payload["contact_id"] = event.contact_id or conversation.contact_id
        return [(f"{conversation.id}#chat_started", conversation.id, payload)]
    if cid is None:
        return []
    if isinstance(event, MessageCreated):
        message = event.message
        if message.kind is MessageKind.TEXT and message.author.role is AuthorRole.AGENT:
            return [(f"{cid}#first_reply", cid, _payload("first_reply", event, cid, {}))]
        return []
    if isinstance(event, BotHandoff):
        params: dict[str, JsonValue] = {"source": "bot"}
        return [(f"{cid}#handover", cid, _payload("handover", event, cid, params))]
    if isinstance(event, ConversationAssigned):
        if event.assignee_id is None or event.previous_assignee_id is not None:
            return []
        params = {"source": "assignment"}
        if event.team:
            params["team"] = event.team
        return [(f"{cid}#handover", cid, _payload("handover", event, cid, params))]
    if isinstance(event, ConversationStatusChanged):
        if event.to_status is not ConversationStatus.RESOLVED:
            return []
        return [(f"{cid}#resolved#{event.id}", cid, _payload("resolved", event, cid, {}))]
    if isinstance(event, SurveyAnswered):
        survey = event.survey
        params = {"score": round(event.score, 3), "low_rating": int(event.low_rating)}
        payload = _payload("rated", event, survey.conversation_id, params)
        payload["contact_id"] = event.contact_id or survey.contact_id
        return [(f"{survey.id}#rated", survey.conversation_id, payload)]
    return []


def visitor_of(
    sessions: Sequence[WebSession], websites: Mapping[str, Website]
) -> dict[str, JsonValue]:
    """The analytics identity and consent of a contact, from their web sessions.

    The newest session that carries an analytics client id counts (else the
    newest session): its client id, its consent, its website's consent
    requirement, and the website's user id of a signed-in visitor (an
    ``external`` identity; an e-mail address is never passed on).
    """
    ordered = sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)
    chosen = next((s for s in ordered if s.analytics_client_id), ordered[0] if ordered else None)
    if chosen is None:
        return {"client_id": None, "user_id": None, "consent": None, "consent_required": True}
    site = websites.get(chosen.website_id)
    user_id = None
    kind, _, rest = (chosen.identity or "").partition(":")
    if kind == "external":
        user_id = rest.partition(":")[2] or None
    consent = chosen.analytics_consent
    return {
        "client_id": chosen.analytics_client_id,
        "user_id": user_id,
        "consent": consent.model_dump(mode="json") if consent is not None else None,
        "consent_required": site.analytics_consent_required if site is not None else True,
        "website_id": chosen.website_id,
    }


def _seconds_since(start: datetime, at: str) -> JsonValue:
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return max(0, round((moment - start).total_seconds()))


def event_data(
    payload: Mapping[str, JsonValue],
    conversation: Conversation | None,
    visitor: dict[str, JsonValue],
) -> dict[str, JsonValue]:
    """What is pushed for a milestone: its payload, timing figures, and the visitor."""
    raw = payload.get("params")
    params: dict[str, JsonValue] = dict(raw) if isinstance(raw, dict) else {}
    name = payload.get("event")
    at = str(payload.get("occurred_at") or "")
    if conversation is not None and name in ("first_reply", "handover", "resolved"):
        key = {"first_reply": "response_seconds", "handover": "wait_seconds"}.get(
            str(name), "duration_seconds"
        )
        seconds = _seconds_since(conversation.created_at, at)
        if seconds is not None:
            params[key] = seconds
    if conversation is not None and "channel" not in params:
        params["channel"] = conversation.channel.value
    return {**payload, "params": params, "visitor": visitor}
