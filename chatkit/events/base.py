"""`BaseEvent`: the fields every domain event has."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..models._base import UTCDateTime, new_id, utcnow

__all__ = ["BaseEvent"]


class BaseEvent(BaseModel):
    """Fields every event has.

    Attributes:
        id: Stable unique id (``evt_...``); use it to de-duplicate.
        type: The discriminator, e.g. ``"message.created"``.
        occurred_at: When the change was made (UTC).
        position: Place in the outbox, assigned by the store on commit;
            strictly increasing in commit order. ``None`` before commit.
        conversation_id: The conversation concerned, if any.
        contact_id: The contact concerned, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: new_id("evt"))
    occurred_at: UTCDateTime = Field(default_factory=utcnow)
    position: int | None = None
    conversation_id: str | None = None
    contact_id: str | None = None
