"""Signed outbound webhooks end to end: a receiver that verifies them (plain install).

A small HTTP receiver (the standard library's, on 127.0.0.1) checks each
delivery's ``Chatkit-Signature`` with ``verify_signature`` and de-duplicates
by ``Chatkit-Delivery``. It answers the first delivery with ``503`` and
``Retry-After: 1``, as a busy endpoint would. A webhook dispatcher (what
``chatkit worker`` runs) sends the deliveries of a short conversation, waits
as asked, retries, and the delivery log is printed at the end.

Run it: ``python examples/webhooks.py``
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from chatkit import AsyncChatKit, ChatKitSettings
from chatkit.errors import WebhookSignatureError
from chatkit.webhooks import WebhookSettings, verify_signature

SECRET = "whsec_example-secret-0123456789"  # in a real receiver: from its settings


class Receiver(BaseHTTPRequestHandler):
    """Verifies each delivery; answers the very first one 503 Retry-After: 1."""

    handled: ClassVar[set[str]] = set()
    received: ClassVar[list[str]] = []
    refused_once: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            verify_signature(SECRET, dict(self.headers.items()), body)
        except WebhookSignatureError as exc:
            self._answer(400, exc.reason)
            return
        if not Receiver.refused_once:
            Receiver.refused_once = True
            self._answer(503, "busy", {"Retry-After": "1"})
            return
        delivery = self.headers["Chatkit-Delivery"]
        if delivery not in Receiver.handled:  # a retry of one already handled is skipped
            Receiver.handled.add(delivery)
            event = json.loads(body)
            Receiver.received.append(f"{event['type']} at position {event['position']}")
        self._answer(204, "")

    def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


async def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/chat"

    # Loopback is not a public address: allow it explicitly for this example.
    settings = ChatKitSettings(
        webhooks=WebhookSettings(allowed_networks=("127.0.0.1/32",), retry_delay=5.0)
    )
    async with AsyncChatKit("memory://", settings=settings) as kit:
        hook = await kit.webhooks.subscribe(
            url, events=["conversation.created", "message.created"], secret=SECRET
        )
        print(f"subscribed {hook.id} to {', '.join(hook.events)}")

        # verified=True: the site signed this visitor in, so both messages are one chat.
        inbound = await kit.messages.receive(channel="web", sender="ada", text="Hi!", verified=True)
        await kit.messages.receive(
            channel="web", sender="ada", text="Where is my parcel?", verified=True
        )
        print(f"conversation {inbound.conversation.id}: 3 events to deliver")

        dispatcher = kit.webhooks.dispatcher()
        running = asyncio.ensure_future(dispatcher.run())
        for _ in range(100):  # the 503 asks for a second's wait
            if len(Receiver.received) == 3:
                break
            await asyncio.sleep(0.1)
        dispatcher.stop()
        await running

        for line in sorted(Receiver.received):
            print(f"received {line}")
        log = await kit.webhooks.deliveries(subscription_id=hook.id)
        for delivery in sorted(log.items, key=lambda d: d.event_position or 0):
            print(
                f"{delivery.event_type:<22} {delivery.status.value:<9} "
                f"attempts {delivery.attempts}  last HTTP {delivery.status_code}"
            )
    server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
