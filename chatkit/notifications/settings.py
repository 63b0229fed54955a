"""What to notify, whom, how, and in which words."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from ..mail import SMTPSettings
from .base import NotificationKind
from .templates import NotificationTemplate

__all__ = ["NotificationSettings"]

_ALL_KINDS = frozenset(NotificationKind)


class NotificationSettings(BaseModel):
    """Ticket notifications: e-mail to customers and agents, and any notifier you add.

    Attributes:
        enabled: Master switch; when off, events are read and passed over.
        smtp: The mail server; the built-in ``email`` notifier runs when set.
        notifiers: Further notifiers by name, from the ``chatkit.notifiers``
            entry points (each built with `Notifier.from_settings`).
        options: Keyword arguments for those notifiers, by name
            (``{"slack": {"webhook_url": "https://hooks..."}}``).
        kinds: Which events notify: ``ticket.created``, ``ticket.updated``,
            ``ticket.resolved``.
        notify_customer: Write to the ticket's contact.
        notify_agent: Write to the ticket's owner.
        customer_changes: Changed fields of an update that the customer is
            told about (``subject``, ``priority``, ``owner_id``, ``due_at``,
            ``team``, ``status``); an update changing none of them sends
            them nothing.
        agent_changes: The same, for the owner.
        templates: Your templates; for a given kind, recipient and language
            they win over the built-in ones (en, ko, tr).
        default_language: The language used when the recipient's has no template.
        company_name: Filled in as ``{{ company.name }}``.
        attempts: Tries per notification for temporary failures, in the worker
            (the dispatcher retries the whole batch later after that).
        retry_delay: Seconds before the second try; doubles each time.
        max_retry_delay: Longest wait between tries.
        max_age: Events older than this when read are passed over (so that
            turning notifications on, or a worker back after a long outage,
            does not mail about old news); ``None``: no limit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    smtp: SMTPSettings | None = None
    notifiers: tuple[str, ...] = ()
    options: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    kinds: frozenset[NotificationKind] = _ALL_KINDS
    notify_customer: bool = True
    notify_agent: bool = True
    customer_changes: frozenset[str] = frozenset({"subject", "due_at", "status"})
    agent_changes: frozenset[str] = frozenset(
        {"subject", "priority", "owner_id", "due_at", "team", "status"}
    )
    templates: tuple[NotificationTemplate, ...] = ()
    default_language: str = Field(default="en", min_length=2, max_length=35)
    company_name: str | None = Field(default=None, max_length=200)
    attempts: int = Field(default=3, ge=1, le=20)
    retry_delay: float = Field(default=1.0, ge=0)
    max_retry_delay: float = Field(default=30.0, ge=0)
    max_age: timedelta | None = timedelta(days=1)

    @field_validator("templates")
    @classmethod
    def _one_per_key(
        cls, value: tuple[NotificationTemplate, ...]
    ) -> tuple[NotificationTemplate, ...]:
        seen: set[tuple[str, str, str]] = set()
        for template in value:
            if template.key in seen:
                raise ValueError(f"two templates for {template.key}")
            seen.add(template.key)
        return value
