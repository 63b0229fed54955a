"""Chat events in Google Analytics 4, offline. Needs chatkit[emulators,web].

A visitor accepts analytics in the website's consent banner, chats, gets an
answer and a resolution; the sync engine sends the chat's milestones to GA4
as Measurement Protocol events on the visitor's client id. Runs the GA4
emulator that ships with chatkit, and the customer API in-process:

    pip install 'chatkit[emulators,web]'
    python examples/ga4_events.py

Without those extras it exits with that hint.

Against your GA4 property, drop the emulator and set
``CHATKIT_GA4_MEASUREMENT_ID`` and ``CHATKIT_GA4_API_SECRET``; then
``kit.sync.engine("ga4")`` (or ``chatkit sync run ga4``) does the same.
"""

from __future__ import annotations

import asyncio
import sys

import httpx

from chatkit import AsyncChatKit, Author

try:
    import fastapi  # noqa: F401 - the customer API (kit.asgi) needs it

    from chatkit.web import WebSettings
    from chatkit_integrations.ga4.emulator import GA4Emulator
    from chatkit_integrations.ga4.integration import GA4Config, GA4Integration
except ImportError:  # an extra is missing: say what to install, in one line
    sys.exit(
        "this example needs the GA4 emulator and the web app: pip install 'chatkit[emulators,web]'"
    )

SHOP = "https://shop.example"


async def main(ga: GA4Emulator) -> None:
    async with AsyncChatKit("memory://") as kit:
        site = await kit.websites.create("Shop", origins=[SHOP])  # consent required (default)
        app = kit.asgi(WebSettings(rate_limit_secret="example-only-not-a-secret"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as widget:
            # The widget starts a session with the visitor's GA client id and consent.
            started = await widget.post(
                "/v1/sessions",
                json={
                    "website_key": site.public_key,
                    "analytics_client_id": "1234567890.1700000000",
                    "analytics_consent": {"analytics": True, "ad_user_data": False},
                },
                headers={"origin": SHOP},
            )
            me = {"authorization": f"Bearer {started.json()['token']}", "origin": SHOP}
            sent = await widget.post("/v1/messages", json={"text": "Hi!"}, headers=me)
            conversation = sent.json()["conversation_id"]

        agent = await kit.agents.create(name="Sam", email="sam@example.com")
        await kit.conversations.assign(conversation, agent.id)
        await kit.messages.send(
            conversation, "Hello, how can I help?", author=Author.agent(agent.id)
        )
        await kit.conversations.resolve(conversation)

        config = GA4Config(
            measurement_id="G-EXAMPLE1",
            api_secret="example-secret",
            base_url=ga.url,
        )
        async with GA4Integration(config) as ga4:
            print(f"check: {(await ga4.check()).state.value}")
            async with kit.sync.engine(ga4) as engine:
                report = await engine.run_once()
        print(f"sent {report.pushed} events in {ga.calls()} request")
        for event in ga.events():
            print(f"  {event.name} client {event.client_id} {sorted(event.params)}")


if __name__ == "__main__":
    with GA4Emulator(measurement_id="G-EXAMPLE1", api_secret="example-secret") as emulator:
        asyncio.run(main(emulator))
