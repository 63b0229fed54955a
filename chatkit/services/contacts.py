"""Contacts: create, recognise across channels, update, merge."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from pydantic import JsonValue

from ..errors import ConflictError, DuplicateIdentityError, InvalidInputError, NotFoundError
from ..events import ContactCreated, ContactIdentityAdded, ContactMerged, ContactUpdated, Event
from ..models import Contact, Conversation, Identity, IdentityClaim, IdentityRecord, Page, Ticket
from ..models._base import Record, check_json_limits, new_id
from ..stores.base import Insert, Op, Update
from ._core import (
    UNSET,
    Core,
    Unset,
    bump,
    changed,
    check_id,
    checked,
)

__all__ = ["Contacts", "Service"]

R = TypeVar("R", bound=Record)
IdentityLike = Identity | tuple[str, str]
"""An `Identity`, or a ``(kind, value)`` pair such as ``("email", "ada@example.com")``.

A pair is an unverified identity; write ``Identity(kind=..., value=...,
verified=True)`` for one the application proved.
"""


def as_identity(value: IdentityLike) -> Identity:
    """Accept an `Identity` or a ``(kind, value)`` pair."""
    if isinstance(value, Identity):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return checked(Identity, kind=value[0], value=value[1])
    raise InvalidInputError("an identity is an Identity or a (kind, value) pair", field="identity")


def check_flag(value: object, field: str) -> None:
    """Refuse anything but ``True`` or ``False`` (``"yes"`` and ``1`` are not flags)."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{field} must be True or False", field=field)


def unique_identities(identities: Iterable[Identity]) -> list[Identity]:
    """Identities in first-seen order, one per key; verified when any copy of it is."""
    found: dict[str, Identity] = {}
    for ident in identities:
        seen = found.get(ident.key)
        if seen is not None:
            ident = seen.as_verified(seen.verified or ident.verified)
        found[ident.key] = ident
    return list(found.values())


def check_key(value: object, field: str) -> str:
    """Like `check_id`, also refusing what no store can hold in a key (NUL, lone surrogates)."""
    key = check_id(value, field)
    if "\x00" in key or (not key.isascii() and not encodable(key)):
        raise InvalidInputError(f"{field} contains a NUL or an invalid character", field=field)
    return key


def encodable(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_mapping(value: object, field: str) -> None:
    """Refuse anything but a mapping (or ``None``) where JSON attributes are expected."""
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInputError(f"{field} must be a mapping", field=field)
    if value is not None:
        # Before pydantic sees it: a depth bomb gets a short message, not its whole path.
        try:
            check_json_limits(dict(value))
        except ValueError as exc:
            raise InvalidInputError(f"{field}: {exc}", field=field) from None


class Service:
    """Base of the kit's resource services."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def _load(self, kind: type[R], id: str, resource: str) -> R:
        check_key(id, f"{resource}_id")
        store = await self._core.ready()
        record = await store.get(kind, id)
        if record is None:
            raise NotFoundError(resource, id)
        return record


class Contacts(Service):
    """Customers and the identities that recognise them on every channel.

    Example:
        ```python
        ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
        same = await kit.contacts.identify(("email", "ADA@example.com"), verified=True)
        assert same.id == ada.id  # proven: Ada's contact (unproven: a contact of its own)
        ```
    """

    async def create(
        self,
        *,
        name: str | None = None,
        identities: Sequence[IdentityLike] = (),
        attributes: Mapping[str, JsonValue] | None = None,
    ) -> Contact:
        """Create a contact.

        Identities given as ``(kind, value)`` pairs are unverified; pass
        ``Identity(kind=..., value=..., verified=True)`` for those the
        application proved (see `Identity.verified`).

        Raises:
            DuplicateIdentityError: One of the identities belongs to another contact.
            InvalidInputError: Bad name, identity or attributes.
        """
        return await self._create(name=name, identities=identities, attributes=attributes)

    async def _create(
        self,
        *,
        name: str | None = None,
        identities: Sequence[IdentityLike] = (),
        attributes: Mapping[str, JsonValue] | None = None,
        claims: Sequence[IdentityClaim] = (),
    ) -> Contact:
        check_mapping(attributes, "attributes")
        if isinstance(identities, (str, bytes, Mapping)) or not isinstance(identities, Iterable):
            raise InvalidInputError(
                "identities must be a list of Identity or (kind, value) pairs", field="identities"
            )
        idents = unique_identities(as_identity(i) for i in identities)
        contact = checked(
            Contact,
            id=new_id("ct"),
            name=name,
            identities=idents,
            claims=list(claims),
            attributes=dict(attributes or {}),
        )
        ops: list[Op] = [Insert(contact)]
        ops += [Insert(IdentityRecord(id=i.key, contact_id=contact.id)) for i in idents]
        await self._commit_claiming(
            contact.id, ops, [ContactCreated(contact_id=contact.id, contact=contact)], idents
        )
        return contact

    async def _commit_claiming(
        self,
        claimant: str,
        ops: Sequence[Op],
        events: Sequence[Event],
        identities: Sequence[Identity],
    ) -> None:
        try:
            await self._core.commit(ops, events)
        except ConflictError:
            for identity in identities:
                owner = await self._core.store.get(IdentityRecord, identity.key)
                # Claimed by the claimant itself in a race: a plain conflict, to retry.
                if owner is not None and owner.contact_id != claimant:
                    raise DuplicateIdentityError(
                        kind=identity.kind.value, value=identity.value, contact_id=owner.contact_id
                    ) from None
            raise

    async def get(self, contact_id: str) -> Contact:
        """Return a contact; a merged contact's id returns the contact it was merged into.

        Raises:
            NotFoundError: No such contact.
        """
        contact = await self._load(Contact, contact_id, "contact")
        for _ in range(100):
            if contact.merged_into is None:
                return contact
            contact = await self._load(Contact, contact.merged_into, "contact")
        raise NotFoundError("contact", contact_id)  # pragma: no cover - a merge cycle

    async def find(self, identity: IdentityLike) -> Contact | None:
        """Return the contact this identity leads to, or ``None``."""
        ident = as_identity(identity)
        store = await self._core.ready()
        record = await store.get(IdentityRecord, ident.key)
        return None if record is None else await self.get(record.contact_id)

    async def identify(
        self, identity: IdentityLike, *, name: str | None = None, verified: bool = False
    ) -> Contact:
        """Return the contact for ``identity``, creating it when nobody has it yet.

        With proof (``verified=True``, or an `Identity` whose ``verified`` is
        set), this is how a returning customer lands on their existing
        contact: the same e-mail or phone number finds the same person
        whatever the channel, and the identity is marked verified there.

        Without proof, a claim never joins a contact that already holds the
        identity: a new contact is created for the claimant, holding the
        claim in `Contact.claims` (not the identity itself), so an agent can
        see whom it claims to be and merge the two. Two unproven claimants of
        one address are two people as far as chatkit can tell, so each gets
        a contact of its own. An identity nobody holds yet goes to a new
        contact, unverified. See "Verified and claimed identities" in the
        contacts concept page.

        Safe under concurrency: two racing verified calls return the same contact.

        Args:
            identity: The identity presented.
            name: The name for a contact created for it.
            verified: Whether the application proved the identity is the
                sender's (a signed-in user, a provider-verified address).

        Raises:
            InvalidInputError: Bad identity, name, or ``verified`` not a bool.
        """
        contact, _ = await self._identify(identity, name=name, verified=verified)
        return contact

    async def _identify(
        self, identity: IdentityLike, *, name: str | None, verified: bool
    ) -> tuple[Contact, IdentityClaim | None]:
        """`identify`, also returning the claim when a claimant's contact was created."""
        check_flag(verified, "verified")
        ident = as_identity(identity)
        ident = ident.as_verified(verified or ident.verified)
        for _ in range(3):
            found = await self.find(ident)
            if found is not None:
                if ident.verified:
                    return await self.verify(found.id, ident), None
                claim = IdentityClaim(identity=ident, contact_id=found.id)
                return await self._create(name=name, claims=[claim]), claim
            try:
                return await self._create(name=name, identities=[ident]), None
            except DuplicateIdentityError:
                continue
        raise ConflictError(f"could not identify {ident.key}")  # pragma: no cover

    async def verify(self, contact_id: str, identity: IdentityLike) -> Contact:
        """Mark an identity the contact holds as verified: the application proved it.

        For example once the customer who wrote from an address followed a
        link sent to it, or signed in. From then on a verified claim of the
        identity lands on this contact, as before; unverified claims still
        never do.

        Raises:
            NotFoundError: No such contact.
            InvalidInputError: The contact does not hold the identity (to
                attach a claimant to the holder, merge the two contacts).
        """
        ident = as_identity(identity)

        async def attempt() -> Contact:
            contact = await self.get(contact_id)
            held = next((i for i in contact.identities if i == ident), None)
            if held is None:
                raise InvalidInputError(
                    f"contact {contact.id} does not hold {ident.key}", field="identity"
                )
            if held.verified:
                return contact
            identities = [i.as_verified() if i == ident else i for i in contact.identities]
            new = changed(contact, identities=identities)
            event = ContactUpdated(contact_id=new.id, contact=new, changed=["identities"])
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def update(
        self,
        contact_id: str,
        *,
        name: str | Unset | None = UNSET,
        attributes: Mapping[str, JsonValue | None] | None = None,
        share_typing: bool | Unset = UNSET,
        blocked: bool | Unset = UNSET,
    ) -> Contact:
        """Change the name, attributes or flags.

        Attributes are merged; a ``None`` value deletes a key. Arguments not
        given stay as they are.
        """
        check_mapping(attributes, "attributes")

        async def attempt() -> Contact:
            contact = await self.get(contact_id)
            updates: dict[str, object] = {}
            if not isinstance(name, Unset) and name != contact.name:
                updates["name"] = name
            for flag, setting in (("share_typing", share_typing), ("blocked", blocked)):
                if not isinstance(setting, Unset) and setting != getattr(contact, flag):
                    updates[flag] = setting
            if attributes:
                merged = dict(contact.attributes)
                for key, value in attributes.items():
                    if value is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                if merged != contact.attributes:
                    updates["attributes"] = merged
            if not updates:
                return contact
            new = changed(contact, **updates)
            event = ContactUpdated(contact_id=new.id, contact=new, changed=sorted(updates))
            await self._core.commit([Update(new)], [event])
            return new

        return await self._core.retry(attempt)

    async def add_identity(self, contact_id: str, identity: IdentityLike) -> Contact:
        """Make ``identity`` lead to this contact as well.

        A ``(kind, value)`` pair is added unverified; an `Identity` keeps its
        ``verified`` flag (and verifies the identity when the contact holds
        it already, as `verify` does).

        Raises:
            DuplicateIdentityError: It already leads to another contact.
        """
        ident = as_identity(identity)

        async def attempt() -> Contact:
            contact = await self.get(contact_id)
            if ident in contact.identities:
                return await self.verify(contact.id, ident) if ident.verified else contact
            new = bump(contact, identities=[*contact.identities, ident])
            ops: list[Op] = [Update(new), Insert(IdentityRecord(id=ident.key, contact_id=new.id))]
            event = ContactIdentityAdded(contact_id=new.id, identity=ident)
            await self._commit_claiming(new.id, ops, [event], [ident])
            return new

        return await self._core.retry(attempt)

    async def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[Contact]:
        """Page through contacts (merged ones excluded), in id order."""
        return await self._core.paged(Contact, {"merged_into": None}, limit=limit, cursor=cursor)

    async def merge(self, contact_id: str, other_id: str) -> Contact:
        """Merge contact ``other_id`` into ``contact_id``.

        Every identity, conversation and ticket of the other contact moves over;
        messages stay in their conversations. Each identity keeps its
        ``verified`` flag. Claims (`Contact.claims`) of either contact move
        over too, except those of an identity the merged contact now holds:
        the merge answered them. Attributes of ``contact_id`` win
        where both have a key. The other id keeps working: `get` on it returns
        the surviving contact. A legal hold on either contact covers the
        conversations of both afterwards (`Retention.purge`).

        Returns:
            The surviving contact.

        Raises:
            NotFoundError: Either contact does not exist.
            InvalidInputError: Both ids are the same contact.
        """

        async def attempt() -> Contact:
            keep = await self.get(contact_id)
            gone = await self.get(other_id)
            if keep.id == gone.id:
                raise InvalidInputError("cannot merge a contact into itself", field="other_id")
            store = self._core.store
            conversations = await store.find(Conversation, {"contact_id": gone.id})
            tickets = await store.find(Ticket, {"contact_id": gone.id})
            identities = unique_identities([*keep.identities, *gone.identities])
            claims = [
                c
                for c in dict.fromkeys([*keep.claims, *gone.claims])
                if c.identity not in identities
            ]
            new_keep = bump(
                keep,
                name=keep.name or gone.name,
                identities=identities,
                claims=claims,
                attributes={**gone.attributes, **keep.attributes},
            )
            ops: builtins.list[Op] = [
                Update(new_keep),
                Update(bump(gone, merged_into=keep.id, identities=[], claims=[])),
            ]
            for ident in gone.identities:
                index = await store.get(IdentityRecord, ident.key)
                if index is not None:
                    ops.append(Update(bump(index, contact_id=keep.id)))
            ops += [Update(bump(c, contact_id=keep.id)) for c in conversations]
            ops += [Update(bump(t, contact_id=keep.id)) for t in tickets]
            event = ContactMerged(
                contact_id=keep.id,
                merged_contact_id=gone.id,
                contact=new_keep,
                moved_conversation_ids=[c.id for c in conversations],
                moved_ticket_ids=[t.id for t in tickets],
            )
            await self._core.commit(ops, [event])
            return new_keep

        return await self._core.retry(attempt)
