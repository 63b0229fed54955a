"""A claimed identity is not a verified one: an unproven claim of someone
else's address never joins their contact nor shows their history."""

from __future__ import annotations

import inspect
import io
import json

import pytest

from chatkit import (
    AsyncChatKit,
    Author,
    ChatKit,
    ChatKitSettings,
    ConflictError,
    Identity,
    IdentityClaim,
    InvalidInputError,
    NotFoundError,
)

pytestmark = pytest.mark.anyio

VICTIM = "victim@example.com"
SECRET = "My card ends 4242 and I live at 7 Elm Street"


async def _victim(kit: AsyncChatKit) -> tuple[str, str]:
    """A signed-in customer with a conversation full of history: (contact id, conversation id)."""
    victim = await kit.contacts.create(
        name="Victim", identities=[Identity(kind="email", value=VICTIM, verified=True)]
    )
    inbound = await kit.messages.receive(
        channel="web", sender=("email", VICTIM), text=SECRET, verified=True
    )
    assert inbound.contact.id == victim.id
    agent = await kit.agents.create(name="Mia")
    await kit.messages.send(
        inbound.conversation.id, "Your refund goes to card 4242", author=Author.agent(agent.id)
    )
    return victim.id, inbound.conversation.id


async def _texts(kit: AsyncChatKit, conversation_id: str) -> list[str]:
    return [m.text for m in (await kit.messages.list(conversation_id, limit=200)).items]


async def test_claiming_a_victims_address_on_the_web_shows_none_of_their_history(
    kit: AsyncChatKit,
) -> None:
    victim_id, victim_conv = await _victim(kit)
    attack = await kit.messages.receive(
        channel="web", sender=("email", VICTIM), text="Show me my previous messages"
    )
    assert attack.contact.id != victim_id
    assert attack.conversation.id != victim_conv
    assert attack.new_conversation
    assert await _texts(kit, attack.conversation.id) == ["Show me my previous messages"]
    context = await kit.conversations.context(attack.conversation.id)
    assert [m.text for m in context.history] == ["Show me my previous messages"]
    assert context.previous_conversations == []
    # Agents see whom it claims to be, and who holds that identity.
    claim = IdentityClaim(identity=Identity(kind="email", value=VICTIM), contact_id=victim_id)
    assert context.conversation.claim == claim
    assert (await kit.conversations.get(attack.conversation.id)).claim == claim
    assert attack.contact.claims == [claim]
    assert attack.contact.identities == []  # the claim leads nowhere
    # The victim keeps their contact, conversation and identity, untouched.
    found = await kit.contacts.find(("email", VICTIM))
    assert found is not None
    assert found.id == victim_id
    assert found.identities == [Identity(kind="email", value=VICTIM)]
    assert found.identities[0].verified
    assert await _texts(kit, victim_conv) == [SECRET, "Your refund goes to card 4242"]
    assert (await kit.conversations.get(victim_conv)).claim is None


async def test_a_reused_visitor_id_without_proof_starts_its_own(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="web", sender="visitor-1", text="I am first")
    second = await kit.messages.receive(channel="web", sender="visitor-1", text="I am second")
    third = await kit.messages.receive(channel="web", sender="visitor-1", text="I am third")
    assert len({first.contact.id, second.contact.id, third.contact.id}) == 3
    assert len({first.conversation.id, second.conversation.id, third.conversation.id}) == 3
    assert first.conversation.claim is None
    assert first.contact.identities == [Identity(kind="web", value="visitor-1")]
    assert not first.contact.identities[0].verified
    for later in (second, third):
        assert later.conversation.claim == IdentityClaim(
            identity=Identity(kind="web", value="visitor-1"), contact_id=first.contact.id
        )
        assert await _texts(kit, later.conversation.id) == [later.message.text]
    assert await _texts(kit, first.conversation.id) == ["I am first"]


async def test_email_from_headers_are_claims_by_default(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="email", sender="ada@example.com", text="one")
    again = await kit.messages.receive(channel="email", sender="ada@example.com", text="two")
    assert again.contact.id != first.contact.id
    assert again.conversation.claim is not None


async def test_a_signed_in_visitor_keeps_one_conversation(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(
        channel="web", sender="visitor-1", text="hello", verified=True
    )
    again = await kit.messages.receive(
        channel="web", sender="visitor-1", text="still me", verified=True
    )
    assert again.contact.id == first.contact.id
    assert again.conversation.id == first.conversation.id
    assert await _texts(kit, first.conversation.id) == ["hello", "still me"]
    assert first.contact.identities[0].verified


async def test_sms_senders_are_verified_by_default_and_join(kit: AsyncChatKit) -> None:
    first = await kit.messages.receive(channel="sms", sender="+1 555 010 0000", text="hi")
    again = await kit.messages.receive(channel="whatsapp", sender="+15550100000", text="again")
    assert again.contact.id == first.contact.id
    assert again.conversation.id == first.conversation.id
    assert first.contact.identities == [Identity(kind="phone", value="+15550100000")]
    assert first.contact.identities[0].verified


async def test_an_explicit_identity_on_sms_is_a_claim_unless_verified(kit: AsyncChatKit) -> None:
    victim_id, victim_conv = await _victim(kit)
    claim = await kit.messages.receive(channel="sms", sender=("email", VICTIM), text="me?")
    assert claim.contact.id != victim_id
    told = await kit.messages.receive(
        channel="sms", sender=Identity(kind="email", value=VICTIM, verified=True), text="me!"
    )
    assert told.conversation.id == victim_conv
    # An explicit verified=False wins over the identity's own flag.
    denied = await kit.messages.receive(
        channel="sms",
        sender=Identity(kind="email", value=VICTIM, verified=True),
        text="not proven",
        verified=False,
    )
    assert denied.contact.id not in (victim_id, claim.contact.id)


async def test_verified_channels_is_a_setting(store_url: str) -> None:
    settings = ChatKitSettings(verified_channels=["web"])
    async with AsyncChatKit(store_url, settings=settings) as kit:
        web = [
            await kit.messages.receive(channel="web", sender="visitor-9", text=t)
            for t in ("a", "b")
        ]
        sms = [
            await kit.messages.receive(channel="sms", sender="+15550100009", text=t)
            for t in ("a", "b")
        ]
    assert web[0].conversation.id == web[1].conversation.id
    assert sms[0].contact.id != sms[1].contact.id
    assert sms[1].conversation.claim is not None


async def test_a_verified_claim_joins_and_marks_the_identity_verified(kit: AsyncChatKit) -> None:
    unproven = await kit.messages.receive(channel="web", sender=("email", VICTIM), text="hi")
    assert not unproven.contact.identities[0].verified
    proven = await kit.messages.receive(
        channel="web", sender=("email", VICTIM), text="signed in now", verified=True
    )
    assert proven.contact.id == unproven.contact.id
    assert proven.conversation.id == unproven.conversation.id
    assert proven.contact.identities[0].verified
    assert (await kit.contacts.get(unproven.contact.id)).identities[0].verified
    # An unverified claim still never joins it.
    later = await kit.messages.receive(channel="web", sender=("email", VICTIM), text="me too")
    assert later.contact.id != proven.contact.id


async def test_identify_follows_the_same_rule(kit: AsyncChatKit) -> None:
    holder = await kit.contacts.identify(("email", VICTIM))
    assert not holder.identities[0].verified
    claimant = await kit.contacts.identify(("email", VICTIM), name="Mallory")
    assert claimant.id != holder.id
    assert claimant.name == "Mallory"
    assert claimant.claims == [
        IdentityClaim(identity=Identity(kind="email", value=VICTIM), contact_id=holder.id)
    ]
    again = await kit.contacts.identify(("email", VICTIM))
    assert again.id not in (holder.id, claimant.id)
    proven = await kit.contacts.identify(("email", VICTIM), verified=True)
    assert proven.id == holder.id
    assert proven.identities[0].verified
    also = await kit.contacts.identify(Identity(kind="email", value=VICTIM, verified=True))
    assert also.id == holder.id


async def test_verify_upgrades_a_held_identity(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    assert not ada.identities[0].verified
    verified = await kit.contacts.verify(ada.id, ("email", "ADA@example.com"))
    assert verified.identities[0].verified
    assert verified.version == ada.version + 1
    assert (await kit.contacts.get(ada.id)).identities[0].verified
    events = [e.type for e in (await kit.events.list()).items]
    assert events[-1] == "contact.updated"
    same = await kit.contacts.verify(ada.id, ("email", "ada@example.com"))
    assert same.version == verified.version  # nothing to do, nothing written
    # Proof of who holds it is not proof of whoever claims it.
    claim = await kit.messages.receive(channel="email", sender="ada@example.com", text="hi")
    assert claim.contact.id != ada.id


async def test_verify_refuses_what_the_contact_does_not_hold(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
    other = await kit.contacts.create(name="Bob", identities=[("email", "bob@example.com")])
    with pytest.raises(InvalidInputError):
        await kit.contacts.verify(ada.id, ("email", "bob@example.com"))
    with pytest.raises(NotFoundError):
        await kit.contacts.verify("ct_missing", ("email", "ada@example.com"))
    assert not (await kit.contacts.get(other.id)).identities[0].verified
    assert not (await kit.contacts.get(ada.id)).identities[0].verified


async def test_create_and_add_identity_keep_the_flag(kit: AsyncChatKit) -> None:
    ada = await kit.contacts.create(
        identities=[
            Identity(kind="email", value="ada@example.com", verified=True),
            ("phone", "+15550100000"),
            ("email", "ADA@example.com"),  # the same identity, given twice
        ]
    )
    assert [(i.key, i.verified) for i in ada.identities] == [
        ("email:ada@example.com", True),
        ("phone:+15550100000", False),
    ]
    more = await kit.contacts.add_identity(ada.id, ("web", "visitor-1"))
    assert not more.identities[-1].verified
    upgraded = await kit.contacts.add_identity(
        ada.id, Identity(kind="phone", value="+15550100000", verified=True)
    )
    assert upgraded.identities[1].verified


async def test_merge_keeps_each_identitys_flag_and_answers_claims(kit: AsyncChatKit) -> None:
    victim_id, _ = await _victim(kit)
    await kit.contacts.add_identity(victim_id, ("phone", "+15550100000"))
    claimant = await kit.messages.receive(channel="web", sender=("email", VICTIM), text="it's me")
    await kit.contacts.add_identity(
        claimant.contact.id, Identity(kind="web", value="visitor-7", verified=True)
    )
    merged = await kit.contacts.merge(victim_id, claimant.contact.id)
    assert [(i.key, i.verified) for i in merged.identities] == [
        (f"email:{VICTIM}", True),
        ("phone:+15550100000", False),
        ("web:visitor-7", True),
    ]
    assert merged.claims == []  # answered: the merged contact holds the identity
    stored = await kit.contacts.get(claimant.contact.id)
    assert stored.id == victim_id
    assert stored.identities == merged.identities
    assert [i.verified for i in stored.identities] == [True, False, True]
    moved = await kit.conversations.get(claimant.conversation.id)
    assert moved.contact_id == victim_id
    assert moved.claim is not None  # how the conversation started stays on record


async def test_export_and_import_keep_flags_and_claims(kit: AsyncChatKit) -> None:
    victim_id, victim_conv = await _victim(kit)
    await kit.contacts.add_identity(victim_id, ("phone", "+15550100000"))
    claimant = await kit.messages.receive(channel="web", sender=("email", VICTIM), text="hi")
    buffer = io.StringIO()
    assert await kit.exports.write_jsonl(buffer) == 2
    written = buffer.getvalue().splitlines()
    lines = {json.loads(line)["conversation"]["id"]: line for line in written}
    victim_line = json.loads(lines[victim_conv])
    assert [i["verified"] for i in victim_line["contact"]["identities"]] == [True, False]
    claim_line = json.loads(lines[claimant.conversation.id])
    assert claim_line["conversation"]["claim"] == {
        "identity": {"kind": "email", "value": VICTIM, "verified": False},
        "contact_id": victim_id,
    }
    async with AsyncChatKit("memory://") as other:
        buffer.seek(0)
        assert await other.exports.read_jsonl(buffer) == 2
        contact = await other.contacts.get(victim_id)
        assert [i.verified for i in contact.identities] == [True, False]
        conv = await other.conversations.get(claimant.conversation.id)
        assert conv.claim == claimant.conversation.claim
        again = io.StringIO()
        await other.exports.write_jsonl(again)
        assert sorted(again.getvalue().splitlines()) == sorted(buffer.getvalue().splitlines())
        # The imported flags work: the verified holder is joined only with proof.
        proven = await other.messages.receive(
            channel="email", sender=VICTIM, text="back", verified=True
        )
        assert proven.conversation.id == victim_conv
        # Re-importing a line whose flag was changed is a clash, not a silent skip.
        edited = lines[victim_conv].replace('"verified":true', '"verified":false')
        with pytest.raises(ConflictError, match="different content"):
            await other.exports.read_jsonl(io.StringIO(edited + "\n"))


@pytest.mark.parametrize("bad", ["yes", 1, 0, "true", None])
async def test_bad_verified_flags_are_refused_and_write_nothing(
    kit: AsyncChatKit, bad: object
) -> None:
    if bad is not None:
        with pytest.raises(InvalidInputError) as caught:
            await kit.messages.receive(
                channel="web",
                sender="visitor-1",
                text="hi",
                verified=bad,  # type: ignore[arg-type]
            )
        assert caught.value.field == "verified"
    with pytest.raises(InvalidInputError):
        await kit.contacts.identify(("email", VICTIM), verified=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await kit.contacts.create(identities=[("email", VICTIM, True)])  # type: ignore[list-item]
    assert (await kit.contacts.list()).items == []
    assert (await kit.conversations.list()).items == []
    assert (await kit.events.list()).items == []


def test_identity_equality_ignores_the_flag() -> None:
    proven = Identity(kind="email", value="Ada@Example.com", verified=True)
    claimed = Identity(kind="email", value="ada@example.com")
    assert proven == claimed
    assert hash(proven) == hash(claimed)
    assert proven.key == claimed.key == "email:ada@example.com"
    assert proven.verified
    assert not claimed.verified
    with pytest.raises(ValueError, match="verified"):
        Identity(kind="email", value="ada@example.com", verified="yes")  # type: ignore[arg-type]


def test_the_blocking_twins_take_the_flag() -> None:
    with ChatKit("memory://") as kit:
        assert "verified" in inspect.signature(kit.messages.receive).parameters
        assert "verified" in inspect.signature(kit.contacts.identify).parameters
        first = kit.messages.receive(channel="web", sender="v-1", text="a", verified=True)
        again = kit.messages.receive(channel="web", sender="v-1", text="b", verified=True)
        assert again.conversation.id == first.conversation.id
        claim = kit.messages.receive(channel="web", sender="v-1", text="c")
        assert claim.conversation.id != first.conversation.id
        held = kit.contacts.create(identities=[("email", "ada@example.com")])
        assert kit.contacts.verify(held.id, ("email", "ada@example.com")).identities[0].verified
