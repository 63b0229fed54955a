"""Two-way sync with Zendesk, offline. Needs chatkit[emulators,zendesk].

A chat becomes a ticket, the ticket's progress comes back. Runs the Zendesk
emulator that ships with chatkit and talks to it with the real ``zenpy``
client:

    pip install 'chatkit[emulators,zendesk]'
    python examples/crm_sync.py

Without those extras it exits with that hint.

Against a real Zendesk account, drop the emulator and set
``CHATKIT_ZENDESK_SUBDOMAIN``, ``CHATKIT_ZENDESK_EMAIL`` and
``CHATKIT_ZENDESK_API_TOKEN``; then ``kit.sync.engine("zendesk")`` (or
``chatkit sync run zendesk``) does the same.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from chatkit import AsyncChatKit, Author

try:
    from chatkit_integrations.zendesk.emulator import ZendeskEmulator
    from chatkit_integrations.zendesk.integration import ZendeskConfig, ZendeskIntegration
except ImportError:  # an extra is missing: say what to install, in one line
    sys.exit(
        "this example needs the Zendesk emulator and zenpy: "
        "pip install 'chatkit[emulators,zendesk]'"
    )


async def main(folder: Path, zendesk: ZendeskEmulator) -> None:
    config = ZendeskConfig(
        subdomain="acme",
        email="sync@acme.example",
        api_token="example-token",  # type: ignore[arg-type]
        job_poll_interval=0,
    )
    async with AsyncChatKit(f"sqlite:///{folder / 'support.db'}") as kit:
        ada = await kit.contacts.create(name="Ada", identities=[("email", "ada@example.com")])
        chat = await kit.conversations.create(contact_id=ada.id, subject="Order 245-12784")
        await kit.messages.send(chat.id, "Where is my order?", author=Author.customer(ada.id))

        async with kit.sync.engine(ZendeskIntegration(config)) as engine:
            report = await engine.run_once()
            [ticket] = zendesk.state.find_tickets(external_id=chat.id)
            print(f"pushed {report.pushed} records: ticket #{ticket['id']} '{ticket['subject']}'")

            # An agent answers and solves the ticket in Zendesk...
            zendesk.state.add_comment(ticket["id"], "It left our warehouse today.")
            zendesk.state.update_ticket(ticket["id"], {"status": "solved"})

            # ...and the next cycle brings it into the chat.
            report = await engine.run_once()
            print(f"pulled {report.pulled} changes from Zendesk")

        chat = await kit.conversations.get(chat.id)
        print(f"conversation status: {chat.status.value}")
        for message in (await kit.messages.list(chat.id)).items:
            print(f"  {message.author.role.value}: {message.text}")
        status = await kit.sync.status("zendesk")
        print(f"linked {status.linked}, pending {status.pending}, dead letters {status.dead}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, ZendeskEmulator(api_token="example-token") as zd:
        os.environ.update(zd.zenpy_env())  # zenpy reads these on every request
        zd.state.create_user({"name": "chatkit", "email": "sync@acme.example", "role": "agent"})
        asyncio.run(main(Path(tmp), zd))
