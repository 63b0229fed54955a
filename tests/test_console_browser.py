"""The agent console in a real browser: Chromium against the app on a real uvicorn server.

A small support team (billing: Ann, Sue the supervisor; sales: Bob) with agent
API tokens, and customers who write through the customer HTTP API. The agent
signs in with a token, works the inbox and a conversation; the customer side
is checked through the customer API (a private note never shows there).
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from chatkit import AsyncChatKit
from chatkit.models import Agent, Author, Conversation, Website

from .browser import axe_violations, chromium, fail_on_dialog, screenshot, serious
from .webserver import serve

pytestmark = pytest.mark.anyio

HOSTILE = "<img src=x onerror=alert(1)>"
RTL = "\u202eexe.txt"


def png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG image (solid colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x33\x66\xcc" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Customer:
    token: str
    contact_id: str
    conversation: Conversation

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@dataclass
class Desk:
    kit: AsyncChatKit
    url: str
    http: httpx.AsyncClient
    site: Website
    ann: Agent
    sue: Agent
    bob: Agent
    tokens: dict[str, str] = field(default_factory=dict)
    customers: list[Customer] = field(default_factory=list)

    async def customer(self, text: str, *, name: str | None = None) -> Customer:
        """A visitor who starts a session and writes ``text`` in a new billing conversation."""
        started = await self.http.post("/v1/sessions", json={"website_key": self.site.public_key})
        assert started.status_code == 201, started.text
        session = started.json()
        if name is not None:
            await self.kit.contacts.update(session["contact_id"], name=name)
        conversation = await self.kit.conversations.create(
            contact_id=session["contact_id"], team="billing"
        )
        customer = Customer(session["token"], session["contact_id"], conversation)
        await self.say(customer, text)
        self.customers.append(customer)
        return customer

    async def say(self, customer: Customer, text: str, **extra: Any) -> None:
        sent = await self.http.post(
            f"/v1/conversations/{customer.conversation.id}/messages",
            json={"text": text, **extra},
            headers=customer.auth,
        )
        assert sent.status_code == 201, sent.text

    async def seen_by_customer(self, customer: Customer) -> list[str]:
        got = await self.http.get(
            f"/v1/conversations/{customer.conversation.id}/messages",
            params={"after": 0},
            headers=customer.auth,
        )
        assert got.status_code == 200, got.text
        return [m["text"] for m in got.json()["items"]]


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    async with AsyncChatKit("memory://") as kit:
        await kit.teams.create("billing")
        await kit.teams.create("sales")
        ann = await kit.agents.create(name="Ann", teams=["billing"], max_concurrent_chats=10)
        sue = await kit.agents.create(name="Sue", teams=["billing"], role="supervisor")
        bob = await kit.agents.create(name="Bob", teams=["sales"])
        site = await kit.websites.create("Shop", typing_previews=True)
        await kit.canned.create(
            "/thanks",
            "Thank the customer",
            "Thanks {{ contact.first_name | there }}, {{ agent.first_name }} here. Looking now.",
        )
        await kit.canned.create("/refund", "Refund policy", "Refunds take 5 days.")
        async with serve(kit.asgi()) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
            desk = Desk(kit, url, http, site, ann, sue, bob)
            for agent in (ann, sue, bob):
                _, desk.tokens[agent.id] = await kit.agents.create_token(agent.id)
            yield desk


async def new_page(browser: Any, *, csp: bool = False) -> Any:
    """A page 1400x860. axe-core is injected as an inline script, which the console's CSP
    refuses, so pages that run it bypass the CSP (the hostile-text checks then hold even
    without it); ``csp=True`` keeps it, and records any violation in ``page.csp_errors``."""
    context = await browser.new_context(viewport={"width": 1400, "height": 860}, bypass_csp=not csp)
    page = await context.new_page()
    fail_on_dialog(page)
    page.csp_errors = []
    page.on(
        "console",
        lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


async def sign_in(page: Any, desk: Desk, agent: Agent) -> None:
    await page.goto(f"{desk.url}/console/")
    await page.wait_for_selector("#signin:not([hidden])")
    await page.fill("#token", desk.tokens[agent.id])
    await page.click("#signin-form button[type=submit]")
    await page.wait_for_selector("#app:not([hidden])")
    await page.wait_for_selector("#live[data-state=live]")


async def assert_accessible(page: Any) -> None:
    """axe-core finds no serious or critical violation (the failure names the elements)."""
    found = serious(await axe_violations(page))
    if found:
        details = await page.evaluate(
            """async () => (await axe.run(document)).violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => [v.id, v.nodes.map(n => n.html.slice(0, 200))])"""
        )
        raise AssertionError(f"axe-core: {details}")


async def row_ids(page: Any) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(
        "#inbox-list .row", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


async def wait_for(condition: Any, what: str, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_sign_in_inbox_reply_live_messages_typing_canned_note_transfer_resolve(
    desk: Desk,
) -> None:
    first = await desk.customer("Where is my order 245-12784?", name="Alice Archer")
    await asyncio.sleep(0.02)
    second = await desk.customer("My invoice is wrong", name="Boris")
    await asyncio.sleep(0.02)
    third = await desk.customer("Hello?")
    async with chromium() as browser:
        page = await new_page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        await page.goto(f"{desk.url}/console/")
        await page.wait_for_selector("#signin:not([hidden])")
        await screenshot(page, "console-signin")
        await page.fill("#token", "ckat_not-a-real-token")
        await page.click("#signin-form button[type=submit]")
        await page.wait_for_selector("#signin-error:has-text('not valid')")
        await sign_in(page, desk, desk.ann)
        assert await page.evaluate("sessionStorage.length") == 1

        # waiting longest first, with the row's details
        await page.wait_for_selector("#inbox-list .row")
        ids = [c.conversation.id for c in (first, second, third)]
        assert await row_ids(page) == ids
        top = page.locator("#inbox-list .row").first
        assert "Alice Archer" in await top.inner_text()
        assert await top.locator(".badge").text_content() == "unread: 1"
        assert await top.locator(".chip.intent").count() == 1
        await assert_accessible(page)

        # open the first; reply
        await top.locator(".row-open").click()
        await page.wait_for_selector("#messages .msg-customer")
        assert "245-12784" in await page.inner_text("#side")
        await page.fill("#draft", "We are looking at your order.")
        await page.click("#send")
        await page.wait_for_selector("#messages .msg-agent")
        await wait_for(
            lambda: _has(desk.seen_by_customer(first), "We are looking at your order."),
            "the reply to reach the customer API",
        )

        # the customer writes: the message arrives live; the typing preview shows first
        preview = await desk.http.post(
            f"/v1/conversations/{first.conversation.id}/typing",
            json={"draft": "Thanks, and also my addr"},
            headers=first.auth,
        )
        assert preview.status_code == 204, preview.text
        await page.wait_for_selector("#typing:has-text('Thanks, and also my addr')")
        await desk.say(first, "Thanks, and also my address changed")
        await page.wait_for_selector("#messages .msg-customer:has-text('my address changed')")
        assert await page.is_hidden("#typing")

        # a canned reply by /shortcut: filled in and inserted, not sent
        before = await desk.seen_by_customer(first)
        await page.click("#draft")
        await page.keyboard.type("/tha")
        await page.wait_for_selector("#canned li:has-text('/thanks')")
        assert await page.locator("#canned li").count() == 1  # /refund does not match
        await screenshot(page, "console-canned")
        await page.keyboard.press("Enter")
        await wait_for(
            lambda: _value_has(page, "#draft", "Thanks Alice, Ann here. Looking now."),
            "the canned reply in the reply box",
        )
        await asyncio.sleep(0.3)
        assert await desk.seen_by_customer(first) == before  # not sent
        assert await page.is_hidden("#canned")
        await screenshot(page, "console-conversation")
        await assert_accessible(page)
        await page.fill("#draft", "")

        # a private note: in the console, never through the customer API
        await page.keyboard.press("Escape")  # leave the reply box, then "n" writes a note
        assert await page.evaluate("document.activeElement.id") != "draft"
        await page.keyboard.press("n")
        assert await page.evaluate("document.activeElement.id") == "draft"
        await page.keyboard.type("Customer sounds upset; check the courier")
        await page.click("#send")
        await page.wait_for_selector("#messages .msg-note:has-text('check the courier')")
        await asyncio.sleep(0.2)
        seen = await desk.seen_by_customer(first)
        assert not any("courier" in text for text in seen)
        notes = [
            m
            for m in (await desk.kit.conversations.context(first.conversation.id)).notes
            if "courier" in m.text
        ]
        assert len(notes) == 1

        # transfer the second with a note
        row = f"#inbox-list .row[data-id='{second.conversation.id}'] .row-open"
        await page.locator(row).click()
        await page.wait_for_selector("#conv-title:has-text('Boris')")
        assert await page.is_checked("input[name=mode][value=reply]")  # a note is a choice
        await page.click("[data-action=transfer]")
        await page.select_option("#dialog select[name=team]", "sales")
        await page.select_option("#dialog select[name=agent_id]", desk.bob.id)
        await page.fill("#dialog textarea[name=note]", "Bob knows this invoice")
        await screenshot(page, "console-transfer")
        await page.click("#dialog button[type=submit]")
        await page.wait_for_selector("#dialog", state="hidden")
        await wait_for(
            lambda: _field(desk, second, "assignee_id", desk.bob.id), "the transfer to Bob"
        )
        moved = await desk.kit.conversations.get(second.conversation.id)
        assert moved.team == "sales"
        context = await desk.kit.conversations.context(second.conversation.id)
        assert [n.text for n in context.notes] == ["Bob knows this invoice"]
        assert "Bob knows" not in " ".join(await desk.seen_by_customer(second))
        await wait_for(
            lambda: _rows_without(page, second.conversation.id), "the transferred row to go"
        )

        # resolve the third with the keyboard: j/k to it, Enter, e. Alice wrote last, so
        # she now waits least: the third is at the top.
        assert await row_ids(page) == [third.conversation.id, first.conversation.id]
        await page.evaluate("document.activeElement && document.activeElement.blur()")
        await page.keyboard.press("j")
        await page.keyboard.press("k")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#conv-title:has-text('Visitor')")
        await page.keyboard.press("e")
        await wait_for(lambda: _field(desk, third, "status", "resolved"), "the resolve")

        # the help lists the shortcuts
        await page.keyboard.press("?")
        assert await page.is_visible("#help")
        assert "Resolve" in await page.inner_text("#help")
        await screenshot(page, "console-help")
        assert errors == []


async def test_new_conversations_arrive_live_with_a_badge(desk: Desk) -> None:
    await desk.customer("first one")
    async with chromium() as browser:
        page = await new_page(browser)
        await sign_in(page, desk, desk.ann)
        await page.wait_for_selector("#inbox-list .row")
        newcomer = await desk.customer("I am new here", name="Nina")
        await page.wait_for_selector(f"#inbox-list .row[data-id='{newcomer.conversation.id}']")
        await wait_for(lambda: _title_starts(page, "(1)"), "the badge in the title")
        # taking it assigns it to me
        await page.locator(f".row[data-id='{newcomer.conversation.id}'] .take").click()
        await wait_for(lambda: _field(desk, newcomer, "assignee_id", desk.ann.id), "the take")


async def test_supervisor_sees_the_overview_and_an_agent_is_refused(desk: Desk) -> None:
    await desk.customer("waiting one")
    other = await desk.customer("assigned one")
    await desk.kit.conversations.assign(other.conversation.id, desk.ann.id)
    await desk.kit.reports.drain()
    async with chromium() as browser:
        page = await new_page(browser, csp=True)
        await sign_in(page, desk, desk.sue)
        await page.click("#overview-button")
        await page.wait_for_selector("#overview-body table")
        await page.wait_for_selector("#reports table.heatmap")  # its fetches pass the CSP
        queues = await page.inner_text("#overview-body table:first-of-type")
        assert "billing" in queues
        billing = page.locator("#overview-body tr", has_text="billing").first
        cells = await billing.locator("td").all_inner_texts()
        assert cells == ["billing", "2", "2", "1", "0"]
        agents = await page.inner_text("#overview-body")
        assert "Ann" in agents
        assert "Bob" not in agents
        await screenshot(page, "console-overview")
        assert page.csp_errors == []  # the console runs under its own strict CSP

        ann = await new_page(browser)
        await sign_in(ann, desk, desk.ann)
        assert await ann.is_hidden("#overview-button")
    refused = await desk.http.get(
        "/v1/agent/overview", headers={"authorization": f"Bearer {desk.tokens[desk.ann.id]}"}
    )
    assert refused.status_code == 403


async def test_supervisor_reads_the_reports_and_an_agent_does_not(desk: Desk) -> None:
    """Seeded traffic (three billing chats, two answered, one resolved): the
    supervisor's overview shows the last 7 days' figures and the weekday x hour
    table, the numbers being the reports API's own; a plain agent gets neither."""
    customers = [await desk.customer(f"question {n}") for n in range(3)]
    ann = {"authorization": f"Bearer {desk.tokens[desk.ann.id]}"}
    sue = {"authorization": f"Bearer {desk.tokens[desk.sue.id]}"}
    for customer in customers[:2]:
        await desk.kit.conversations.assign(customer.conversation.id, desk.ann.id)
        base = f"/v1/agent/conversations/{customer.conversation.id}"
        sent = await desk.http.post(f"{base}/messages", json={"text": "Here"}, headers=ann)
        assert sent.status_code == 201, sent.text
    resolved = await desk.http.post(
        f"/v1/agent/conversations/{customers[0].conversation.id}/resolve", headers=ann
    )
    assert resolved.status_code == 200, resolved.text
    await desk.kit.reports.drain()  # the projection catches up with the events
    query = {"days": 7, "team": "billing", "time_zone": "UTC"}
    summary = await desk.http.get("/v1/agent/reports/summary", params=query, headers=sue)
    heat = await desk.http.get("/v1/agent/reports/heatmap", params=query, headers=sue)
    assert summary.status_code == heat.status_code == 200, (summary.text, heat.text)
    totals = summary.json()["totals"]
    assert totals["conversations"] == 3
    assert totals["first_response"]["count"] == 2
    cells = heat.json()["cells"]
    busy = [(d, h, n) for d, row in enumerate(cells) for h, n in enumerate(row) if n]
    assert sum(n for _, _, n in busy) == 3

    async with chromium() as browser:
        page = await new_page(browser)
        await sign_in(page, desk, desk.sue)
        await page.click("#overview-button")
        await page.wait_for_selector("#reports .report[data-team=billing] table.heatmap")
        figure = page.locator("#reports [data-figure=conversations] dd")
        assert await figure.inner_text() == "3"
        first = await page.inner_text("#reports [data-figure=first-response] dd")
        assert first != "\u2013"  # the dash shown for no figure
        assert first.endswith((" s", " min"))
        assert await page.inner_text("#reports [data-figure=resolved] dd") == "1"
        assert await page.inner_text("#reports [data-figure=csat] dd") == "no answers yet"
        # the table: weekday rows, 24 hour columns, a text count in every cell
        table = page.locator("#reports table.heatmap")
        assert await table.locator("tbody tr").count() == 7
        assert await table.locator("thead th[scope=col]").count() == 25
        for day, hour, count in busy:
            cell = table.locator("tbody tr").nth(day).locator("td").nth(hour)
            assert await cell.inner_text() == str(count)
            assert "lvl-0" not in (await cell.get_attribute("class") or "")
        quiet = table.locator("tbody td.lvl-0")
        assert await quiet.count() == 7 * 24 - len(busy)
        await assert_accessible(page)
        await page.locator("#reports").scroll_into_view_if_needed()
        await screenshot(page, "console-reports")

        agent = await new_page(browser)
        await sign_in(agent, desk, desk.ann)
        assert await agent.is_hidden("#overview-button")
        assert await agent.locator("#reports").count() == 0
    refused = await desk.http.get("/v1/agent/reports/summary", params=query, headers=ann)
    assert refused.status_code == 403


async def test_hostile_texts_and_file_names_stay_text(desk: Desk) -> None:
    hostile = await desk.customer("javascript:alert(1) and https://ok.example/x", name=HOSTILE)
    upload = await desk.http.post(
        f"/v1/conversations/{hostile.conversation.id}/attachments",
        params={"name": f"{HOSTILE}.png"},
        content=png(160, 100),
        headers={**hostile.auth, "content-type": "application/octet-stream"},
    )
    assert upload.status_code == 201, upload.text
    hostile_text = f"see {RTL} <script>alert(2)</script>"
    await desk.say(hostile, hostile_text, attachments=[upload.json()["id"]])
    await desk.kit.contacts.update(
        hostile.contact_id, attributes={"site": "javascript:alert(3)", "note": HOSTILE}
    )
    async with chromium() as browser:
        page = await new_page(browser)
        await sign_in(page, desk, desk.ann)
        await page.wait_for_selector("#inbox-list .row")
        assert HOSTILE in await page.inner_text("#inbox-list")
        await page.locator("#inbox-list .row-open").first.click()
        await page.wait_for_selector("#messages img.msg-image")
        await wait_for(
            lambda: _image_loaded(page, "#messages img.msg-image"), "the image from the API"
        )
        assert await page.inner_text("#conv-title") == HOSTILE
        text = await page.inner_text("#messages")
        assert "<script>alert(2)</script>" in text
        # a right-to-left override is shown, not obeyed: "exe.txt" cannot pose as "txt.exe"
        assert "[U+202E]exe.txt" in text
        assert "\u202e" not in text
        assert await page.locator("img[src=x]").count() == 0
        assert await page.locator("script:not([src])").count() == 0
        hrefs: list[str] = await page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        assert hrefs == ["https://ok.example/x"]
        rels: list[str] = await page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.rel)"
        )
        assert rels == ["noopener noreferrer"]
        # the kit makes file names safe when they are uploaded; the console shows that name
        assert await page.inner_text("#messages figcaption") == upload.json()["name"]
        assert await page.get_attribute("#messages img.msg-image", "alt") == upload.json()["name"]
        assert "javascript:alert(3)" in await page.inner_text("#side")
        await screenshot(page, "console-hostile")
        await assert_accessible(page)


async def _has(texts: Any, wanted: str) -> bool:
    return wanted in await texts


async def _value_has(page: Any, selector: str, wanted: str) -> bool:
    return wanted in await page.input_value(selector)


async def _field(desk: Desk, customer: Customer, name: str, wanted: str) -> bool:
    found = await desk.kit.conversations.get(customer.conversation.id)
    value = getattr(found, name)
    return str(getattr(value, "value", value)) == wanted


async def _rows_without(page: Any, conversation_id: str) -> bool:
    return conversation_id not in await row_ids(page)


async def _title_starts(page: Any, prefix: str) -> bool:
    return str(await page.title()).startswith(prefix)


async def _image_loaded(page: Any, selector: str) -> bool:
    return bool(
        await page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")
    )


async def test_agent_attaches_an_image_that_both_sides_get(desk: Desk, tmp_path: Any) -> None:
    customer = await desk.customer("Can you send the label?", name="Lena")
    picture = tmp_path / "label.png"
    picture.write_bytes(png(120, 80))
    async with chromium() as browser:
        page = await new_page(browser)
        await sign_in(page, desk, desk.ann)
        await page.locator("#inbox-list .row-open").first.click()
        await page.wait_for_selector("#conv-title:has-text('Lena')")
        await page.set_input_files("#file", str(picture))
        await page.wait_for_selector("#uploads li:has-text('label.png')")
        await page.fill("#draft", "Here is your label")
        await page.click("#send")
        await page.wait_for_selector("#messages .msg-agent img.msg-image")
        await wait_for(
            lambda: _image_loaded(page, "#messages .msg-agent img.msg-image"),
            "the sent image to show",
        )
        assert await page.locator("#uploads li").count() == 0
    got = await desk.http.get(
        f"/v1/conversations/{customer.conversation.id}/messages",
        params={"after": 0},
        headers=customer.auth,
    )
    sent = [m for m in got.json()["items"] if m["text"] == "Here is your label"]
    assert [a["name"] for a in sent[0]["attachments"]] == ["label.png"]


async def test_the_hosts_sign_in_needs_no_token() -> None:
    """With the host's ``authenticate`` hook (a cookie here), the console skips its sign-in."""
    from starlette.requests import HTTPConnection

    from chatkit.web import AgentIdentity

    async with AsyncChatKit("memory://") as kit:
        await kit.teams.create("billing")
        ann = await kit.agents.create(name="Ann", teams=["billing"])

        async def from_cookie(connection: HTTPConnection) -> AgentIdentity | None:
            agent_id = connection.cookies.get("host_session")
            return AgentIdentity(agent_id=agent_id, role="agent") if agent_id == ann.id else None

        async with serve(kit.asgi(authenticate=from_cookie)) as url:
            contact = await kit.contacts.create(name="Olga")
            conv = await kit.conversations.create(contact_id=contact.id, team="billing")
            await kit.messages.send(conv.id, "hello", author=Author.customer(contact.id))
            async with chromium() as browser:
                page = await new_page(browser)
                await page.context.add_cookies(
                    [{"name": "host_session", "value": ann.id, "url": url}]
                )
                await page.goto(f"{url}/console/")
                await page.wait_for_selector("#app:not([hidden])")
                assert await page.is_hidden("#signin")
                assert await page.evaluate("sessionStorage.length") == 0
                await page.wait_for_selector("#live[data-state=live]")  # the socket too
                await page.wait_for_selector(f"#inbox-list .row[data-id='{conv.id}']")
                await page.locator("#inbox-list .row-open").first.click()
                await page.wait_for_selector("#messages .msg-customer:has-text('hello')")
                customer = Author.customer(contact.id)
                await kit.messages.send(conv.id, "still there?", author=customer)  # live
                await page.wait_for_selector("#messages .msg-customer:has-text('still there?')")
