"""Abuse: incidents reported against contacts, and blocks that refuse their messages."""

from __future__ import annotations

import ipaddress
import re
from enum import Enum
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from ._base import Record, SafeText, UTCDateTime, utcnow
from .authors import Author
from .contacts import IdentityKind, normalize_identity

__all__ = ["Block", "BlockKind", "Incident", "IncidentCategory", "block_value"]

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


class IncidentCategory(str, Enum):
    """What kind of abuse an incident is."""

    SPAM = "spam"
    HARASSMENT = "harassment"
    THREAT = "threat"
    FRAUD = "fraud"
    INAPPROPRIATE = "inappropriate"
    """Sexual, violent or otherwise inappropriate content."""
    OTHER = "other"


class Incident(Record):
    """An abuse incident: who reported what, when, about whom.

    Attributes:
        contact_id: The contact it is about.
        conversation_id: The conversation it happened in, if any.
        message_ids: The offending messages (of that conversation).
        category: What kind of abuse.
        note: Free text.
        reported_by: An agent (`Author.agent`) or a rule or bot (`Author.bot`).
        occurred_at: When it happened, to the microsecond (UTC).
    """

    table: ClassVar[str] = "incidents"
    columns: ClassVar[tuple[str, ...]] = ("contact_id", "occurred_key")
    sort_keys: ClassVar[frozenset[str]] = frozenset({"occurred_key"})

    contact_id: str
    conversation_id: str | None = None
    message_ids: list[str] = Field(default_factory=list, max_length=100)
    category: IncidentCategory
    note: SafeText | None = Field(default=None, max_length=5000)
    reported_by: Author
    occurred_at: UTCDateTime = Field(default_factory=utcnow)

    @property
    def occurred_key(self) -> str:
        """Time order: fixed-width UTC time, then id (``"2025-05-01T09:30:00.000123Z|inc_..."``)."""
        return f"{self.occurred_at.strftime(_STAMP)}|{self.id}"


class BlockKind(str, Enum):
    """What a block matches."""

    CONTACT = "contact"
    """A contact id: every message the contact writes, on any channel."""
    IDENTITY = "identity"
    """An identity key (``"email:ada@example.com"``), matched before any contact exists."""
    IP = "ip"
    """An IP address the widget reports."""
    EMAIL_DOMAIN = "email_domain"
    """An e-mail domain and its subdomains (``"spam.example"``)."""


def block_value(kind: BlockKind, value: str) -> str:
    """The canonical form a block of ``kind`` stores and matches ``value`` under.

    Identities are normalised as contacts' identities are (``"email:Ada@X.com"``
    becomes ``"email:ada@x.com"``), IP addresses compressed (``"::ffff:1.2.3.4"``
    stays distinct from ``"1.2.3.4"``), domains lower-cased without a leading ``@``.

    Raises:
        ValueError: When ``value`` cannot be a block of that kind.
    """
    value = value.strip()
    if not value:
        raise ValueError(f"a {kind.value} block needs a value")
    if kind is BlockKind.IDENTITY:
        identity_kind, sep, rest = value.partition(":")
        if not sep:
            raise ValueError("an identity block is written '<kind>:<value>', e.g. 'email:a@b.com'")
        try:
            ident_kind = IdentityKind(identity_kind.strip().lower())
        except ValueError:
            kinds = ", ".join(k.value for k in IdentityKind)
            raise ValueError(f"unknown identity kind {identity_kind!r}; one of {kinds}") from None
        return f"{ident_kind.value}:{normalize_identity(ident_kind, rest)}"
    if kind is BlockKind.IP:
        return ipaddress.ip_address(value).compressed
    if kind is BlockKind.EMAIL_DOMAIN:
        domain = value.lstrip("@").rstrip(".").lower()
        if not _DOMAIN.match(domain):
            raise ValueError(f"{value!r} is not an e-mail domain")
        return domain
    if len(value) > 200:
        raise ValueError("a contact id is at most 200 characters")
    return value


class Block(Record):
    """A block: messages that match it are refused and counted.

    Attributes:
        kind: What it matches.
        value: The canonical value (see `block_value`); unique per kind.
        contact_id: The contact it was made for, if any.
        note: Why.
        blocked_by: The agent (or rule) who made it.
        incident_id: The incident that led to it, if any.
        refused: How many messages it refused.
        last_refused_at: When it last refused one.
    """

    table: ClassVar[str] = "blocks"
    columns: ClassVar[tuple[str, ...]] = ("kind", "value")
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("kind", "value"),)

    kind: BlockKind
    value: str
    contact_id: str | None = None
    note: SafeText | None = Field(default=None, max_length=5000)
    blocked_by: Author | None = None
    incident_id: str | None = None
    refused: int = Field(default=0, ge=0)
    last_refused_at: UTCDateTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("value"), str) and "kind" in data:
            try:
                kind = BlockKind(data["kind"])
            except ValueError:
                return data  # the field check reports it
            return {**data, "value": block_value(kind, data["value"])}
        return data

    @field_validator("value")
    @classmethod
    def _safe(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("a block value holds no NUL character")
        return value
