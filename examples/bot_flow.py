"""A late-order bot: collect the order number, answer, hand over. Needs chatkit[yaml].

It collects the order number, answers from the knowledge base and hands over.

Run: ``pip install 'chatkit[yaml]'`` once, then ``python examples/bot_flow.py``
(an in-memory kit; nothing is kept). Without PyYAML it exits with that hint.

The flow is YAML (the same file could live beside your app). A customer
writes that their order is late; the bot asks for the order number,
refuses an answer without one, answers from the knowledge base and, when
the customer asks for a person, hands the conversation over to the orders
team with a summary: what the customer wants, the order number, the intent
and mood, the article already shown. The script prints the conversation and
the summary the agent sees.
"""

from __future__ import annotations

import asyncio
import sys

from chatkit import AsyncChatKit, BotSettings, ChatKitSettings, Flow
from chatkit.errors import MissingDependencyError

LATE_ORDER = """
name: late-order
description: A customer whose order is late
start: ask_order
handoff: {team: orders, topic: delivery, priority: high}
steps:
  - id: ask_order
    type: ask
    field: order_number
    validate: order_number
    question:
      en: "Sorry about the wait! What is your order number? It looks like 245-12784."
      tr: "Beklettiğimiz için üzgünüz! Sipariş numaranız nedir? 245-12784 gibi görünür."
    retry:
      en: "I could not find an order number in that. It looks like 245-12784."
      tr: "Bunda bir sipariş numarası bulamadım. 245-12784 gibi görünür."
    next: answer
  - id: answer
    type: answer
    threshold: 0.2
    helped: thanks
    next: to_person
  - id: thanks
    type: say
    text: "Glad I could help! Order {{ fields.order_number }} is on its way."
  - id: to_person
    type: handoff
    priority: high
"""

ARTICLES = [
    (
        "My order is late",
        "Most late orders arrive within two days of the estimated delivery date. "
        "Track yours with the link in your confirmation e-mail.",
    ),
    ("Returns and refunds", "Send the item back within 30 days for a full refund."),
    ("Payment methods", "We take cards, bank transfers and gift vouchers."),
    ("Opening hours", "Support answers chats from 9:00 to 18:00 on weekdays."),
    ("Invoices", "Download invoices from your account page."),
]

CUSTOMER = [
    "Where is my order? It is two weeks late!",
    "no idea",
    "it's 245-12784",
    "That did not help. I want to talk to an agent.",
]


async def main() -> None:
    flow = Flow.from_yaml(LATE_ORDER)  # checked here: a broken flow fails at start-up
    settings = ChatKitSettings(bots=BotSettings(flows=(flow,), flow=flow.name))
    async with AsyncChatKit("memory://", settings=settings) as kit:
        await kit.teams.create("orders", categories=["delivery"])
        for title, body in ARTICLES:
            await kit.kb.create(title, body, published=True)

        conversation_id = ""
        for text in CUSTOMER:
            # A visitor the site signed in: each message continues one conversation.
            inbound = await kit.messages.receive(
                channel="web", sender="visitor-42", text=text, name="Ada Lovelace", verified=True
            )
            conversation_id = inbound.conversation.id

        print("Conversation:")
        for message in (await kit.messages.list(conversation_id)).items:
            if message.metadata.get("bot_summary"):
                continue  # the summary entry, printed below
            who = message.author.role.value
            print(f"  {who}: {message.text.replace(chr(10) * 2, ' / ')}")

        state = await kit.bots.state(conversation_id)
        assert state is not None
        assert state.summary is not None
        conversation = await kit.conversations.get(conversation_id)
        print()
        print(
            f"Bot: {state.status}; queued for team {conversation.team}, "
            f"priority {conversation.priority.value}, waiting: {conversation.waiting}"
        )
        print()
        print("Handoff summary for the agent:")
        for line in state.summary.text().splitlines():
            print(f"  {line}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except MissingDependencyError as exc:  # no PyYAML: say what to install, in one line
        sys.exit(str(exc))
