"""Input validation, property-based: whatever a caller passes, chatkit either does the
right thing or raises a typed `InvalidInputError` having written nothing — never a raw
TypeError, AttributeError, pydantic or driver error."""

from __future__ import annotations

import base64
import string
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKitError,
    InvalidInputError,
    MessageTooLargeError,
    NotFoundError,
)
from chatkit.models import (
    ConversationStatus,
    IdentityKind,
    MessageKind,
    Priority,
    TicketStatus,
    normalize_identity,
    utcnow,
)

pytestmark = pytest.mark.anyio

FIXTURE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FEW = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

LIMIT = 10_000

# -- strategies --------------------------------------------------------------------------

printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
"""Any text that is valid to store (no lone surrogate, no NUL), possibly blank."""

valid_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=300,
).filter(lambda s: bool(s.strip()))
"""Any message text chatkit must accept and give back unchanged."""

surrogate = st.integers(0xD800, 0xDFFF).map(chr)


@st.composite
def with_poison(draw: st.DrawFn, poison: st.SearchStrategy[str]) -> str:
    """Ordinary text with a bad character somewhere inside."""
    return draw(printable) + draw(poison) + draw(printable)


bad_text = st.one_of(
    with_poison(surrogate),
    with_poison(st.just("\x00")),
    st.text(alphabet=" \t\r\n\u00a0\u2003\u3000\x0b\x0c", max_size=30),  # blank or empty
    st.integers(LIMIT + 1, LIMIT + 50).flatmap(
        lambda n: st.sampled_from("xé🙂 ").map(lambda c: c * n)
    ),
)
"""Text that must be refused."""

not_a_string = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)

something = not_a_string.filter(lambda v: v is not None and v not in ([], {}, b""))
"""A wrong type where ``None`` means "not given" (and an empty collection, "none of these")."""

bad_id = st.one_of(not_a_string, st.just(""), with_poison(surrogate), with_poison(st.just("\x00")))
"""Values that can never be an id."""

naive_datetime = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


def _not_in(values: set[str]) -> st.SearchStrategy[str]:
    return st.text(max_size=12).filter(lambda s: s not in values)


async def _written(kit: AsyncChatKit, conversation_id: str) -> tuple[int, list[str]]:
    """What has been written so far: the last outbox position and the message ids."""
    messages = (await kit.messages.list(conversation_id, limit=1000)).items
    return await kit.store.last_position(), [m.id for m in messages]


async def _refused(call: Awaitable[object]) -> InvalidInputError:
    """Run ``call`` and insist it raised InvalidInputError (or a subclass)."""
    try:
        result = await call
    except InvalidInputError as exc:
        return exc
    except Exception as exc:  # the assertion shows what leaked
        raise AssertionError(f"{type(exc).__name__} leaked: {exc!r}") from exc
    raise AssertionError(f"accepted, returned {result!r}")


# -- message text ------------------------------------------------------------------------


@FIXTURE
@given(text=bad_text)
async def test_bad_message_text_is_refused_and_nothing_written(
    kit: AsyncChatKit, text: str
) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    error = await _refused(kit.messages.send(conv.id, text, author=Author.customer(contact.id)))
    assert error.field == "text"
    if len(text) > LIMIT and text.strip():
        assert isinstance(error, MessageTooLargeError)
        assert (error.length, error.limit) == (len(text), LIMIT)
    assert await _written(kit, conv.id) == before


@FIXTURE
@given(text=bad_text)
async def test_bad_inbound_text_is_refused_before_anything_is_written(
    kit: AsyncChatKit, text: str
) -> None:
    before = await kit.store.last_position()
    await _refused(kit.messages.receive(channel="sms", sender="+15550100000", text=text))
    assert await kit.store.last_position() == before
    # No contact and no conversation were left behind.
    assert await kit.contacts.find(("phone", "+15550100000")) is None
    assert (await kit.contacts.list()).items == []


@FEW
@given(text=bad_text)
async def test_bad_note_text_is_refused(kit: AsyncChatKit, text: str) -> None:
    agents = (await kit.agents.list(limit=1)).items
    mia = agents[0] if agents else await kit.agents.create(name="Mia")
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    await _refused(kit.messages.note(conv.id, text, agent_id=mia.id))
    assert await _written(kit, conv.id) == before


@FIXTURE
@given(text=valid_text)
async def test_valid_text_round_trips_exactly(kit: AsyncChatKit, text: str) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    sent = await kit.messages.send(conv.id, text, author=Author.customer(contact.id))
    assert sent.text == text
    assert (await kit.messages.get(sent.id)).text == text
    latest = (await kit.messages.list(conv.id, limit=1)).items
    assert [(m.id, m.text) for m in latest] == [(sent.id, text)]


@FEW
@given(text=valid_text, name=printable)
async def test_valid_inbound_text_and_name_round_trip(
    kit: AsyncChatKit, text: str, name: str
) -> None:
    sender = f"visitor-{uuid.uuid4().hex}"  # a new contact every time
    inbound = await kit.messages.receive(channel="web", sender=sender, text=text, name=name)
    assert (await kit.messages.get(inbound.message.id)).text == text
    assert (await kit.contacts.get(inbound.contact.id)).name == name


@FEW
@given(
    metadata=st.dictionaries(
        printable,
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | printable,
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(printable, inner, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=4,
    )
)
async def test_valid_metadata_round_trips(kit: AsyncChatKit, metadata: dict[str, Any]) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    sent = await kit.messages.send(conv.id, "hi", author=Author.bot(), metadata=metadata)
    assert (await kit.messages.get(sent.id)).metadata == metadata


@FEW
@given(value=with_poison(surrogate))
async def test_lone_surrogates_in_free_form_fields_are_invalid_input(
    kit: AsyncChatKit, value: str
) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    conv = await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), metadata={"k": value}))
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), metadata={value: 1}))
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), idempotency_key=value))
    await _refused(kit.contacts.update(contact.id, attributes={"k": value}))
    await _refused(kit.contacts.create(name=value))
    await _refused(kit.conversations.add_tags(conv.id, value))
    await _refused(kit.conversations.create(contact_id=contact.id, subject=value))
    await _refused(kit.agents.create(name="Mia", skills=[value]))
    await _refused(kit.tickets.create(contact_id=contact.id, subject=value))
    assert await _written(kit, conv.id) == before


# -- wrong types ---------------------------------------------------------------------------


@FIXTURE
@given(value=bad_id)
async def test_ids_that_cannot_exist_are_invalid_or_not_found(
    kit: AsyncChatKit, value: Any
) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: kit.contacts.get(value),
        lambda: kit.conversations.get(value),
        lambda: kit.messages.get(value),
        lambda: kit.tickets.get(value),
        lambda: kit.agents.get(value),
        lambda: kit.messages.list(value),
        lambda: kit.messages.send(value, "hi", author=Author.bot()),
        lambda: kit.conversations.create(contact_id=value),
        lambda: kit.conversations.list(contact_id=value),
        lambda: kit.conversations.list(assignee_id=value),
        lambda: kit.tickets.list_open(owner_id=value),
        lambda: kit.tickets.list(conversation_id=value),
        lambda: kit.contacts.merge(value, value),
        lambda: kit.events.position(value),
        lambda: kit.events.set_position(value, 1),
    ]
    before = await kit.store.last_position()
    for call in calls:
        try:
            await call()
        except (InvalidInputError, NotFoundError):
            pass
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__} leaked: {exc!r}") from exc
        else:
            # Only filters may accept a value that cannot match: they find nothing.
            pass
    assert await kit.store.last_position() == before


@FIXTURE
@given(text=not_a_string)
async def test_text_that_is_not_a_string_is_invalid(kit: AsyncChatKit, text: Any) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    await _refused(kit.messages.send(conv.id, text, author=Author.bot()))
    await _refused(kit.messages.receive(channel="web", sender="visitor-2", text=text))
    assert await _written(kit, conv.id) == before


@FIXTURE
@given(author=st.one_of(not_a_string, st.text(max_size=10), st.just({"role": "agent", "id": "x"})))
async def test_author_that_is_not_an_author_is_invalid(kit: AsyncChatKit, author: Any) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    error = await _refused(kit.messages.send(conv.id, "hi", author=author))
    assert error.field == "author"
    assert await _written(kit, conv.id) == before


@FIXTURE
@given(
    status=st.one_of(_not_in({s.value for s in ConversationStatus}), something),
    priority=st.one_of(_not_in({p.value for p in Priority}), not_a_string),
    kind=st.one_of(_not_in({k.value for k in MessageKind}), st.integers()),
    channel=st.one_of(
        _not_in({"web", "sms", "whatsapp", "messenger", "email", "api"}), st.integers()
    ),
    ticket_status=st.one_of(_not_in({s.value for s in TicketStatus}), something),
)
async def test_unknown_enum_values_are_invalid(
    kit: AsyncChatKit, status: Any, priority: Any, kind: Any, channel: Any, ticket_status: Any
) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    tickets = (await kit.tickets.list(conversation_id=conv.id, limit=1)).items
    ticket = (
        tickets[0] if tickets else await kit.tickets.create(conversation_id=conv.id, subject="t")
    )
    before = await _written(kit, conv.id)
    await _refused(kit.conversations.set_status(conv.id, status))
    await _refused(kit.conversations.list(status=status))
    await _refused(kit.conversations.set_priority(conv.id, priority))
    await _refused(kit.conversations.create(contact_id=contact.id, priority=priority))
    await _refused(kit.tickets.update(ticket.id, priority=priority))
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), kind=kind))
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), channel=channel))
    await _refused(kit.messages.receive(channel=channel, sender="visitor-1", text="hi"))
    await _refused(kit.tickets.set_status(ticket.id, ticket_status))
    await _refused(kit.tickets.list(status=ticket_status))
    assert await _written(kit, conv.id) == before


@FIXTURE
@given(when=naive_datetime)
async def test_naive_datetimes_are_invalid(kit: AsyncChatKit, when: datetime) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    tickets = (await kit.tickets.list(conversation_id=conv.id, limit=1)).items
    ticket = (
        tickets[0] if tickets else await kit.tickets.create(conversation_id=conv.id, subject="t")
    )
    before = await _written(kit, conv.id)
    await _refused(kit.conversations.snooze(conv.id, when))
    await _refused(kit.tickets.create(conversation_id=conv.id, subject="x", due_at=when))
    await _refused(kit.tickets.update(ticket.id, due_at=when))
    await _refused(kit.conversations.wake_snoozed(now=when))
    assert await _written(kit, conv.id) == before


async def test_wake_snoozed_with_a_naive_time_is_invalid_even_with_snoozed_conversations(
    kit: AsyncChatKit,
) -> None:
    contact = await kit.contacts.create(name="Ada")
    conv = await kit.conversations.create(contact_id=contact.id)
    await kit.conversations.snooze(conv.id, utcnow() + timedelta(minutes=1))
    before = await kit.store.last_position()
    await _refused(kit.conversations.wake_snoozed(now=datetime.now() + timedelta(hours=1)))
    assert (await kit.conversations.get(conv.id)).status is ConversationStatus.SNOOZED
    assert await kit.store.last_position() == before


@FEW
@given(until=st.one_of(not_a_string, st.text(max_size=20), st.dates()))
async def test_snooze_time_that_is_not_a_datetime_is_invalid(kit: AsyncChatKit, until: Any) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await kit.store.last_position()
    await _refused(kit.conversations.snooze(conv.id, until))
    assert await kit.conversations.get(conv.id) == conv
    assert await kit.store.last_position() == before


@FEW
@given(
    past=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2020, 1, 1), timezones=st.timezones()
    )
)
async def test_snooze_into_the_past_is_invalid(kit: AsyncChatKit, past: datetime) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await kit.store.last_position()
    await _refused(kit.conversations.snooze(conv.id, past))
    assert await kit.store.last_position() == before


@FEW
@given(
    value=st.one_of(
        st.integers(),
        st.text(min_size=1, max_size=10),
        st.lists(st.integers(), min_size=1, max_size=3),
    )
)
async def test_mappings_and_lists_of_the_wrong_shape_are_invalid(
    kit: AsyncChatKit, value: Any
) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    before = await _written(kit, conv.id)
    await _refused(kit.messages.send(conv.id, "hi", author=Author.bot(), metadata=value))
    await _refused(kit.contacts.create(attributes=value))
    await _refused(kit.contacts.update(contact.id, attributes=value))
    await _refused(kit.agents.create(name="Mia", skills=value))
    await _refused(kit.conversations.create(contact_id=contact.id, tags=value))
    assert await _written(kit, conv.id) == before


@FEW
@given(
    after=st.one_of(st.integers(max_value=-1), st.floats(), st.none(), st.text(max_size=5)),
    types=st.one_of(
        st.integers(), st.text(min_size=1, max_size=20), st.lists(st.integers(), min_size=1)
    ),
)
async def test_bad_event_arguments_are_invalid(kit: AsyncChatKit, after: Any, types: Any) -> None:
    assume(not (isinstance(after, str) and after.isascii() and after.isdigit()))
    await _refused(kit.events.list(after=after))
    if after is not None:  # None means "not given" here
        with pytest.raises(InvalidInputError):
            kit.events.subscribe(after=after)
    with pytest.raises(InvalidInputError):
        kit.events.subscribe(types=types)


@FIXTURE
@given(
    raw=st.one_of(
        st.text(max_size=30),
        st.binary(max_size=30).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    )
)
async def test_forged_page_cursors_are_invalid_or_harmless(kit: AsyncChatKit, raw: str) -> None:
    contact = await kit.contacts.identify(("web", "visitor-1"))
    page = await kit.conversations.list(contact_id=contact.id, limit=1)
    conv = page.items[0] if page.items else await kit.conversations.create(contact_id=contact.id)
    for call in (
        lambda: kit.messages.list(conv.id, cursor=raw),
        lambda: kit.conversations.list(cursor=raw),
        lambda: kit.contacts.list(cursor=raw),
        lambda: kit.agents.list(cursor=raw),
        lambda: kit.tickets.list_open(cursor=raw),
        lambda: kit.tickets.list(cursor=raw),
    ):
        try:
            await call()
        except InvalidInputError:
            pass
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__} leaked: {exc!r}") from exc


@FEW
@given(limit=st.one_of(st.integers(max_value=0), st.integers(min_value=1001), not_a_string))
async def test_page_sizes_out_of_range_are_invalid(kit: AsyncChatKit, limit: Any) -> None:
    assume(not (isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 1000))
    await _refused(kit.contacts.list(limit=limit))
    await _refused(kit.conversations.list(limit=limit))
    await _refused(kit.tickets.list_open(limit=limit))
    await _refused(kit.events.list(limit=limit))


# -- identity normalisation ------------------------------------------------------------------

separators = st.sampled_from(["", " ", "-", ".", "(", ")", "/", "  "])


@st.composite
def formatted_phone(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number written the way people do, and its canonical form."""
    digits = draw(st.text(alphabet=string.digits, min_size=5, max_size=15))
    prefix = draw(st.sampled_from(["+", "00", ""]))
    if prefix == "" and digits.startswith("00"):
        digits = "1" + digits[1:]
    pieces = [prefix]
    for digit in digits:
        pieces.append(draw(separators) + digit)
    written = draw(st.sampled_from(["", " "])) + "".join(pieces) + draw(st.sampled_from(["", " "]))
    canonical = ("+" if prefix else "") + digits
    return written, canonical


@settings(max_examples=200, deadline=None)
@given(email=st.emails())
def test_email_normalisation_is_idempotent_and_lower_case(email: str) -> None:
    for spelling in (email, email.upper(), f"  {email}  "):
        try:
            once = normalize_identity(IdentityKind.EMAIL, spelling)
        except ValueError:
            continue
        assert normalize_identity(IdentityKind.EMAIL, once) == once
        assert once == once.lower() == once.strip()


@settings(max_examples=200, deadline=None)
@given(phone=formatted_phone())
def test_phone_normalisation_strips_formatting_and_is_idempotent(phone: tuple[str, str]) -> None:
    written, canonical = phone
    once = normalize_identity(IdentityKind.PHONE, written)
    assert once == canonical
    assert normalize_identity(IdentityKind.PHONE, once) == once


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(IdentityKind), value=st.text(max_size=40))
def test_normalisation_of_any_text_is_idempotent_or_refused(kind: IdentityKind, value: str) -> None:
    try:
        once = normalize_identity(kind, value)
    except ValueError:
        return
    assert normalize_identity(kind, once) == once
    if kind is IdentityKind.PHONE:
        digits = once.removeprefix("+")
        assert digits.isascii(), once
        assert digits.isdigit(), once


@FEW
@given(phone=formatted_phone())
async def test_differently_written_phone_numbers_find_one_contact(
    kit: AsyncChatKit, phone: tuple[str, str]
) -> None:
    written, canonical = phone
    contact = await kit.contacts.identify(("phone", canonical), verified=True)
    found = await kit.contacts.find(("phone", written))
    assert found is not None
    assert found.id == contact.id


# -- settings ----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(limit=st.integers(min_value=1, max_value=60), extra=st.integers(min_value=0, max_value=5))
async def test_custom_length_limit_is_exact(limit: int, extra: int) -> None:
    from chatkit import ChatKitSettings

    async with AsyncChatKit("memory://", settings=ChatKitSettings(max_message_length=limit)) as kit:
        contact = await kit.contacts.create(name="Ada")
        conv = await kit.conversations.create(contact_id=contact.id)
        text = "é" * (limit + extra)
        if extra == 0:
            assert (await kit.messages.send(conv.id, text, author=Author.bot())).text == text
        else:
            error = await _refused(kit.messages.send(conv.id, text, author=Author.bot()))
            assert isinstance(error, MessageTooLargeError)
            assert (error.length, error.limit) == (limit + extra, limit)
            assert (await kit.messages.list(conv.id)).items == []


@pytest.mark.parametrize("value", [0, -5, 1_000_001, "many"])
def test_bad_settings_are_refused(value: object) -> None:
    from chatkit import ChatKitSettings

    with pytest.raises(InvalidInputError) as caught:
        ChatKitSettings(max_message_length=value)  # type: ignore[arg-type]
    assert caught.value.field == "max_message_length"


def test_error_hierarchy_is_typed() -> None:
    assert issubclass(MessageTooLargeError, InvalidInputError)
    assert issubclass(InvalidInputError, ChatKitError)
    assert not issubclass(InvalidInputError, (TypeError, ValueError))
    assert UTC  # silence unused import in older linters
