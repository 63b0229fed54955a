"""Typing previews: live, throttled, never stored, privacy, blocked contacts."""

from __future__ import annotations

import anyio
import pytest

from chatkit import AsyncChatKit, Author, ChatKitSettings, InvalidInputError, NotFoundError
from chatkit.models import Conversation
from chatkit.services import TypingPreview

pytestmark = pytest.mark.anyio


async def _conversation(kit: AsyncChatKit) -> Conversation:
    return (await kit.messages.receive(channel="web", sender="v1", text="hello")).conversation


async def _collect(watch: object, count: int) -> list[TypingPreview]:
    got: list[TypingPreview] = []
    with anyio.fail_after(5):
        async for preview in watch:  # type: ignore[attr-defined]
            got.append(preview)
            if len(got) == count:
                break
    return got


async def test_watchers_see_the_draft_as_it_is_typed(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    customer = Author.customer(conv.contact_id)
    async with kit.previews.watch(conv.id) as watch:
        assert await kit.previews.send(conv.id, "where is my ord", author=customer)
        [preview] = await _collect(watch, 1)
    assert preview.text == "where is my ord"
    assert preview.author == customer
    assert preview.conversation_id == conv.id


async def test_previews_are_never_stored_or_exported(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    before = await kit.store.last_position()
    await kit.previews.send(conv.id, "secret draft", author=Author.customer(conv.contact_id))
    assert await kit.store.last_position() == before
    history = await kit.messages.list(conv.id)
    assert [m.text for m in history.items] == ["hello"]
    assert "secret draft" not in await kit.transcripts.render(conv.id, format="json")


async def test_bursts_are_throttled_and_the_latest_draft_wins(store_url: str) -> None:
    settings = ChatKitSettings(preview_interval=0.2)
    async with AsyncChatKit(store_url, settings=settings) as kit:
        conv = await _conversation(kit)
        customer = Author.customer(conv.contact_id)
        async with kit.previews.watch(conv.id) as watch:
            for typed in ("w", "wh", "whe", "wher", "where"):
                await kit.previews.send(conv.id, typed, author=customer)
            got = await _collect(watch, 2)
        assert [p.text for p in got] == ["w", "where"]


async def test_privacy_setting_hides_the_text_but_not_the_typing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.contacts.update(conv.contact_id, share_typing=False)
    async with kit.previews.watch() as watch:
        await kit.previews.send(conv.id, "private words", author=Author.customer(conv.contact_id))
        [preview] = await _collect(watch, 1)
    assert preview.text is None


async def test_global_switch_hides_all_drafts(store_url: str) -> None:
    async with AsyncChatKit(store_url, settings=ChatKitSettings(typing_previews=False)) as kit:
        conv = await _conversation(kit)
        async with kit.previews.watch(conv.id) as watch:
            await kit.previews.send(conv.id, "hidden", author=Author.customer(conv.contact_id))
            [preview] = await _collect(watch, 1)
        assert preview.text is None


async def test_blocked_contacts_previews_are_dropped(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    await kit.contacts.update(conv.contact_id, blocked=True)
    async with kit.previews.watch(conv.id) as watch:
        sent = await kit.previews.send(conv.id, "abuse", author=Author.customer(conv.contact_id))
        assert sent is False
        with anyio.move_on_after(0.2) as waited:
            await watch.__anext__()
        assert waited.cancelled_caught


async def test_watchers_of_other_conversations_see_nothing(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    other = await kit.conversations.create(contact_id=conv.contact_id)
    async with kit.previews.watch(other.id) as watch:
        await kit.previews.send(conv.id, "not for you", author=Author.customer(conv.contact_id))
        with anyio.move_on_after(0.2) as waited:
            await watch.__anext__()
        assert waited.cancelled_caught


async def test_bad_previews(kit: AsyncChatKit) -> None:
    conv = await _conversation(kit)
    with pytest.raises(NotFoundError):
        await kit.previews.send("conv_missing", "x", author=Author.customer(conv.contact_id))
    with pytest.raises(InvalidInputError):
        await kit.previews.send(conv.id, "x", author=Author.system())
    with pytest.raises(InvalidInputError):
        await kit.previews.send(conv.id, "x", author=Author.customer("ct_someone_else"))
    with pytest.raises(InvalidInputError):
        await kit.previews.send(conv.id, 42, author=Author.customer(conv.contact_id))  # type: ignore[arg-type]


async def test_closed_watch_stops_iterating(kit: AsyncChatKit) -> None:
    watch = kit.previews.watch()
    watch.close()
    with anyio.fail_after(1):
        assert [p async for p in watch] == []


def test_sync_facade_watches_previews() -> None:
    from chatkit import ChatKit

    with ChatKit("memory://") as kit:
        conv = kit.messages.receive(channel="web", sender="v1", text="hi").conversation
        previews = kit.previews.watch(conv.id)
        kit.previews.send(conv.id, "typing...", author=Author.customer(conv.contact_id))
        first = next(previews)
        previews.close()
    assert first.text == "typing..."
