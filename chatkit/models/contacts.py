"""Contacts: one customer, many identities across channels."""

from __future__ import annotations

import re
from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from ._base import Record, SafeJsonObject, SafeText

__all__ = [
    "Contact",
    "Identity",
    "IdentityClaim",
    "IdentityKind",
    "IdentityRecord",
    "normalize_identity",
]


class IdentityKind(str, Enum):
    """How a contact can be recognised when they write in.

    SMS and WhatsApp both use ``phone``, so a customer who switches between
    them stays one contact.
    """

    EMAIL = "email"
    PHONE = "phone"
    WEB = "web"
    """A web-widget visitor id."""
    MESSENGER = "messenger"
    """A Facebook Messenger page-scoped id."""
    EXTERNAL = "external"
    """An id in another system, written ``"<system>:<id>"`` (e.g. ``"salesforce:003..."``)."""


_PHONE_JUNK = re.compile(r"[\s().\-/]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _quoted(value: str) -> str:
    """``repr(value)`` cut to about 100 characters, so errors stay short."""
    return repr(value) if len(value) <= 100 else repr(value[:99]) + "\u2026"


def normalize_identity(kind: IdentityKind, value: str) -> str:
    """Return the canonical form under which an identity is stored and matched.

    E-mail addresses are lower-cased; phone numbers lose spaces, dots, dashes
    and brackets (``"+1 (555) 010-0000"`` becomes ``"+15550100000"``) and a
    leading ``00`` becomes ``+``.

    Raises:
        ValueError: When the value cannot be an identity of that kind.
    """
    value = value.strip()
    if not value:
        raise ValueError(f"{kind.value} identity is empty")
    if kind is IdentityKind.EMAIL:
        value = value.lower()
        if not _EMAIL.match(value):
            raise ValueError(f"{_quoted(value)} is not an e-mail address")
    elif kind is IdentityKind.PHONE:
        # Decimal digits of any script (Arabic-Indic, Devanagari...) become ASCII, so one
        # number is one identity; other digit-like characters (superscripts) are refused.
        value = "".join(str(int(c)) if c.isdecimal() else c for c in _PHONE_JUNK.sub("", value))
        if value.startswith("00"):
            value = "+" + value[2:]
        digits = value[1:] if value.startswith("+") else value
        if not digits.isdecimal() or not 5 <= len(digits) <= 15:
            raise ValueError(f"{_quoted(value)} is not a phone number")
    elif kind is IdentityKind.EXTERNAL and ":" not in value:
        raise ValueError("external identities are written '<system>:<id>'")
    if len(value) > 320:
        raise ValueError("identity is longer than 320 characters")
    return value


class Identity(BaseModel):
    """One way to recognise a contact: a kind, a normalised value, and whether it was proven.

    ``verified`` says whether whoever presented the identity proved it is
    theirs: a user the host application signed in, a phone number or
    address the channel's provider delivered from, a widget visitor id the
    host issued and checked. An identity that was only claimed (a visitor
    id a browser sent, an e-mail address typed into a form or written in a
    ``From:`` header) is not verified. See "Verified and claimed identities"
    in the contacts concept page for what chatkit does with each.

    Two identities are the same identity when their kind and value are: the
    flag does not take part in ``==``, in ``hash`` or in `key`, so
    ``Identity(kind="email", value="a@x.io", verified=True)`` is found in a
    list holding the unverified one, and the identity index (one contact
    per key) is untouched by it. Compare ``verified`` explicitly where it
    matters.

    Example:
        >>> Identity(kind="email", value="Ada@Example.com").value
        'ada@example.com'
        >>> Identity(kind="email", value="ada@example.com", verified=True) == Identity(
        ...     kind="email", value="ada@example.com")
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: IdentityKind
    value: SafeText
    verified: StrictBool = False

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        return value if kind is None else normalize_identity(kind, value)

    @property
    def key(self) -> str:
        """The store key of this identity, ``"<kind>:<value>"`` (the flag is not part of it)."""
        return f"{self.kind.value}:{self.value}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self) -> int:
        return hash((self.kind, self.value))

    def as_verified(self, verified: bool = True) -> Identity:
        """This identity with ``verified`` set as given."""
        return self if self.verified is verified else self.model_copy(update={"verified": verified})


class IdentityClaim(BaseModel):
    """An identity someone claimed without proof while another contact held it.

    Such a claim never joins the holder: `Messages.receive` and
    `Contacts.identify` start a contact (and conversation) of the claimant's
    own and record the claim on both, so that an agent sees whom the sender
    says they are and may merge the two (`Contacts.merge`) once satisfied.

    Attributes:
        identity: The identity claimed (``verified`` is false).
        contact_id: The contact that held it when it was claimed (`Contacts.get`
            follows merges from there).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: Identity
    contact_id: str


class Contact(Record):
    """A customer. Every conversation of theirs, on any channel, hangs off this.

    Attributes:
        name: Display name, if known.
        identities: E-mail, phone, widget visitor id and other ids that lead
            here, each with whether it was verified (`Identity.verified`).
        claims: Identities this contact's sender claimed without proof while
            another contact held them (`IdentityClaim`). They lead nowhere
            (they are not in the identity index); they tell agents whom
            this contact may be.
        attributes: Custom JSON attributes (plan, company, CRM fields...).
        merged_into: Set when this contact was merged into another one; reads
            of a merged contact return the surviving contact.
        share_typing: Whether agents may see this customer's draft while they
            type (typing previews). When off, agents see only that they type.
        blocked: Blocked contacts' typing previews are dropped.
    """

    table: ClassVar[str] = "contacts"
    columns: ClassVar[tuple[str, ...]] = ("merged_into",)

    name: SafeText | None = Field(default=None, max_length=200)
    identities: list[Identity] = Field(default_factory=list)
    claims: list[IdentityClaim] = Field(default_factory=list)
    attributes: SafeJsonObject = Field(default_factory=dict)
    merged_into: str | None = None
    share_typing: bool = True
    blocked: bool = False


class IdentityRecord(Record):
    """Index row that maps an identity key to its contact (id is the key).

    Whether the identity is verified is kept on the contact
    (`Contact.identities`), the one place it is written; the index only
    answers which contact holds a key.
    """

    table: ClassVar[str] = "identities"
    columns: ClassVar[tuple[str, ...]] = ("contact_id",)

    contact_id: str
