"""GA4: chat milestones through the sync engine to the Measurement Protocol emulator.

The emulator runs on a real uvicorn server (`GA4Emulator`); the integration
talks httpx to it. A few unit tests use respx for what a live server cannot
stage (a timeout once the request was sent).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette")

from chatkit import AsyncChatKit, Author
from chatkit.errors import IntegrationConfigError
from chatkit.integrations import OutboundChange, PushStatus, SyncObject
from chatkit.models import AnalyticsConsent, WebSession, utcnow
from chatkit.models._base import new_id
from chatkit.stores.base import Insert
from chatkit.testing import IntegrationContract
from chatkit.web.sessions import hash_token, new_token
from chatkit_integrations.ga4._limits import validate_body
from chatkit_integrations.ga4.emulator import GA4Emulator
from chatkit_integrations.ga4.integration import (
    GA4Config,
    GA4Integration,
    GA4ValidationError,
)

from .services import drop_schema, fresh_schema, postgres_or_skip

pytestmark = pytest.mark.anyio

GRANTED = AnalyticsConsent(analytics=True, ad_user_data=True, ad_personalization=False)


@pytest.fixture
def emulator() -> Iterator[GA4Emulator]:
    with GA4Emulator(measurement_id="G-TEST123", api_secret="s3cret") as emu:
        yield emu


def config(emulator: GA4Emulator, **extra: Any) -> GA4Config:
    return GA4Config.create(
        {
            "measurement_id": "G-TEST123",
            "api_secret": "s3cret",
            "base_url": emulator.url,
            "timeout": 2,
            **extra,
        }
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def kit(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[AsyncChatKit]:
    if request.param != "postgres":
        url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'ga4.db'}"
        async with AsyncChatKit(url) as kit:
            yield kit
        return
    server = postgres_or_skip()
    schema = fresh_schema()
    try:
        async with AsyncChatKit(f"{server}?schema={schema}") as kit:
            yield kit
    finally:
        drop_schema(server, schema)


async def visitor(
    kit: AsyncChatKit,
    site_id: str,
    *,
    consent: AnalyticsConsent | None = GRANTED,
    client_id: str | None = None,
    user: str | None = None,
) -> tuple[str, str]:
    """A web visitor with a session carrying analytics fields; (contact id, sender value)."""
    client_id = client_id or f"{secrets.randbelow(10**9)}.{1_700_000_000}"
    if user is None:
        value = secrets.token_hex(8)
        contact = await kit.contacts.identify(("web", value))
        identity, sender = None, ("web", value)
    else:
        contact = await kit.contacts.identify(("external", f"{site_id}:{user}"), verified=True)
        identity, sender = f"external:{site_id}:{user}", ("external", f"{site_id}:{user}")
    session = WebSession(
        id=new_id("wsess"),
        token_hash=hash_token(new_token()),
        website_id=site_id,
        contact_id=contact.id,
        visitor_id=None if user else sender[1],
        identity=identity,
        expires_at=utcnow() + timedelta(hours=1),
        analytics_client_id=client_id,
        analytics_consent=consent,
    )
    await kit._core.commit([Insert(session)])
    return contact.id, client_id


async def chat(kit: AsyncChatKit, contact_id: str, *, rate: bool = True) -> str:
    """One whole chat: started, answered, handed over, resolved, rated."""
    contact = await kit.contacts.get(contact_id)
    identity = contact.identities[0]
    inbound = await kit.messages.receive(
        channel="web",
        sender=(identity.kind.value, identity.value),
        text="Where is my order?",
        verified=True,  # as the customer API does for its session's visitor
    )
    conv = inbound.conversation.id
    agent = await kit.agents.create(name="Sam", email=f"sam-{secrets.token_hex(4)}@example.com")
    await kit.conversations.assign(conv, agent.id)
    await kit.messages.send(conv, "On it!", author=Author.agent(agent.id))
    await kit.messages.send(conv, "Found it.", author=Author.agent(agent.id))
    await kit.conversations.resolve(conv)
    if rate:
        form = {"name": "quick", "questions": [{"id": "stars", "kind": "stars", "text": "Stars?"}]}
        survey = await kit.surveys.send(conv, form)
        await kit.surveys.answer(survey.id, {"stars": 5})
    return conv


async def test_a_whole_chat_becomes_five_events_on_the_visitor(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop", origins=["https://shop.example"])
    contact, client_id = await visitor(kit, site.id)
    conv = await chat(kit, contact)
    async with GA4Integration(config(emulator)) as ga4:
        async with kit.sync.engine(ga4, retry_delay=0.01) as engine:
            report = await engine.run_once()
        assert report.pushed == 5, report
    names = [e.name for e in emulator.events()]
    assert sorted(names) == sorted(
        ["chat_started", "chat_first_reply", "chat_handover", "chat_resolved", "chat_rated"]
    )
    assert {e.client_id for e in emulator.events()} == {client_id}
    assert all(e.user_id is None for e in emulator.events())
    assert all(e.params["conversation_id"] == conv for e in emulator.events())
    assert emulator.events()[0].consent == {
        "ad_user_data": "GRANTED",
        "ad_personalization": "DENIED",
    }
    reply = emulator.events("chat_first_reply")[0]
    assert isinstance(reply.params["response_seconds"], int)
    assert emulator.events("chat_handover")[0].params["source"] == "assignment"
    assert emulator.events("chat_rated")[0].params["score"] == 1.0
    # Their times are the events' times, not the send time.
    started = emulator.events("chat_started")[0].timestamp_micros
    assert started is not None
    assert abs(started / 1e6 - utcnow().timestamp()) < 60
    assert emulator.calls() == 1  # one visitor, five events: one request
    assert emulator.invalid() == []
    # Sent once: another cycle, or reading the outbox again, sends nothing.
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        again = await engine.run_once()
        await engine.resync()
        await engine.run_once()
    assert again.pushed == 0
    assert emulator.calls() == 1


async def test_identified_users_carry_their_user_id(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id, user="u-42")
    await chat(kit, contact, rate=False)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        await engine.run_once()
    assert emulator.events()
    assert {e.user_id for e in emulator.events()} == {"u-42"}


async def test_no_consent_sends_nothing(kit: AsyncChatKit, emulator: GA4Emulator) -> None:
    site = await kit.websites.create("Shop")
    refused, _ = await visitor(kit, site.id, consent=AnalyticsConsent(analytics=False))
    silent, _ = await visitor(kit, site.id, consent=None)
    await chat(kit, refused, rate=False)
    await chat(kit, silent, rate=False)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert emulator.requests == []
    assert report.skipped == 8
    assert report.pushed == 0
    assert ga4.stats.no_consent == 8
    # A website that needs no consent sends for a visitor who was not asked.
    free = await kit.websites.create("Blog", analytics_consent_required=False)
    contact, _ = await visitor(kit, free.id, consent=None)
    await chat(kit, contact, rate=False)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.pushed == 4
    assert len(emulator.events()) == 4


async def test_batches_hold_at_most_25_events(kit: AsyncChatKit, emulator: GA4Emulator) -> None:
    site = await kit.websites.create("Shop")
    contact, _client_id = await visitor(kit, site.id)
    # One visitor with 13 chats: 13 x 4 = 52 events = 3 requests (25, 25, 2).
    for _ in range(13):
        conv = await chat(kit, contact, rate=False)
        await kit.conversations.close(conv)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.pushed == 52
    sizes = sorted(len(r.body["events"]) for r in emulator.requests)
    assert sizes == [2, 25, 25]
    assert len(emulator.events()) == 52
    assert len({(e.name, e.params["conversation_id"]) for e in emulator.events()}) == 52


async def test_5xx_and_429_are_retried_without_duplicates(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    await chat(kit, contact)
    emulator.fail_next(503, times=1)
    emulator.fail_next(429, times=1, retry_after=0.1)
    async with GA4Integration(config(emulator, retries=3)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.pushed == 5
    assert emulator.calls() == 3  # two refused, one kept
    assert len(emulator.events()) == 5


async def test_5xx_past_the_retries_goes_back_to_the_queue(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    await chat(kit, contact, rate=False)
    emulator.fail_next(500, times=2)
    async with (
        GA4Integration(config(emulator, retries=1)) as ga4,
        kit.sync.engine(ga4, retry_delay=0.01) as engine,
    ):
        first = await engine.run_once()
        assert first.retried == 4
        assert emulator.events() == []
        await asyncio.sleep(0.3)  # the backoff GA4's failures asked for
        second = await engine.push()
    assert second.pushed == 4
    assert len(emulator.events()) == 4


class _Crash(BaseException):
    """The worker dies (after or before the vendor got the request)."""


class _Dying(GA4Integration):
    """Dies once: right after GA4 answered 2xx (``after=True``) or before sending."""

    def __init__(self, config: GA4Config, *, after: bool) -> None:
        super().__init__(config)
        self.after = after

    async def push(self, changes: Any) -> Any:
        if not self.after:
            raise _Crash
        await super().push(changes)
        raise _Crash


async def test_a_crash_after_the_post_never_sends_the_batch_again(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    await chat(kit, contact)
    dying = _Dying(config(emulator), after=True)
    async with dying, kit.sync.engine(dying, claim_seconds=0.05) as engine:
        with pytest.raises(_Crash):
            await engine.run_once()
    assert len(emulator.events()) == 5
    await asyncio.sleep(0.1)  # the dead worker's claim runs out
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.dead == 5
    assert report.pushed == 0
    assert len(emulator.events()) == 5
    assert emulator.calls() == 1
    dead = await kit.sync.dead_letters("ga4")
    assert all("outcome unknown" in (link.last_error or "") for link in dead)
    # An operator who knows GA4 never got them sends them anyway.
    assert await kit.sync.retry("ga4") == 5
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        await engine.run_once()
    assert len(emulator.events()) == 10


async def test_a_crash_mid_batch_cuts_off_one_request_only(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    # Three visitors' chats are one batch of the engine but three requests: the
    # engine claims and settles them one request at a time, so the worker dying
    # after the first request leaves the other two to the next worker.
    site = await kit.websites.create("Shop")
    for _ in range(3):
        contact, _ = await visitor(kit, site.id)
        await chat(kit, contact, rate=False)
    dying = _Dying(config(emulator), after=True)
    async with dying, kit.sync.engine(dying, claim_seconds=0.05) as engine:
        with pytest.raises(_Crash):
            await engine.run_once()
    assert emulator.calls() == 1
    assert len(emulator.events()) == 4
    await asyncio.sleep(0.1)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.pushed == 8  # the two requests never made
    assert report.dead == 4  # the cut-off one: GA4 has it, not sent again
    assert emulator.calls() == 3
    events = [(e.client_id, e.name, e.params["conversation_id"]) for e in emulator.events()]
    assert len(events) == 12
    assert len(set(events)) == 12  # nothing twice


async def test_a_crash_before_the_post_loses_the_batch_honestly(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    # The at-most-once window: claimed, cut off before GA4 answered. Not sent
    # again, because the engine cannot know GA4 does not have it.
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    await chat(kit, contact, rate=False)
    dying = _Dying(config(emulator), after=False)
    async with dying, kit.sync.engine(dying, claim_seconds=0.05) as engine:
        with pytest.raises(_Crash):
            await engine.run_once()
    await asyncio.sleep(0.1)
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        report = await engine.run_once()
    assert report.dead == 4
    assert emulator.events() == []


async def test_events_older_than_72_hours_are_dropped_with_a_count(
    emulator: GA4Emulator,
) -> None:
    old = _change("resolved", utcnow() - timedelta(hours=73))
    fresh = _change("resolved", utcnow() - timedelta(hours=71))
    async with GA4Integration(config(emulator)) as ga4:
        results = {r.change_id: r for r in await ga4.push([old, fresh])}
    assert results[old.change_id].status is PushStatus.SKIPPED
    assert "72 hours" in (results[old.change_id].error or "")
    assert results[fresh.change_id].status is PushStatus.OK
    assert ga4.stats.too_old == 1
    assert len(emulator.events()) == 1


def _change(
    milestone: str,
    at: Any = None,
    *,
    params: dict[str, Any] | None = None,
    client_id: str = "111.222",
) -> OutboundChange:
    at = at or utcnow()
    local = new_id("conv")
    return OutboundChange(
        change_id=f"{local}#{milestone}:1",
        object=SyncObject.EVENT,
        local_id=f"{local}#{milestone}",
        data={
            "event": milestone,
            "occurred_at": at.isoformat(),
            "conversation_id": local,
            "contact_id": "ct_1",
            "params": params or {},
            "visitor": {
                "client_id": client_id,
                "user_id": None,
                "consent": {"analytics": True, "ad_user_data": False, "ad_personalization": False},
                "consent_required": True,
            },
        },
    )


async def test_a_timeout_once_sent_is_dead_lettered_not_resent(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    # The emulator keeps the events but answers after the client gave up: the
    # integration cannot tell whether GA4 has them, so it does not send again.
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    await chat(kit, contact, rate=False)
    emulator.stall_next(1.5)
    async with (
        GA4Integration(config(emulator, timeout=0.3)) as ga4,
        kit.sync.engine(ga4, retry_delay=0.01) as engine,
    ):
        report = await engine.run_once()
        again = await engine.run_once()
    assert report.dead == 4
    assert again.pushed == 0
    assert emulator.calls() == 1
    assert len(emulator.events()) == 4  # GA4 got them once
    assert ga4.stats.unconfirmed == 4
    [reason] = {link.last_error for link in await kit.sync.dead_letters("ga4")}
    assert reason is not None
    assert "outcome unknown" in reason


# -- limits, validation ------------------------------------------------------------


async def test_the_emulator_checks_the_documented_limits(emulator: GA4Emulator) -> None:
    bad = {
        "client_id": "1.2",
        "events": [
            {"name": "_bad"},
            {"name": "session_start"},
            {"name": "x" * 41},
            {"name": "ok", "params": {f"p{i}": i for i in range(26)}},
            {"name": "ok", "params": {"ga_thing": 1, "v": "x" * 101}},
        ]
        + [{"name": "filler"}] * 21,
    }
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        collect = await http.post(
            "/mp/collect", params={"measurement_id": "G-TEST123", "api_secret": "s3cret"}, json=bad
        )
        debug = await http.post(
            "/debug/mp/collect", params={"measurement_id": "G-TEST123"}, json=bad
        )
        dup = await http.post(
            "/debug/mp/collect",
            params={"measurement_id": "G-TEST123"},
            content=b'{"client_id": "1.2", "client_id": "3.4", "events": [{"name": "a"}]}',
        )
        missing = await http.post(
            "/debug/mp/collect", params={"measurement_id": "G-TEST123"}, json={"events": []}
        )
    assert collect.status_code == 204  # as GA4: no error on /mp/collect
    assert emulator.events() == []
    assert len(emulator.invalid()) == 1
    codes = {m["validationCode"] for m in debug.json()["validationMessages"]}
    assert codes == {
        "NAME_INVALID",
        "NAME_RESERVED",
        "EXCEEDED_MAX_ENTITIES",
        "VALUE_OUT_OF_BOUNDS",
    }
    assert [m["validationCode"] for m in dup.json()["validationMessages"]] == ["NAME_DUPLICATED"]
    assert {m["validationCode"] for m in missing.json()["validationMessages"]} == {"VALUE_REQUIRED"}
    props = validate_body(
        {
            "client_id": "1.2",
            "user_properties": {
                "p" * 25: {"value": "x"},
                "plan": {"value": "y" * 37},
                "first_open_time": {"value": 1},
                **{f"u{i}": {"value": i} for i in range(23)},
            },
            "events": [{"name": "a"}],
        }
    )
    assert sorted((m["fieldPath"], m["validationCode"]) for m in props) == [
        ("user_properties", "EXCEEDED_MAX_ENTITIES"),
        ("user_properties.first_open_time", "NAME_RESERVED"),
        ("user_properties.plan", "VALUE_OUT_OF_BOUNDS"),
        ("user_properties." + "p" * 25, "NAME_INVALID"),
    ]
    message = debug.json()["validationMessages"][0]
    assert set(message) == {"fieldPath", "description", "validationCode"}


async def test_validation_errors_are_typed(emulator: GA4Emulator) -> None:
    async with GA4Integration(config(emulator)) as ga4:
        with pytest.raises(GA4ValidationError) as caught:
            await ga4.check_payload({"client_id": "1.2", "events": [{"name": "google_x"}]})
        [message] = caught.value.messages
        assert message.validation_code == "NAME_RESERVED"
        assert message.field_path == "events"
        await ga4.check_payload(ga4.sample())  # valid: no error
        assert (await ga4.check()).ok


async def test_validate_first_refuses_what_the_debug_endpoint_refuses(
    emulator: GA4Emulator,
) -> None:
    change = _change("chat_started", params={"channel": "web"})
    async with GA4Integration(config(emulator, validate_first=True)) as ga4:
        [ok] = await ga4.push([change])
    assert ok.status is PushStatus.OK
    assert emulator.calls("/debug/mp/collect") == 1
    assert emulator.calls() == 1


def test_bad_settings_are_typed_errors() -> None:
    with pytest.raises(IntegrationConfigError) as caught:
        GA4Config.create({"measurement_id": "UA-1", "api_secret": "x"})
    assert caught.value.fields == ("measurement_id",)
    with pytest.raises(IntegrationConfigError):
        GA4Config.create(
            {"measurement_id": "G-ABC123", "api_secret": "x", "event_names": {"rated": "ga_rated"}}
        )
    with pytest.raises(IntegrationConfigError):
        GA4Config.create(
            {"measurement_id": "G-ABC123", "api_secret": "x", "event_names": {"rated": "a" * 41}}
        )


def test_the_local_validator_passes_what_the_integration_builds() -> None:
    ga4 = GA4Integration(GA4Config.create({"measurement_id": "G-ABC123", "api_secret": "x"}))
    long = _change("handover", params={"team": "t" * 300, "bad name": 1, "_x": 2, "n": 3})
    event = ga4.event_of(long)
    assert event["params"] == {
        "conversation_id": long.data["conversation_id"],
        "team": "t" * 100,
        "n": 3,
    }
    assert validate_body({"client_id": "1.2", "events": [event]}) == []


# -- respx: what a live server cannot stage ----------------------------------------


async def test_a_timeout_after_sending_is_not_resent() -> None:
    respx = pytest.importorskip("respx")
    cfg = GA4Config.create(
        {"measurement_id": "G-ABC123", "api_secret": "x", "base_url": "https://ga.test"}
    )
    with respx.mock(base_url="https://ga.test") as mock:
        route = mock.post("/mp/collect").mock(side_effect=httpx.ReadTimeout("slow"))
        async with GA4Integration(cfg) as ga4:
            [result] = await ga4.push([_change("resolved")])
        assert route.call_count == 1
        assert result.status is PushStatus.PERMANENT
        assert "outcome unknown" in (result.error or "")
        assert ga4.stats.unconfirmed == 1
        resend = cfg.model_copy(update={"resend_unconfirmed": True})
        async with GA4Integration(resend) as ga4:
            [again] = await ga4.push([_change("resolved")])
        assert again.status is PushStatus.RETRYABLE


async def test_a_refused_connection_is_tried_again() -> None:
    respx = pytest.importorskip("respx")
    cfg = GA4Config.create(
        {"measurement_id": "G-ABC123", "api_secret": "x", "base_url": "https://ga.test"}
    )
    with respx.mock(base_url="https://ga.test") as mock:
        route = mock.post("/mp/collect").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(204)]
        )
        async with GA4Integration(cfg) as ga4:
            [result] = await ga4.push([_change("resolved")])
        assert result.status is PushStatus.OK
        assert route.call_count == 2
        body = route.calls[-1].request.content
        assert b'"timestamp_micros"' in body
        assert b'"client_id":"111.222"' in body


# -- the contract suite --------------------------------------------------------------


class TestGA4Contract(IntegrationContract):
    @pytest.fixture
    async def integration(self, emulator: GA4Emulator) -> AsyncIterator[GA4Integration]:
        async with GA4Integration(config(emulator)) as ga4:
            yield ga4


# -- the customer API: the widget passes the client id and consent ----------------


async def test_the_widget_passes_client_id_and_consent_through_the_customer_api(
    emulator: GA4Emulator,
) -> None:
    pytest.importorskip("fastapi")
    from chatkit.web import WebSettings

    from .webserver import serve

    shop = "https://shop.example"
    async with AsyncChatKit("memory://") as kit:
        site = await kit.websites.create("Shop", origins=[shop])
        app = kit.asgi(WebSettings())
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
            bad = await http.post(
                "/v1/sessions",
                json={"website_key": site.public_key, "analytics_client_id": "GA1.1.123"},
                headers={"origin": shop},
            )
            assert bad.status_code == 422
            assert bad.json()["error"]["code"] == "invalid_input"
            assert await kit.store.count(WebSession, {}) == 0  # nothing changed
            started = await http.post(
                "/v1/sessions",
                json={
                    "website_key": site.public_key,
                    "analytics_client_id": "1234567890.1700000000",
                },
                headers={"origin": shop},
            )
            assert started.status_code == 201, started.text
            me = {"authorization": f"Bearer {started.json()['token']}", "origin": shop}
            sent = await http.post("/v1/messages", json={"text": "Hello"}, headers=me)
            assert sent.status_code == 201, sent.text
            # Not asked yet: nothing goes to GA4.
            async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
                first = await engine.run_once()
            assert first.skipped == 1
            assert emulator.requests == []
            refused = await http.put(
                "/v1/sessions/current/analytics",
                json={"analytics_client_id": "abc", "analytics_consent": {"analytics": True}},
                headers=me,
            )
            assert refused.status_code == 422
            assert refused.json()["error"]["code"] == "invalid_input"
            [session] = await kit.store.find(WebSession, {})
            assert session.analytics_consent is None  # nothing changed
            # The visitor accepts analytics in the banner; later milestones go out.
            answer = await http.put(
                "/v1/sessions/current/analytics",
                json={"analytics_consent": {"analytics": True, "ad_user_data": False}},
                headers=me,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["consent_required"] is True
            assert answer.json()["analytics_client_id"] == "1234567890.1700000000"
            await kit.conversations.resolve(sent.json()["conversation_id"])
            async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
                second = await engine.run_once()
            assert second.pushed == 1
            [event] = emulator.events()
            assert event.name == "chat_resolved"
            assert event.client_id == "1234567890.1700000000"
            assert event.consent == {"ad_user_data": "DENIED", "ad_personalization": "DENIED"}


# -- the command line ----------------------------------------------------------------


def test_sync_check_ga4_validates_against_the_emulator(
    emulator: GA4Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import entry_points

    from typer.testing import CliRunner

    from chatkit.cli import app

    if "ga4" not in {ep.name for ep in entry_points(group="chatkit.integrations")}:
        pytest.skip("chatkit is installed without the ga4 entry point (reinstall it)")
    monkeypatch.setenv("CHATKIT_GA4_MEASUREMENT_ID", "G-TEST123")
    monkeypatch.setenv("CHATKIT_GA4_API_SECRET", "s3cret")
    monkeypatch.setenv("CHATKIT_GA4_BASE_URL", emulator.url)
    runner = CliRunner()
    good = runner.invoke(app, ["sync", "check", "ga4"], env={"COLUMNS": "250"})
    assert good.exit_code == 0, good.output
    assert "ga4: ok" in good.output
    assert "s3cret" not in good.output
    assert emulator.calls("/debug/mp/collect") == 1
    assert emulator.calls() == 0
    # A name over GA4's 40 characters: refused before anything is sent, by field.
    monkeypatch.setenv("CHATKIT_GA4_EVENT_NAMES", '{"rated": "chat_rated_' + "x" * 30 + '"}')
    too_long = runner.invoke(app, ["sync", "check", "ga4"], env={"COLUMNS": "250"})
    assert too_long.exit_code == 1, too_long.output
    assert "NAME_INVALID" in too_long.output
    assert "event_names" in too_long.output


async def test_the_consent_requirement_must_be_a_flag(kit: AsyncChatKit) -> None:
    from chatkit.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        await kit.websites.create("Shop", analytics_consent_required="no")  # type: ignore[arg-type]
    assert caught.value.field == "analytics_consent_required"
    assert await kit.websites.list() == []


def test_websites_cli_sets_the_analytics_consent_requirement(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from chatkit import ChatKit
    from chatkit.cli import app

    url = f"sqlite:///{tmp_path / 'sites.db'}"
    runner = CliRunner()
    made = runner.invoke(
        app, ["websites", "create", "Blog", "--no-analytics-consent", "--url", url]
    )
    assert made.exit_code == 0, made.output
    assert "analytics:        consent not required" in made.output
    with ChatKit(url) as kit:
        [site] = kit.websites.list()
        assert site.analytics_consent_required is False
    changed = runner.invoke(
        app, ["websites", "update", site.id, "--analytics-consent", "--url", url]
    )
    assert changed.exit_code == 0, changed.output
    with ChatKit(url) as kit:
        assert kit.websites.get(site.id).analytics_consent_required is True
        assert kit.websites.get(site.id).typing_previews is False  # the rest unchanged


async def test_each_milestone_is_sent_once_per_occurrence(
    kit: AsyncChatKit, emulator: GA4Emulator
) -> None:
    site = await kit.websites.create("Shop")
    contact, _ = await visitor(kit, site.id)
    conv = await chat(kit, contact, rate=False)
    other = await kit.agents.create(name="Kim", email="kim@example.com")
    await kit.conversations.reopen(conv)
    await kit.conversations.assign(conv, other.id)  # a second assignment: no second handover
    await kit.messages.send(conv, "Anything else?", author=Author.agent(other.id))
    await kit.conversations.resolve(conv)  # resolved again: a second chat_resolved
    async with GA4Integration(config(emulator)) as ga4, kit.sync.engine(ga4) as engine:
        await engine.run_once()
    names = sorted(e.name for e in emulator.events())
    assert names == [
        "chat_first_reply",
        "chat_handover",
        "chat_resolved",
        "chat_resolved",
        "chat_started",
    ]


def test_events_are_outbound_only() -> None:
    from pydantic import ValidationError

    from chatkit.integrations import Capabilities, ObjectSync

    with pytest.raises(ValidationError, match="outbound only"):
        Capabilities(objects=(ObjectSync.both_ways("event", "hit", 25),))
