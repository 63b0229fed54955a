"""The kit entry points: zero-config defaults, URLs, and the sync facade."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import chatkit._facade as facade
from chatkit import (
    AsyncChatKit,
    Author,
    ChatKit,
    ChatKitError,
    ConfigurationError,
    NotFoundError,
)
from chatkit.events import MessageCreated
from chatkit.stores import MemoryStore
from chatkit.stores.sqlite import SQLiteStore

PAIRS = [
    ("contacts", facade.SyncContacts),
    ("agents", facade.SyncAgents),
    ("conversations", facade.SyncConversations),
    ("messages", facade.SyncMessages),
    ("tickets", facade.SyncTickets),
    ("events", facade.SyncEvents),
    ("attachments", facade.SyncAttachments),
    ("transcripts", facade.SyncTranscripts),
    ("retention", facade.SyncRetention),
    ("exports", facade.SyncExports),
    ("previews", facade.SyncPreviews),
    ("teams", facade.SyncTeams),
    ("routing", facade.SyncRouting),
    ("understanding", facade.SyncUnderstanding),
    ("automation", facade.SyncAutomation),
    ("canned", facade.SyncCannedReplies),
    ("kb", facade.SyncKnowledgeBase),
    ("bots", facade.SyncBots),
    ("surveys", facade.SyncSurveys),
    ("reviews", facade.SyncReviews),
    ("abuse", facade.SyncAbuse),
    ("notifications", facade.SyncNotifications),
    ("webhooks", facade.SyncWebhooks),
    ("sync", facade.SyncSync),
]


def _public_methods(obj: object) -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(type(obj))
        if not name.startswith("_") and callable(value)
    }


@pytest.mark.parametrize(("resource", "sync_class"), PAIRS)
def test_sync_facade_has_every_async_method(resource: str, sync_class: type) -> None:
    async_resource = getattr(AsyncChatKit("memory://"), resource)
    sync_names = {
        n
        for n, v in vars(sync_class).items()
        if not n.startswith("_") and not isinstance(v, property)
    }
    assert sync_names == _public_methods(async_resource)


def test_sync_methods_keep_signatures_and_docs() -> None:
    kit = ChatKit("memory://")
    try:
        for resource, _ in PAIRS:
            sync_resource = getattr(kit, resource)
            async_resource = getattr(kit.aio, resource)
            for name in _public_methods(async_resource):
                original = getattr(async_resource, name)
                twin = getattr(sync_resource, name)
                ours, theirs = inspect.signature(twin), inspect.signature(original)
                if name in ("dispatcher", "engine"):  # the same options; blocking objects
                    assert list(ours.parameters) == list(theirs.parameters)
                    continue
                assert ours.parameters == theirs.parameters, name
                if name not in ("subscribe", "open", "watch"):  # these return blocking iterators
                    assert ours.return_annotation == theirs.return_annotation, name
                    assert twin.__doc__ == original.__doc__
    finally:
        kit.close()


def test_zero_config_kit_uses_chatkit_db_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHATKIT_URL", raising=False)
    with ChatKit() as kit:
        assert isinstance(kit.store, SQLiteStore)
        kit.contacts.create(name="Ada")
    assert (tmp_path / "chatkit.db").exists()


def test_chatkit_url_environment_variable_picks_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATKIT_URL", "memory://")
    assert isinstance(AsyncChatKit().store, MemoryStore)


def test_url_and_store_together_are_rejected() -> None:
    with pytest.raises(ConfigurationError):
        AsyncChatKit("memory://", store=MemoryStore())


def test_sync_kit_round_trip_and_errors() -> None:
    with ChatKit("memory://") as kit:
        inbound = kit.messages.receive(channel="email", sender="Ada@Example.com", text="Hi")
        agent = kit.agents.create(name="Mia")
        kit.messages.send(inbound.conversation.id, "Hello Ada", author=Author.agent(agent.id))
        texts = [m.text for m in kit.messages.list(inbound.conversation.id).items]
        assert texts == ["Hi", "Hello Ada"]
        with pytest.raises(NotFoundError):
            kit.conversations.get("conv_missing")


def test_sync_subscription_resumes_by_consumer_name() -> None:
    with ChatKit("memory://") as kit:
        conv = kit.messages.receive(
            channel="web", sender="v1", text="one", verified=True
        ).conversation
        with kit.events.subscribe(consumer="audit", types={"message.created"}) as events:
            first = next(events)
        assert isinstance(first, MessageCreated)
        assert first.message.text == "one"
        kit.messages.receive(channel="web", sender="v1", text="two", verified=True)
        with kit.events.subscribe(consumer="audit", types={"message.created"}) as events:
            second = next(events)
        assert isinstance(second, MessageCreated)
        assert second.message.text == "two"
        assert second.conversation_id == conv.id


def test_closed_sync_kit_refuses_calls() -> None:
    kit = ChatKit("memory://")
    kit.agents.create(name="Mia")
    kit.close()
    kit.close()
    with pytest.raises(ChatKitError, match="closed"):
        kit.agents.list()


def test_sync_kit_works_from_inside_a_running_event_loop() -> None:
    import asyncio

    async def app_code() -> str:
        with ChatKit("memory://") as kit:
            return kit.agents.create(name="Mia").name

    assert asyncio.run(app_code()) == "Mia"
