"""How the sync engine settles a field both sides changed."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConflictPolicy", "FieldPolicy"]


class FieldPolicy(str, Enum):
    """Who wins when chatkit and the vendor both changed a field since the last sync."""

    REMOTE_WINS = "remote_wins"
    """The vendor's value is written locally."""
    LOCAL_WINS = "local_wins"
    """Ours is kept; the next push writes it to the vendor."""
    NEWEST_WINS = "newest_wins"
    """The side that changed last wins (the vendor's change time against the
    local record's ``updated_at``); a tie goes to the vendor."""


class ConflictPolicy(BaseModel):
    """The per-field policy of one integration, and its guards.

    A field changed on one side only is simply copied to the other; the
    policy decides only true conflicts. Every decision, conflict or not,
    is recorded (see `Sync.decisions`).

    Example:
        ```python
        ConflictPolicy(
            default="newest_wins",
            fields={"status": "remote_wins", "subject": "local_wins"},
        )
        ```

    Attributes:
        default: The policy of fields not listed.
        fields: Per field (``status``, ``priority``, ``subject``, ``tags``,
            ``name``): its policy.
        closed_stays_closed: Refuse a vendor change that would reopen a
            conversation closed in chatkit (closed is final here).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: FieldPolicy = FieldPolicy.NEWEST_WINS
    fields: dict[str, FieldPolicy] = Field(default_factory=dict)
    closed_stays_closed: bool = True

    def for_field(self, name: str) -> FieldPolicy:
        """The policy that decides ``name``."""
        return self.fields.get(name, self.default)
