"""Quickstart: a customer writes in, an agent answers, a ticket is opened.

Run it with ``python examples/quickstart.py`` (uses a temporary SQLite file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from chatkit import Author, ChatKit, ChatKitSettings


def main(db: Path) -> None:
    settings = ChatKitSettings(acknowledgement="Thanks! An agent will be with you shortly.")
    with ChatKit(f"sqlite:///{db}", settings=settings) as kit:
        agent = kit.agents.create(name="Mia", skills=["orders"], languages=["en", "tr"])

        inbound = kit.messages.receive(
            channel="sms", sender="+90 555 010 0000", text="Where is my order 245-12784?"
        )
        conversation = inbound.conversation
        kit.conversations.assign(conversation.id, agent.id)
        kit.messages.send(
            conversation.id, "Checking order 245-12784 now.", author=Author.agent(agent.id)
        )
        kit.messages.note(conversation.id, "Parcel stuck at customs.", agent_id=agent.id)
        kit.conversations.add_tags(conversation.id, "delivery")
        kit.conversations.resolve(conversation.id)
        ticket = kit.tickets.create(
            conversation_id=conversation.id, subject="Follow up on customs", priority="high"
        )

        for message in kit.messages.list(conversation.id).items:
            print(f"{message.seq:>2} {message.author.role.value:>8}: {message.text}")
        print("ticket:", ticket.subject, ticket.status.value)


if __name__ == "__main__":
    main(Path(tempfile.mkdtemp()) / "quickstart.db")
