"""The chat widget in a real Chromium: a shop on one origin, the chat server on another.

The shop page carries only the snippet (and a strict CSP of its own); the
agent answers through the agent HTTP API; what the visitor sees is read from
the widget's iframe.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from tests.browser import axe_violations, chromium, fail_on_dialog, screenshot, serious
from tests.widgetworld import World, world

pytestmark = pytest.mark.anyio

LAUNCHER = "#chatkit-launcher"


async def frame_of(page: Any) -> Any:
    """The widget's iframe (its Frame object), once it has drawn the chat."""
    handle = await page.wait_for_selector("#chatkit-frame", state="attached")
    frame = await handle.content_frame()
    assert frame is not None
    await frame.wait_for_selector("#text", state="attached")
    return frame


async def open_chat(page: Any, w: World) -> Any:
    await page.goto(w.shop)
    await page.wait_for_selector(LAUNCHER)
    await page.click(LAUNCHER)
    frame = await frame_of(page)
    await frame.wait_for_selector("#text", state="visible")
    return frame


async def say(frame: Any, text: str) -> None:
    await frame.fill("#text", text)
    await frame.press("#text", "Enter")


async def texts(frame: Any) -> list[str]:
    found = await frame.eval_on_selector_all(".msg .bubble", "els => els.map(e => e.textContent)")
    return [str(t) for t in found]


async def until(where: Any, expression: str, arg: Any = None, timeout: float = 10) -> Any:
    """Poll ``expression`` in a page or frame until it is truthy (wait_for_function would
    need 'unsafe-eval', which the pages' CSPs rightly refuse)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await where.evaluate(expression, arg)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        await asyncio.sleep(0.05)


async def wait_text(frame: Any, text: str, timeout: float = 10) -> None:
    await until(
        frame,
        "t => [...document.querySelectorAll('.msg .bubble')].some(e => e.textContent.includes(t))",
        text,
        timeout,
    )


async def agent_reply(w: World, conversation_id: str, text: str) -> None:
    async with w.agent_http() as http:
        sent = await http.post(
            f"/v1/agent/conversations/{conversation_id}/messages", json={"text": text}
        )
        assert sent.status_code == 201, sent.text


async def test_widget_loads_lazily_and_chats_with_an_agent(tmp_path: Path) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        page = await browser.new_page()
        fail_on_dialog(page)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None
        )
        await page.goto(w.shop)
        await page.wait_for_selector(LAUNCHER, state="visible")
        await asyncio.sleep(0.3)
        # Only the loader came from the chat server: no frame, no session until a click.
        assert [u for u in requested if u.startswith(w.chat)] == [f"{w.chat}/widget/loader.js"]
        assert await page.query_selector("#chatkit-frame") is None

        await page.click(LAUNCHER)
        frame = await frame_of(page)
        assert await page.evaluate("seen.ready") == 1
        await say(frame, "Hello, is the blue teapot in stock?")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await agent_reply(w, conv.id, "Yes! We have 3 left.")
        await wait_text(frame, "Yes! We have 3 left.")
        assert await page.evaluate("seen.messages") == ["Yes! We have 3 left."]
        shown = await texts(frame)
        assert shown == ["Hello, is the blue teapot in stock?", "Yes! We have 3 left."]

        # Closed, a reply raises the unread badge on the launcher.
        await frame.press("#text", "Escape")
        await until(page, "() => document.querySelector('#chatkit-frame').style.display === 'none'")
        await agent_reply(w, conv.id, "Shall I reserve one?")
        await until(page, "() => seen.unread === 1")
        label = await page.get_attribute(LAUNCHER, "aria-label")
        assert label is not None
        assert "1 unread" in label

        # A reload keeps the session (token in the frame's storage) and shows the history.
        await page.reload()
        await page.wait_for_selector("#chatkit-frame", state="attached")  # a chat is going on
        await page.click(LAUNCHER)
        frame = await frame_of(page)
        await wait_text(frame, "Shall I reserve one?")
        assert (await texts(frame))[0] == "Hello, is the blue teapot in stock?"
        assert len(await w.kit.store.find(type(conv), {}, limit=10)) == 1
        # The shop's strict CSP and the frame's own refused nothing the widget does.
        assert refused == []


def _png(width: int = 40, height: int = 30) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x20\x60\xc0" * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


async def test_image_upload_shows_for_both_sides_and_typing_reaches_the_agent(
    tmp_path: Path,
) -> None:
    async with world(tmp_path / "chat.db", typing_previews=True) as w, chromium() as browser:
        page = await browser.new_page()
        fail_on_dialog(page)
        frame = await open_chat(page, w)
        assert await frame.get_attribute("#attach", "aria-label") == (
            "You can attach files after your first message"
        )
        await say(frame, "My teapot arrived broken")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        assert await frame.get_attribute("#attach", "aria-label") == "Attach a file"

        # The agent's long poll sees what the visitor types before it is sent.
        async with w.agent_http() as http:
            poll = asyncio.create_task(
                http.get(f"/v1/agent/conversations/{conv.id}/typing", params={"wait": 10})
            )
            await asyncio.sleep(0.3)
            await frame.type("#text", "It is cracked")
            preview = await poll
        assert preview.status_code == 200, preview.text
        assert "It is cracked".startswith(preview.json()["text"])

        await frame.set_input_files(
            "#file", files=[{"name": "crack.png", "mimeType": "image/png", "buffer": _png()}]
        )
        await frame.wait_for_selector(".msg.me img[alt='crack.png']")
        await until(frame, "() => [...document.querySelectorAll('.msg.me .meta')].length >= 2")
        await until(
            frame,
            "() => [...document.querySelectorAll('.msg.me .meta')]"
            ".every(m => m.textContent === 'Sent')",
        )
        messages = await w.kit.messages.list(conv.id, limit=10)
        files = [a for m in messages.items for a in m.attachments]
        assert [(a.name, a.mime_type) for a in files] == [("crack.png", "image/png")]

        # After a reload the picture comes from the server (fetched with the token, shown as blob:).
        await page.reload()
        await page.click(LAUNCHER)
        frame = await frame_of(page)
        await until(
            frame,
            "() => { const i = document.querySelector(`.msg.me img[alt='crack.png']`);"
            " return i && i.src.startsWith('blob:') && i.naturalWidth === 40; }",
        )


@pytest.mark.parametrize(
    ("locale", "placeholder", "greeting"),
    [
        ("ko-KR", "메시지를 입력하세요…", "안녕하세요! 무엇을 도와드릴까요?"),
        ("tr-TR", "Mesajınızı yazın…", "Merhaba! Size nasıl yardımcı olabiliriz?"),
        ("de-DE", "Write a message…", "Hi! How can we help?"),
    ],
)
async def test_the_browser_language_picks_the_texts(
    tmp_path: Path, locale: str, placeholder: str, greeting: str
) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        context = await browser.new_context(locale=locale)
        page = await context.new_page()
        frame = await open_chat(page, w)
        await until(frame, "p => document.querySelector('#text').placeholder === p", placeholder)
        assert await frame.text_content(".intro .greeting") == greeting
        assert await frame.evaluate("document.documentElement.lang") == locale[:2].replace(
            "de", "en"
        )
        # A site may pass its own strings for any other language.
        await page.evaluate("chatkit('setLocale', 'de', {placeholder: 'Nachricht schreiben…'})")
        await until(
            frame, "() => document.querySelector('#text').placeholder === 'Nachricht schreiben…'"
        )


async def test_hostile_texts_and_file_names_show_as_text(tmp_path: Path) -> None:
    hostile = [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script>",
        "[click](javascript:alert(3)) javascript:alert(4)",
        "\u202eevil text\u202c stays inside its own bubble",
        "see https://example.com/a?b=1 and mailto:help@example.com",
    ]
    greeting = "<img src=x onerror=alert(5)>"
    async with (
        world(tmp_path / "chat.db", widget={"greeting": greeting}) as w,
        chromium() as browser,
    ):
        await w.kit.agents.update(w.agent.id, name="<b onmouseover=alert(6)>Sam</b>")
        page = await browser.new_page()
        fail_on_dialog(page)
        frame = await open_chat(page, w)
        assert await frame.text_content(".intro .greeting") == greeting
        await say(frame, "hi")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await w.kit.conversations.assign(conv.id, w.agent.id)
        await until(frame, "() => document.querySelector('#subtitle').textContent !== ''")
        assert await frame.text_content("#subtitle") == (
            "<b onmouseover=alert(6)>Sam</b> is answering"
        )
        for text in hostile:
            await agent_reply(w, conv.id, text)
        rlo = "invoice\u202egnp.exe"
        await frame.set_input_files(
            "#file", files=[{"name": rlo, "mimeType": "text/plain", "buffer": b"just text"}]
        )
        await wait_text(frame, hostile[-1])
        await until(frame, "() => document.querySelectorAll('.msg.me .file').length === 1")
        shown = await texts(frame)
        for text in hostile:
            assert text in shown
        assert await frame.query_selector(".log img") is None
        assert await frame.query_selector(".log script") is None
        hrefs = await frame.eval_on_selector_all(".log a", "els => els.map(e => [e.href, e.rel])")
        links = [h for h in hrefs if not h[0].endswith("#")]
        assert links == [
            ["https://example.com/a?b=1", "noopener noreferrer"],
            ["mailto:help@example.com", "noopener noreferrer"],
        ]
        # The right-to-left override never reaches the page in a file name (the server drops
        # it; the widget would show any left as a visible mark), so ".exe" reads as ".exe".
        name = await frame.text_content(".msg.me .file a")
        assert name == "invoicegnp.exe"
        assert await frame.evaluate("n => CSS.supports('unicode-bidi', 'isolate')", None)
        await asyncio.sleep(0.5)  # a late onerror would open a dialog: fail_on_dialog


async def test_a_server_restart_mid_chat_loses_and_doubles_nothing(tmp_path: Path) -> None:
    from chatkit import AsyncChatKit, Author, ChatKitSettings
    from tests.webserver import serve
    from tests.widgetworld import free_port, serve_on, shop_app, web_settings

    db = tmp_path / "chat.db"
    port = free_port()
    settings = ChatKitSettings(event_poll_interval=0.05)
    state: dict[str, str] = {}
    async with serve(shop_app(state)) as shop, chromium() as browser:
        async with AsyncChatKit(f"sqlite:///{db}", settings=settings) as kit:
            site = await kit.websites.create("Shop", origins=[shop])
            agent = await kit.agents.create(name="Sam", role="admin")
            async with serve_on(kit.asgi(web_settings()), port) as chat:
                state.update(chat=chat, key=site.public_key)
                page = await browser.new_page()
                fail_on_dialog(page)
                await page.goto(shop)
                await page.click(LAUNCHER)
                frame = await frame_of(page)
                await say(frame, "one")
                await frame.wait_for_selector(".msg.me .meta:text('Sent')")
                conv = (await kit.conversations.list(limit=1)).items[0]
                await kit.messages.send(conv.id, "two", author=Author.agent(agent.id))
                await wait_text(frame, "two")
            # The server is down: the agent goes on writing (another process, same file).
            await kit.messages.send(conv.id, "three", author=Author.agent(agent.id))
            await kit.messages.send(conv.id, "four", author=Author.agent(agent.id))
        await until(frame, "() => document.querySelector('#status').textContent !== ''")
        # The visitor writes while the server is down: the widget retries, then says so.
        await say(frame, "while down")
        await frame.wait_for_selector(".msg.me .meta.failed", timeout=15_000)
        async with (
            AsyncChatKit(f"sqlite:///{db}", settings=settings) as kit,
            serve_on(kit.asgi(web_settings()), port),
        ):
            await wait_text(frame, "four", timeout=20)
            await frame.click(".msg.me .retry")
            sent = (
                "n => [...document.querySelectorAll('.msg.me .meta')]"
                ".filter(m => m.textContent === 'Sent').length === n"
            )
            await until(frame, sent, 2)
            await kit.messages.send(conv.id, "five", author=Author.agent(agent.id))
            await wait_text(frame, "five")
            await say(frame, "six")
            await until(frame, sent, 3)
            await asyncio.sleep(0.5)
            expected = ["one", "two", "three", "four", "while down", "five", "six"]
            assert await texts(frame) == expected
            stored = await kit.messages.list(conv.id, limit=20)
            assert [m.text for m in stored.items] == expected


FLOW = {
    "name": "front-desk",
    "start": "topic",
    "steps": [
        {
            "id": "topic",
            "type": "ask",
            "field": "topic",
            "validate": "choice",
            "question": "What can we help with?",
            "choices": [{"value": "Order status"}, {"value": "Talk to a person"}],
            "next": "to_person",
        },
        {"id": "to_person", "type": "handoff", "text": "Connecting you to a person now."},
    ],
}


async def test_bot_questions_are_buttons_and_hand_over(tmp_path: Path) -> None:
    from chatkit import BotSettings, ChatKitSettings, Flow

    flow = Flow.from_dict(FLOW)
    settings = ChatKitSettings(
        event_poll_interval=0.05, bots=BotSettings(flows=(flow,), flow=flow.name)
    )
    async with world(tmp_path / "chat.db", settings=settings) as w, chromium() as browser:
        page = await browser.new_page()
        fail_on_dialog(page)
        frame = await open_chat(page, w)
        await say(frame, "hello")
        await wait_text(frame, "What can we help with?")
        await frame.wait_for_selector("#bot-choices button")
        labels = await frame.eval_on_selector_all(
            "#bot-choices button", "b => b.map(e => e.textContent)"
        )
        assert labels == ["Order status", "Talk to a person"]
        await frame.focus("#bot-choices button >> nth=0")
        await frame.press("#bot-choices button >> nth=0", "Enter")  # keyboard only
        await wait_text(frame, "Connecting you to a person now.")
        # The choices go once the handoff's step reaches the frame (it may lag the text).
        await frame.wait_for_selector("#bot-choices", state="detached", timeout=10_000)
        assert await frame.query_selector("#bot-choices") is None
        conv = await w.only_conversation()
        assert conv.bot is not None
        assert conv.bot.fields.get("topic") == "Order status"
        assert conv.bot.status != "active"


async def test_a_survey_follows_the_resolved_chat(tmp_path: Path) -> None:
    async with (
        world(tmp_path / "chat.db", widget={"survey_scale": "stars"}) as w,
        chromium() as browser,
    ):
        page = await (await browser.new_context(bypass_csp=True)).new_page()  # for axe
        fail_on_dialog(page)
        frame = await open_chat(page, w)
        await say(frame, "thanks for the help")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        async with w.agent_http() as http:
            done = await http.post(f"/v1/agent/conversations/{conv.id}/resolve")
            assert done.status_code == 200, done.text
        if not await w.kit.surveys.for_conversation(conv.id):
            await w.kit.surveys.send(conv.id)
        await frame.wait_for_selector("form.card fieldset")
        assert serious(await axe_violations(frame)) == []
        survey = (await w.kit.surveys.for_conversation(conv.id))[0]
        for question in survey.form.questions:
            buttons = f"#survey-{survey.id} fieldset:has(legend:text-is('{question.text}')) button"
            count = len(await frame.query_selector_all(buttons))
            assert count >= 2, question
            await frame.click(f"{buttons} >> nth={count - 1}")
        await frame.fill(f"#survey-{survey.id} textarea", "Quick and kind")
        await frame.click(f"#survey-{survey.id} button[type=submit]")
        await frame.wait_for_selector("p.note:text('Thank you for your feedback!')")
        answered = (await w.kit.surveys.for_conversation(conv.id))[0]
        assert answered.status.value == "answered"
        assert answered.comment == "Quick and kind"
        assert answered.score == 1.0


async def test_a_second_visitor_sees_nothing_of_the_first(tmp_path: Path) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        first = await (await browser.new_context()).new_page()
        frame = await open_chat(first, w)
        await say(frame, "my address is 1 Secret Lane")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()

        second = await (await browser.new_context()).new_page()
        other = await open_chat(second, w)
        await say(other, "hello from the other visitor")
        await other.wait_for_selector(".msg.me .meta:text('Sent')")
        await agent_reply(w, conv.id, "Thanks, noted for 1 Secret Lane")
        await wait_text(frame, "noted for 1 Secret Lane")
        await asyncio.sleep(0.5)
        assert await texts(other) == ["hello from the other visitor"]
        # With its own token the second visitor's frame cannot read the first one's chat.
        status = await other.evaluate(
            """async (id) => {
                const token = JSON.parse(localStorage.getItem(
                    Object.keys(localStorage).find(k => k.startsWith('chatkit.session.')))).token;
                const r = await fetch(`/v1/conversations/${id}/messages`,
                                      {headers: {Authorization: 'Bearer ' + token}});
                return [r.status, await r.text()];
            }""",
            conv.id,
        )
        assert status[0] == 404
        assert "Secret Lane" not in status[1]


async def test_a_page_outside_the_allowlist_gets_nothing(tmp_path: Path) -> None:
    from tests.webserver import serve
    from tests.widgetworld import shop_app

    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        evil_state = dict(w.state)
        async with serve(shop_app(evil_state)) as evil:
            page = await browser.new_page()
            fail_on_dialog(page)
            await page.goto(evil)
            await page.click(LAUNCHER)
            handle = await page.wait_for_selector("#chatkit-frame", state="attached")
            await asyncio.sleep(1.5)
            frame = await handle.content_frame()
            # The browser refuses to frame the chat (frame-ancestors): no chat UI, no "ready".
            assert frame is None or await frame.query_selector("#text") is None
            assert await page.evaluate("seen.ready") == 0
            assert (await w.kit.store.count(type(w.site), {})) == 1
            from chatkit.models import WebSession

            assert await w.kit.store.count(WebSession, {}) == 0
            # Straight calls from that origin are refused too.
            answer = await page.evaluate(
                """async ([chat, key]) => {
                    try {
                        const r = await fetch(chat + '/v1/sessions', {method: 'POST',
                            headers: {'Content-Type': 'application/json'},
                            body: JSON.stringify({website_key: key})});
                        return 'status ' + r.status;
                    } catch (e) { return 'blocked'; }
                }""",
                [w.chat, w.site.public_key],
            )
            assert answer == "blocked"
            assert await w.kit.store.count(WebSession, {}) == 0


async def test_accessible_open_and_closed_and_on_a_phone(tmp_path: Path) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        # axe-core is injected as an inline script: this context lets it past the pages' CSPs.
        context = await browser.new_context(
            bypass_csp=True, viewport={"width": 1000, "height": 720}
        )
        page = await context.new_page()
        fail_on_dialog(page)
        await page.goto(w.shop)
        await page.wait_for_selector(LAUNCHER)
        assert serious(await axe_violations(page)) == []
        await screenshot(page, "widget-closed")

        # Keyboard only: Tab to the launcher, Enter opens, typing goes to the message box.
        for _ in range(5):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == "chatkit-launcher":
                break
        assert await page.evaluate("document.activeElement.id") == "chatkit-launcher"
        await page.keyboard.press("Enter")
        frame = await frame_of(page)
        await until(frame, "() => document.activeElement && document.activeElement.id === 'text'")
        await page.keyboard.type("Do you ship to Izmir?")
        await page.keyboard.press("Enter")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        async with w.agent_http() as http:
            taken = await http.post(
                f"/v1/agent/conversations/{conv.id}/assign", json={"agent_id": w.agent.id}
            )
            assert taken.status_code == 200, taken.text
        await agent_reply(w, conv.id, "We do! Delivery to Izmir takes 2-3 days.")
        await wait_text(frame, "We do!")
        await until(frame, "() => document.querySelector('#subtitle').textContent !== ''")
        assert await frame.text_content("#subtitle") == "Sam Park is answering"
        assert await frame.text_content("#avatar") == "SP"
        assert await frame.get_attribute("#log", "role") == "log"
        await screenshot(page, "widget-open")
        found = serious(await axe_violations(frame))
        assert found == [], found
        assert serious(await axe_violations(page)) == []
        # Escape closes and gives the focus back to the launcher.
        await page.keyboard.press("Escape")
        await until(page, "() => document.activeElement.id === 'chatkit-launcher'")

        phone = await browser.new_context(
            bypass_csp=True, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
        )
        small = await phone.new_page()
        await small.goto(w.shop)
        await small.click(LAUNCHER)
        frame = await frame_of(small)
        await say(frame, "Hello from my phone, a rather long message to see the bubbles wrap well")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        box = await small.eval_on_selector("#chatkit-frame", "f => f.getBoundingClientRect().width")
        assert box == 360
        assert await frame.evaluate("document.documentElement.scrollWidth") <= 360
        await screenshot(small, "widget-mobile")
        assert serious(await axe_violations(frame)) == []


async def test_closed_hours_show_the_offline_form_which_leaves_a_ticket(tmp_path: Path) -> None:
    from chatkit.hours import BusinessHours
    from chatkit.models import Ticket

    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        await w.kit.teams.create("support", hours=BusinessHours.weekly("UTC", {}))
        context = await browser.new_context(locale="tr-TR", bypass_csp=True)  # for axe
        page = await context.new_page()
        fail_on_dialog(page)
        await page.goto(w.shop)
        await page.click(LAUNCHER)
        handle = await page.wait_for_selector("#chatkit-frame", state="attached")
        frame = await handle.content_frame()
        await frame.wait_for_selector("#offline")
        assert await frame.is_hidden("#composer")
        assert await frame.text_content("#offline-title") == "Şu anda çevrim dışıyız"
        assert serious(await axe_violations(frame)) == []
        await frame.get_by_label("Adınız").fill("Ayşe")
        await frame.get_by_label("E-posta").fill("ayse@example.com")
        await frame.fill("#offline textarea", "Kırık çaydanlık <b>iade</b>")
        await frame.click("#offline button[type=submit]")
        await frame.wait_for_selector(
            "p.note:text('Teşekkürler! Size e-postayla yanıt vereceğiz.')"
        )
        tickets = await w.kit.store.find(Ticket, {}, limit=5)
        assert len(tickets) == 1
        assert tickets[0].subject == "Offline message: Kırık çaydanlık <b>iade</b>"


async def test_a_transcript_is_emailed_on_request(tmp_path: Path) -> None:
    import socket
    from email import message_from_bytes, policy
    from typing import Any as _Any

    from aiosmtpd.controller import Controller

    from chatkit import SMTPSettings
    from tests.widgetworld import web_settings

    mails: list[_Any] = []

    class Inbox:
        async def handle_DATA(self, server: _Any, session: _Any, envelope: _Any) -> str:
            mails.append(
                (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
            )
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(Inbox(), hostname="127.0.0.1", port=port)
    server.start()
    smtp = SMTPSettings(host="127.0.0.1", port=port, sender="help@shop.example", starttls=False)
    try:
        async with world(tmp_path / "chat.db", web=web_settings(smtp=smtp)) as w, chromium() as b:
            page = await b.new_page()
            frame = await open_chat(page, w)
            await say(frame, "Please send me this chat")
            await frame.wait_for_selector(".msg.me .meta:text('Sent')")
            await frame.click("#menu-btn")
            await frame.get_by_label("E-mail me this conversation").fill("me@example.com")
            await frame.click("#menu button[type=submit]")
            await frame.wait_for_selector("#menu .note:text('Sent to me@example.com')")
    finally:
        server.stop()
    assert len(mails) == 1
    assert mails[0][0] == ["me@example.com"]
    assert "Please send me this chat" in mails[0][1].get_body(("plain",)).get_content()


async def test_identified_visitors_find_their_history_on_another_device(tmp_path: Path) -> None:
    from chatkit.web import identity_hash

    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        user = {
            "id": "u-42",
            "name": "Ada",
            "identityHash": identity_hash(w.site.identity_secret, "u-42"),
        }
        laptop = await (await browser.new_context()).new_page()
        await laptop.goto(w.shop)
        await laptop.evaluate("u => chatkit('setUser', u)", user)
        await laptop.click(LAUNCHER)
        frame = await frame_of(laptop)
        await say(frame, "Started on my laptop")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        contact = await w.kit.contacts.get(conv.contact_id)
        assert contact.name == "Ada"

        phone = await (await browser.new_context()).new_page()
        await phone.goto(w.shop)
        await phone.evaluate("u => chatkit('setUser', u)", user)
        await phone.click(LAUNCHER)
        other = await frame_of(phone)
        await wait_text(other, "Started on my laptop")
        await agent_reply(w, conv.id, "Hello Ada, on both screens")
        await wait_text(other, "on both screens")
        await wait_text(frame, "on both screens")

        # A forged hash gets no session, and nothing of Ada's.
        forged = await (await browser.new_context()).new_page()
        await forged.goto(w.shop)
        await forged.evaluate(
            "u => chatkit('setUser', {...u, identityHash: 'ab'.repeat(32)})", user
        )
        await forged.click(LAUNCHER)
        bad = await frame_of(forged)
        await asyncio.sleep(1)
        assert await texts(bad) == []


async def test_long_histories_come_in_pages(tmp_path: Path) -> None:
    from chatkit import Author

    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        page = await browser.new_page()
        frame = await open_chat(page, w)
        await say(frame, "message 0")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        for number in range(1, 45):
            await w.kit.messages.send(conv.id, f"message {number}", author=Author.agent(w.agent.id))
        await wait_text(frame, "message 44")
        await page.reload()
        await page.click(LAUNCHER)
        frame = await frame_of(page)
        await wait_text(frame, "message 44")
        shown = await texts(frame)
        assert len(shown) == 30
        assert shown[0] == "message 15"
        await frame.click("#more")
        await until(frame, "() => document.querySelectorAll('.msg .bubble').length === 45")
        assert await texts(frame) == [f"message {n}" for n in range(45)]
        assert await frame.query_selector("#more") is None


async def test_the_visitor_sees_that_an_agent_is_typing_but_not_what(tmp_path: Path) -> None:
    from chatkit import Author

    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        page = await browser.new_page()
        frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
        frame = await open_chat(page, w)
        await say(frame, "Anyone there?")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await w.kit.conversations.assign(conv.id, w.agent.id)
        await until(frame, "() => document.querySelector('#subtitle').textContent !== ''")
        await w.kit.previews.send(conv.id, "secret draft 1234", author=Author.agent(w.agent.id))
        await until(frame, "() => document.querySelector('#typing').textContent !== ''")
        assert await frame.text_content("#typing") == "Sam Park is typing…"
        await agent_reply(w, conv.id, "Yes, how can I help?")
        await wait_text(frame, "how can I help")
        assert await frame.text_content("#typing") == ""
        assert "secret draft" not in await frame.evaluate("document.body.innerText")
        assert any('"agent.typing"' in str(f) for f in frames)
        assert not any("secret draft" in str(f) for f in frames)


async def test_the_agent_typing_in_the_console_shows_in_the_widget(tmp_path: Path) -> None:
    """Both sides in the browser: the agent types in the console's Reply box, the
    visitor's widget says so (the words stay in the console); a private note, an
    emptied box and a sent reply all leave the widget quiet."""
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        page = await browser.new_page()
        frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
        frame = await open_chat(page, w)
        await say(frame, "Anyone there?")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await w.kit.conversations.assign(conv.id, w.agent.id)
        await until(frame, "() => document.querySelector('#subtitle').textContent !== ''")

        console = await (await browser.new_context()).new_page()
        fail_on_dialog(console)
        await console.goto(f"{w.chat}/console/")
        await console.wait_for_selector("#signin:not([hidden])")
        await console.fill("#token", w.agent_token)
        await console.click("#signin-form button[type=submit]")
        await console.wait_for_selector("#app:not([hidden])")
        await console.click("#views [data-view=mine]")
        await console.wait_for_selector(f"#inbox-list .row[data-id='{conv.id}']")
        await console.locator(f"#inbox-list .row[data-id='{conv.id}'] .row-open").click()
        await console.wait_for_selector("#messages .msg-customer")
        empty = "() => document.querySelector('#typing').textContent === ''"

        # a private note is not typing to the customer
        await console.click("label:has(input[name=mode][value=note])")
        await console.type("#draft", "note draft 5678")
        await asyncio.sleep(1)
        assert await frame.text_content("#typing") == ""
        await console.fill("#draft", "")
        await console.click("label:has(input[name=mode][value=reply])")

        # typing a reply: the widget says so, without the words
        await console.type("#draft", "secret draft 1234")
        await until(frame, "() => document.querySelector('#typing').textContent !== ''")
        assert await frame.text_content("#typing") == "Sam Park is typing…"
        # emptying the box stops it (long before the widget's own 6 s timeout)
        await console.fill("#draft", "")
        await console.dispatch_event("#draft", "input")
        await until(frame, empty, timeout=4)
        # typing again, then sending: the reply arrives and the indicator is gone
        await console.type("#draft", "Yes, how can I help?")
        await until(frame, "() => document.querySelector('#typing').textContent !== ''")
        await console.click("#send")
        await wait_text(frame, "how can I help")
        await until(frame, empty, timeout=4)
        await asyncio.sleep(0.5)
        assert await frame.text_content("#typing") == ""

        seen = await frame.evaluate("document.body.innerText")
        assert "secret draft" not in seen
        assert "note draft" not in seen
        assert any('"agent.typing"' in f for f in frames)
        assert not any("secret draft" in f or "note draft" in f or "\u2026" in f for f in frames)


async def test_without_websockets_the_widget_falls_back_to_server_sent_events(
    tmp_path: Path,
) -> None:
    async with world(tmp_path / "chat.db") as w, chromium() as browser:
        context = await browser.new_context()
        await context.add_init_script("window.WebSocket = undefined;")  # a proxy that eats them
        page = await context.new_page()
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/v1/realtime" in r.url else None)
        frame = await open_chat(page, w)
        await say(frame, "Are you there?")
        await frame.wait_for_selector(".msg.me .meta:text('Sent')")
        conv = await w.only_conversation()
        await agent_reply(w, conv.id, "Yes, over an event stream")
        await wait_text(frame, "over an event stream")
        assert streams
        assert all("/v1/realtime/events" in url for url in streams)
        assert await texts(frame) == ["Are you there?", "Yes, over an event stream"]
