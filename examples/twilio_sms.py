"""SMS and WhatsApp through Twilio, against its emulator. Needs chatkit[twilio,emulators,web].

The emulator (``chatkit emulate twilio``) plays Twilio and the customer: it
POSTs signed incoming-message webhooks to the chatkit web app (served by
uvicorn on 127.0.0.1), takes the replies the official ``twilio`` client
sends, and reports their delivery with signed status callbacks. The same
person writes by SMS, then by WhatsApp: one contact, one conversation.

Run it: ``python examples/twilio_sms.py``
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path

from chatkit import AsyncChatKit, Author

try:
    import uvicorn

    from chatkit_integrations.twilio import TwilioAdapter, TwilioSettings
    from chatkit_integrations.twilio.emulator import TwilioEmulator
except ImportError:  # an extra is missing: say what to install, in one line
    sys.exit("this example needs twilio and uvicorn: pip install 'chatkit[twilio,emulators,web]'")

CUSTOMER = "+14155550123"
BUSINESS = "+14155559999"


async def main(folder: Path, twilio: TwilioEmulator) -> None:
    kit = AsyncChatKit(f"sqlite:///{folder / 'support.db'}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # In production: TwilioAdapter.from_env() (CHATKIT_TWILIO_ACCOUNT_SID, _AUTH_TOKEN, ...).
    kit.channels.add(
        TwilioAdapter(
            TwilioSettings(
                account_sid=twilio.account_sid,
                auth_token=twilio.auth_token,  # type: ignore[arg-type]
                public_url=public_url,  # where Twilio reaches the app (what it signs)
                api_base_url=twilio.url,  # the emulator instead of api.twilio.com
                sms_from=BUSINESS,
                whatsapp_from=BUSINESS,
            )
        )
    )
    twilio.webhook_url = f"{public_url}/channels/twilio"
    server = uvicorn.Server(uvicorn.Config(kit.asgi(), log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    async with kit:
        # The customer texts; Twilio's webhook is answered at once with empty TwiML.
        answer = await asyncio.to_thread(
            twilio.text, CUSTOMER, "Hi! Where is order 245-12784?", to=BUSINESS
        )
        print(f"webhook answered {answer.status_code}: {answer.text}")
        await kit.channels.drain()  # what `chatkit worker` does continuously
        (conversation,) = (await kit.conversations.list()).items

        agent = await kit.agents.create(name="Mia", email="mia@example.com")
        reply = await kit.messages.send(
            conversation.id, "It left our warehouse today 🚚", author=Author.agent(agent.id)
        )
        await kit.channels.drain()  # the reply goes out through the twilio client
        for _ in range(100):  # status callbacks: sent, then delivered
            delivery = (await kit.messages.get(reply.id)).delivery
            if delivery is not None and delivery.state.value == "delivered":
                break
            await asyncio.sleep(0.05)
            await kit.channels.drain()
        assert delivery is not None
        print(f"reply {delivery.state.value}, Twilio id {delivery.provider_message_id}")

        # The same person on WhatsApp lands in the same conversation.
        await asyncio.to_thread(twilio.text, f"whatsapp:{CUSTOMER}", "Thanks! 🙏", to=BUSINESS)
        await kit.channels.drain()
        history = await kit.messages.list(conversation.id)
        for message in history.items:
            who = message.author.role.value
            print(f"  {message.seq}. [{message.channel.value}] {who}: {message.text}")
        contacts = (await kit.contacts.list()).items
        conversations = (await kit.conversations.list()).items
        print(f"contacts: {len(contacts)}, conversations: {len(conversations)}")
        assert len(contacts) == 1
    server.should_exit = True
    await serving


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, TwilioEmulator() as emulator:
        asyncio.run(main(Path(tmp), emulator))
