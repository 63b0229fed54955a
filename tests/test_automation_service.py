"""Automation rules run by the kit on events: actions, their log, idempotence, idle, webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chatkit import AsyncChatKit, Author, ChatKit, ChatKitSettings, Priority, RuleSet
from chatkit.events import AutomationActionTaken, ConversationEscalated
from chatkit.models._base import utcnow

pytestmark = pytest.mark.anyio

RULES: list[dict[str, Any]] = [
    {
        "name": "late order",
        "on": "message.received",
        "when": {"intents": ["order_status"], "entities": ["order_number"]},
        "then": [
            {
                "type": "reply",
                "text": "Order {{ order.number }}: we are on it, {{ contact.first_name | there }}.",
                "variants": {"tr": "{{ order.number }} numaralı siparişinize bakıyoruz."},
            },
            {"type": "tag", "add": ["late-order"]},
            {"type": "set_priority", "priority": "high"},
            {"type": "notify", "target": "supervisors", "message": "Late: {{ order.number }}"},
        ],
        "stop": True,
    },
    {
        "name": "angry",
        "on": "message.received",
        "when": {"sentiment_below": -0.6},
        "then": [
            {"type": "escalate", "reason": "angry customer"},
            {
                "type": "create_ticket",
                "subject": "Follow up with {{ contact.name | the customer }}",
            },
        ],
    },
    {
        "name": "vip",
        "on": "conversation.created",
        "when": {"contact_equals": {"plan": "gold"}},
        "then": [{"type": "assign", "to": "lead@example.com"}],
    },
    {
        "name": "nudge",
        "on": "conversation.idle",
        "idle_minutes": 30,
        "then": [{"type": "reply", "text": "Are you still there?"}],
    },
]


@pytest.fixture
async def auto(store_url: str, tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    """A kit running `RULES`."""
    blobs = None
    if store_url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    settings = ChatKitSettings(automation_rules=RuleSet.from_list(RULES))
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as kit:
        yield kit


async def _taken(kit: AsyncChatKit) -> list[AutomationActionTaken]:
    events = (await kit.events.list(limit=1000)).items
    return [e for e in events if isinstance(e, AutomationActionTaken)]


async def test_a_rule_runs_its_actions_in_order_and_logs_each(auto: AsyncChatKit) -> None:
    inbound = await auto.messages.receive(
        channel="web", sender="v1", name="Ada Lovelace", text="Where is my order 245-12784?"
    )
    await auto.automation.drain()
    conv = await auto.conversations.get(inbound.conversation.id)
    assert conv.tags == ["late-order"]
    assert conv.priority is Priority.HIGH
    texts = [m.text for m in (await auto.messages.list(conv.id)).items]
    assert texts[-1] == "Order 245-12784: we are on it, Ada."
    taken = await _taken(auto)
    assert [(t.rule, t.action, t.ok) for t in taken] == [
        ("late order", "reply", True),
        ("late order", "tag", True),
        ("late order", "set_priority", True),
        ("late order", "notify", True),
    ]
    assert taken[-1].target == "supervisors"
    assert taken[-1].detail == "Late: 245-12784"
    assert {t.source_event_id for t in taken} == {taken[0].source_event_id}
    # Draining again does nothing twice; the rule's own reply does not trigger it.
    await auto.automation.drain()
    assert len(await _taken(auto)) == 4
    again = [m.text for m in (await auto.messages.list(conv.id)).items]
    assert again == texts


async def test_replies_come_in_the_customers_language(auto: AsyncChatKit) -> None:
    inbound = await auto.messages.receive(
        channel="web", sender="t1", text="Siparişim 245-12784 nerede? Gecikti"
    )
    await auto.automation.drain()
    texts = [m.text for m in (await auto.messages.list(inbound.conversation.id)).items]
    assert texts[-1] == "245-12784 numaralı siparişinize bakıyoruz."


async def test_a_redelivered_event_repeats_no_reply_or_escalation(auto: AsyncChatKit) -> None:
    inbound = await auto.messages.receive(
        channel="web", sender="v2", text="This is terrible, the worst service ever, I am furious!"
    )
    events = (await auto.events.list(limit=1000)).items
    await auto.automation.handle(events)
    await auto.automation.handle(events)  # as if a worker died before finishing the batch
    conv = await auto.conversations.get(inbound.conversation.id)
    assert conv.escalations == ["automation:angry"]
    escalated = [
        e
        for e in (await auto.events.list(limit=1000)).items
        if isinstance(e, ConversationEscalated)
    ]
    assert len(escalated) == 1
    assert escalated[0].reason == "angry customer"
    tickets = (await auto.tickets.list(contact_id=inbound.contact.id)).items
    assert tickets  # at least once (a crash may repeat a ticket; see the docs)
    assert tickets[0].subject == "Follow up with the customer"


async def test_assign_by_email_and_failures_are_logged_not_raised(auto: AsyncChatKit) -> None:
    vip = await auto.contacts.create(name="Gold", attributes={"plan": "gold"})
    await auto.conversations.create(contact_id=vip.id)
    await auto.automation.drain()  # nobody is lead@example.com yet
    failed = [t for t in await _taken(auto) if t.rule == "vip"]
    assert [(t.action, t.ok) for t in failed] == [("assign", False)]
    assert failed[0].error is not None
    assert "NotFoundError" in failed[0].error
    lead = await auto.agents.create(name="Lead", email="lead@example.com")
    second = await auto.conversations.create(contact_id=vip.id)
    await auto.automation.drain()
    assert (await auto.conversations.get(second.id)).assignee_id == lead.id


async def test_idle_rules_fire_once_per_quiet_spell(auto: AsyncChatKit) -> None:
    inbound = await auto.messages.receive(channel="web", sender="v3", text="hello")
    conv_id = inbound.conversation.id
    now = utcnow()
    assert await auto.automation.check_idle(now=now + timedelta(minutes=5)) == 0
    assert await auto.automation.check_idle(now=now + timedelta(minutes=31)) == 1
    assert await auto.automation.check_idle(now=now + timedelta(minutes=45)) == 0
    texts = [m.text for m in (await auto.messages.list(conv_id)).items]
    assert texts.count("Are you still there?") == 1
    await auto.messages.send(conv_id, "still here", author=Author.customer(inbound.contact.id))
    later = utcnow() + timedelta(minutes=40)
    assert await auto.automation.check_idle(now=later) == 1


async def test_webhook_posts_the_rendered_payload_and_retries(
    store_url: str, tmp_path: Path
) -> None:
    rules = RuleSet.from_list(
        [
            {
                "name": "crm",
                "on": "message.received",
                "then": [
                    {
                        "type": "webhook",
                        "url": "https://hooks.example.com/chat",
                        "payload": {"customer": "{{ contact.name | unknown }}"},
                    }
                ],
            }
        ]
    )
    settings = ChatKitSettings(automation_rules=rules)
    blobs = None
    if store_url.startswith("postgresql"):
        from chatkit.blobs import LocalBlobStore

        blobs = LocalBlobStore(tmp_path / "blobs")
    async with AsyncChatKit(store_url, settings=settings, blobs=blobs) as kit:
        with respx.mock(assert_all_called=True) as router:
            route = router.post("https://hooks.example.com/chat").mock(
                side_effect=[httpx.Response(503), httpx.Response(200)]
            )
            await kit.messages.receive(channel="web", sender="w1", name="Ada", text="hi")
            await kit.automation.drain()
        assert route.call_count == 2
        body = json.loads(route.calls[-1].request.content)
        assert body["rule"] == "crm"
        assert body["data"] == {"customer": "Ada"}
        assert route.calls[-1].request.headers["Idempotency-Key"].endswith(":crm")
        taken = await _taken(kit)
        assert [(t.action, t.ok, t.detail) for t in taken] == [("webhook", True, "200")]
        with respx.mock() as router:
            router.post("https://hooks.example.com/chat").mock(return_value=httpx.Response(400))
            await kit.messages.receive(channel="web", sender="w2", text="hi again")
            await kit.automation.drain()
        last = (await _taken(kit))[-1]
        assert (last.ok, last.action) == (False, "webhook")


async def test_no_rules_means_nothing_runs(kit: AsyncChatKit) -> None:
    await kit.messages.receive(channel="web", sender="n1", text="Where is my order 245-12784?")
    await kit.automation.drain()
    assert await _taken(kit) == []


def test_the_sync_kit_runs_rules() -> None:
    settings = ChatKitSettings(automation_rules=RuleSet.from_list(RULES))
    with ChatKit("memory://", settings=settings) as kit:
        inbound = kit.messages.receive(channel="web", sender="s1", text="order 245-12784 is late")
        kit.automation.drain()
        assert kit.conversations.get(inbound.conversation.id).tags == ["late-order"]
        assert kit.automation.rules.get("late order").stop
