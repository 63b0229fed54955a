"""Add live chat to a FastAPI app. Needs chatkit[web].

Your app mounts chatkit's web app under ``/chat`` and gives its signed-in
users an identity hash; the widget (played here by httpx) starts a session
with it, sends a message, and reads the agent's answer. Everything runs on a
real uvicorn server on 127.0.0.1 and a fresh SQLite file:

    pip install 'chatkit[web]'
    python examples/fastapi_live_chat.py

In your app, drop ``main()``: run ``uvicorn fastapi_live_chat:app``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path

from chatkit import AsyncChatKit, Author

try:
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from chatkit.web import WebSettings, identity_hash
except ImportError:  # the extra is missing: say what to install, in one line
    sys.exit("this example needs FastAPI and uvicorn: pip install 'chatkit[web]'")

SHOP = "http://127.0.0.1"  # the origin your pages are served from

kit = AsyncChatKit(f"sqlite:///{Path(tempfile.mkdtemp(prefix='chatkit-web-')) / 'support.db'}")
app = FastAPI(title="Shop")
app.mount("/chat", kit.asgi(WebSettings()))


@app.get("/me/chat-identity")
async def chat_identity() -> dict[str, str]:
    """What your page hands the widget for the signed-in user (here: always Ada)."""
    site = (await kit.websites.list())[0]
    user = "ada@example.com"
    return {
        "website_key": site.public_key,
        "email": user,
        "identity_hash": identity_hash(site.identity_secret, user),
    }


async def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"{SHOP}:{port}"
    await kit.websites.create("Shop", origins=[origin], require_identity=True)
    agent = await kit.agents.create(name="Sam", email="sam@shop.example")

    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    for _ in range(1000):  # wait until it accepts connections
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as widget:
            who = (await widget.get("/me/chat-identity")).json()
            session = await widget.post("/chat/v1/sessions", json=who, headers={"Origin": origin})
            me = {"Authorization": f"Bearer {session.json()['token']}", "Origin": origin}
            sent = await widget.post(
                "/chat/v1/messages", json={"text": "Where is my order?"}, headers=me
            )
            conversation = sent.json()["conversation_id"]
            print(f"session for {who['email']}: identified={session.json()['identified']}")

            # The agent answers from their console (here: the kit directly).
            await kit.messages.send(conversation, "It ships today!", author=Author.agent(agent.id))

            history = await widget.get(
                f"/chat/v1/conversations/{conversation}/messages", headers=me
            )
            for message in history.json()["items"]:
                print(f"  {message['author']}: {message['text']}")
            print(f"request id of the last call: {history.headers['x-request-id'][:4]}...")
    finally:
        server.should_exit = True
        await serving
        await kit.close()


if __name__ == "__main__":
    asyncio.run(main())
