"""Rules, automatic and canned replies on one afternoon of a support team. Needs chatkit[yaml].

Run: ``pip install 'chatkit[yaml]'`` once, then ``python examples/rules_and_replies.py``
(an in-memory kit; nothing is kept). Without PyYAML it exits with that hint.

Three customers write. chatkit reads each message (language, intent,
entities, sentiment), answers at once to what was said, runs the team's
rules from a YAML file, and suggests the agent a canned reply for the
intent. The script prints each conversation and the actions the rules took.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from chatkit import AsyncChatKit, AutoReplySettings, ChatKitSettings, RuleSet
from chatkit.errors import MissingDependencyError
from chatkit.events import AutomationActionTaken

RULES_YAML = """
rules:
  - name: late order
    on: message.received
    when:
      intents: [order_status]
      entities: [order_number]
    then:
      - {type: tag, add: [late-order]}
      - {type: set_priority, priority: high}
    stop: true

  - name: angry customer
    on: message.received
    when:
      sentiment_below: -0.6
    then:
      - {type: escalate, reason: "angry customer"}
      - {type: notify, target: supervisors, message: "{{ contact.name | A customer }} is upset"}

  - name: wants a person
    on: message.received
    when:
      intents: [talk_to_human]
    then:
      - {type: tag, add: [handoff]}
"""


async def main() -> None:
    rules_file = Path(tempfile.mkdtemp()) / "automation.yaml"
    rules_file.write_text(RULES_YAML)
    settings = ChatKitSettings(
        auto_replies=AutoReplySettings(enabled=True),
        automation_rules=RuleSet.load(rules_file),  # validated here: a typo fails at start
    )
    async with AsyncChatKit("memory://", settings=settings) as kit:
        mia = await kit.agents.create(name="Mia", languages=["en", "tr"])
        await kit.canned.create(
            "/late-order",
            "Late order",
            "Hi {{ contact.first_name | there }}, order {{ order.number }} is with the carrier; "
            "I have asked them for a delivery date.",
            intents=["order_status"],
        )
        await kit.canned.create(
            "/gecikme",
            "Geciken sipariş",
            "Merhaba {{ contact.first_name | }}, {{ order.number }} numaralı siparişinizi "
            "kargo firmasına sordum.",
            language="tr",
            intents=["order_status"],
        )
        customers = [
            ("Ada", "I ordered on August 1st, it's 4 days late, my order number is 245-12784"),
            ("Sam", "Nobody answered for two days and your team is terrible. Unacceptable!"),
            ("Ece", "Siparişim 245-99001 hâlâ gelmedi, ne zaman gelir?"),
        ]
        for name, text in customers:
            inbound = await kit.messages.receive(channel="web", sender=name, name=name, text=text)
            found = inbound.message.analysis
            assert found is not None
            print(f"{name}: {text}")
            print(
                f"  understood: {found.language}, {found.intent}, "
                f"{[e.value for e in found.entities if e.type == 'order_number']}, "
                f"{found.sentiment_label}"
            )
            if inbound.acknowledgement is not None:
                print(f"  bot: {inbound.acknowledgement.text}")
            conversation = inbound.conversation
            language = conversation.language or "en"
            suggested = await kit.canned.suggest(intent=conversation.intent, language=language)
            if suggested and conversation.intent in suggested[0].intents:
                numbers = found.entity_values("order_number")
                sent = await kit.canned.send(
                    conversation.id,
                    suggested[0].shortcut,
                    agent_id=mia.id,
                    context={"order": {"number": numbers[0] if numbers else "your order"}},
                )
                print(f"  Mia ({suggested[0].shortcut}): {sent.text}")

        await kit.automation.drain()  # a dispatcher does this continuously in production
        events = (await kit.events.list(limit=1000)).items
        for event in events:
            if isinstance(event, AutomationActionTaken):
                print(f"rule {event.rule!r}: {event.action} {event.detail}".rstrip())
        for reply in (await kit.canned.list()).items:
            print(f"{reply.shortcut} used {reply.usage_count} time(s)")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except MissingDependencyError as exc:  # no PyYAML: say what to install, in one line
        sys.exit(str(exc))
