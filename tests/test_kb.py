"""The knowledge base: articles written, published, listed and deleted, found by
full-text search ranked by relevance in each language, from a customer's message,
an agent's composer or a bot, on every store."""

from __future__ import annotations

import pytest

from chatkit import AsyncChatKit, Author, InvalidInputError, NotFoundError
from chatkit.events import ArticleCreated, ArticleDeleted, ArticleUpdated, Event
from chatkit.models import Article
from chatkit.services.kb import KnowledgeBase, snippet

pytestmark = pytest.mark.anyio

LATE_TR = "Siparişim gecikti, ne yapmalıyım?"


def _kb(kit: AsyncChatKit) -> KnowledgeBase:
    return KnowledgeBase(kit._core)


async def _events(kit: AsyncChatKit) -> list[Event]:
    return (await kit.events.list(limit=1000)).items


async def _library(kb: KnowledgeBase) -> dict[str, Article]:
    """A small knowledge base in English, Turkish and Korean."""
    specs = {
        "late_en": ("My order is late", "Orders usually arrive in 3 days. Track them in Account."),
        "refund_en": ("Refund policy", "You can return any item within 30 days for a refund."),
        "password_en": ("Reset your password", "Use the sign-in page to reset your password."),
        "late_tr": ("Sipariş gecikmesi", "Siparişiniz geciktiyse kargo takip numaranıza bakın."),
        "refund_tr": ("İade ve para iadesi", "Ürünü 30 gün içinde iade edebilirsiniz."),
        "late_ko": ("배송 지연 안내", "배송 조회 방법: 주문 내역에서 확인하세요."),
    }
    languages = {"en": "en", "tr": "tr", "ko": "ko"}
    out = {}
    for key, (title, body) in specs.items():
        out[key] = await kb.create(
            title, body, language=languages[key.rsplit("_", 1)[1]], published=True
        )
    return out


async def test_create_get_update_delete(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    article = await kb.create(
        "  Where is   my order? ",
        "Track it in Account.",
        language="en_us",
        tags=["Orders", "orders", "Delivery "],
        intents=["Order_Status"],
    )
    assert article.id.startswith("kb_")
    assert (article.title, article.language, article.published) == (
        "Where is my order?",
        "en-US",
        False,
    )
    assert (article.tags, article.intents) == (["orders", "delivery"], ["order_status"])
    assert await kb.get(article.id) == article

    same = await kb.update(article.id, title="Where is my order?", tags=["ORDERS", "delivery"])
    assert same == article  # nothing differs: no new version
    new = await kb.update(article.id, body="Track it under Orders.", tags=["shipping"])
    assert (new.version, new.body, new.tags, new.title) == (
        2,
        "Track it under Orders.",
        ["shipping"],
        article.title,
    )
    assert await kb.get(article.id) == new

    await kb.delete(article.id)
    await kb.delete(article.id)  # idempotent
    with pytest.raises(NotFoundError):
        await kb.get(article.id)
    with pytest.raises(NotFoundError):
        await kb.update(article.id, title="x")
    with pytest.raises(NotFoundError):
        await kb.publish("kb_missing")


async def test_events_follow_every_change(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    article = await kb.create("Shipping costs", "Free over 50 EUR.")
    await kb.publish(article.id)
    await kb.publish(article.id)  # already published: no event
    await kb.update(article.id, title="Shipping fees", language="en-GB")
    await kb.unpublish(article.id)
    await kb.delete(article.id)
    await kb.delete(article.id)
    events = [e for e in await _events(kit) if e.type.startswith("kb.")]
    assert [e.type for e in events] == [
        "kb.article_created",
        "kb.article_updated",
        "kb.article_updated",
        "kb.article_updated",
        "kb.article_deleted",
    ]
    created, published, renamed, unpublished, deleted = events
    assert isinstance(created, ArticleCreated)
    assert created.article == article
    assert isinstance(published, ArticleUpdated)
    assert (published.changed, published.article.published) == (["published"], True)
    assert isinstance(renamed, ArticleUpdated)
    assert renamed.changed == ["language", "title"]
    assert isinstance(unpublished, ArticleUpdated)
    assert unpublished.article.published is False
    assert isinstance(deleted, ArticleDeleted)
    assert (deleted.article_id, deleted.language) == (article.id, "en-GB")


async def test_list_pages_by_language_and_state(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    made = [
        await kb.create(f"Article {n}", language="tr" if n % 2 else "en", published=n < 3)
        for n in range(6)
    ]
    seen: list[Article] = []
    cursor = None
    while True:
        page = await kb.list(limit=4, cursor=cursor)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(a.id for a in seen) == sorted(a.id for a in made)
    assert [a.id for a in seen] == sorted(a.id for a in seen)
    turkish = (await kb.list(language="TR")).items
    assert {a.id for a in turkish} == {made[1].id, made[3].id, made[5].id}
    drafts = (await kb.list(published=False)).items
    assert {a.id for a in drafts} == {a.id for a in made[3:]}
    live_en = (await kb.list(language="en", published=True)).items
    assert {a.id for a in live_en} == {made[0].id, made[2].id}


async def test_search_ranks_by_relevance_in_each_language(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    lib = await _library(kb)
    hits = await kb.search("Where is my order? It is late", language="en")
    assert hits[0].article.id == lib["late_en"].id
    assert all(h.article.language == "en" for h in hits)
    assert all(0 < h.score < 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    # A title hit beats a body hit.
    refund = await kb.search("refund", language="en")
    assert [h.article.id for h in refund][:1] == [lib["refund_en"].id]
    body_only = await kb.create("Returns", "Ask for a refund at the desk.", published=True)
    refund = await kb.search("refund", language="en")
    assert [h.article.id for h in refund] == [lib["refund_en"].id, body_only.id]

    tr = await kb.search(LATE_TR, language="tr")
    assert [h.article.id for h in tr][:1] == [lib["late_tr"].id]
    assert (await kb.search("iade", language="tr"))[0].article.id == lib["refund_tr"].id
    assert (await kb.search("IADE", language="tr"))[0].article.id == lib["refund_tr"].id
    ko = await kb.search("배송이 안 와요", language="ko")
    assert [h.article.id for h in ko] == [lib["late_ko"].id]

    everywhere = await kb.search("sipariş", limit=10)
    assert [h.article.id for h in everywhere] == [lib["late_tr"].id]
    assert await kb.search("refund", language="tr") == []
    assert len(await kb.search("order refund password", language="en", limit=2)) == 2


async def test_a_regional_search_reads_the_base_language_too(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    base = await kb.create("Gift cards", "Buy one online.", language="en", published=True)
    us = await kb.create("Gift cards in the US", language="en-US", published=True)
    gb = await kb.create("Gift cards in the UK", language="en-GB", published=True)
    found = {h.article.id for h in await kb.search("gift cards", language="en-US")}
    assert found == {base.id, us.id}
    assert gb.id not in found


async def test_drafts_are_hidden_unless_asked(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    draft = await kb.create("Holiday opening hours", "We open at ten.")
    assert await kb.search("holiday hours") == []
    hits = await kb.search("holiday hours", published_only=False)
    assert [h.article.id for h in hits] == [draft.id]
    await kb.publish(draft.id)
    assert [h.article.id for h in await kb.search("holiday hours")] == [draft.id]
    await kb.unpublish(draft.id)
    assert await kb.search("holiday hours") == []


async def test_search_follows_updates_and_deletes(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    article = await kb.create("Invoices", "Download a PDF.", tags=["billing"], published=True)
    assert [h.article.id for h in await kb.search("billing")] == [article.id]
    await kb.update(article.id, title="Receipts", tags=["tax"])
    assert await kb.search("invoices") == []
    assert await kb.search("billing") == []
    assert [h.article.title for h in await kb.search("receipts")] == ["Receipts"]
    await kb.delete(article.id)
    assert await kb.search("receipts") == []


async def test_hits_carry_a_snippet_around_the_match(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    filler = "Lorem ipsum dolor sit amet. " * 20
    body = filler + "To change the delivery address, open the order page." + " Tail." * 40
    await kb.create("Orders", body, published=True)
    (hit,) = await kb.search("delivery address")
    assert "delivery address" in hit.snippet
    assert hit.snippet.startswith("…")
    assert hit.snippet.endswith("…")
    assert len(hit.snippet) <= 202
    short = await kb.create("Opening hours", "Nine to five.", published=True)
    (hit,) = await kb.search("hours")
    assert (hit.article.id, hit.snippet) == (short.id, "Nine to five.")
    assert snippet("a b " * 200, "zzz").startswith("a b")


async def test_suggest_for_reads_the_customers_last_message(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    lib = await _library(kb)
    inbound = await kit.messages.receive(channel="web", sender="t1", text=LATE_TR)
    conversation = inbound.conversation
    hits = await kb.suggest_for(conversation.id)
    assert hits
    assert hits[0].article.id == lib["late_tr"].id
    assert all(h.article.language == "tr" for h in hits)

    # The agent's answer is not the customer's message.
    mia = await kit.agents.create(name="Mia")
    await kit.messages.send(conversation.id, "Password reset?", author=Author.agent(mia.id))
    assert (await kb.suggest_for(conversation.id))[0].article.id == lib["late_tr"].id

    korean = await kit.messages.receive(channel="web", sender="k1", text="배송이 너무 늦어요")
    assert [h.article.id for h in await kb.suggest_for(korean.message)] == [lib["late_ko"].id]
    assert len(await kb.suggest_for(conversation.id, limit=1)) <= 1

    empty = await kit.conversations.create(contact_id=inbound.contact.id)
    assert await kb.suggest_for(empty.id) == []
    with pytest.raises(NotFoundError):
        await kb.suggest_for("conv_missing")


async def test_agent_composer_and_bot_searches(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    lib = await _library(kb)
    # The composer searches as the agent types, in the conversation's language.
    for draft in ["pass", "passw", "password res"]:
        hits = await kb.search(draft, language="en")
        assert hits, draft
        assert hits[0].article.id == lib["password_en"].id
    # A bot looks up what the customer asked and offers the best article.
    (best,) = await kb.search("how do I get a refund??", language="en", limit=1)
    assert best.article.id == lib["refund_en"].id


async def test_hostile_queries_are_plain_words(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    await _library(kb)
    for query in [
        '"',
        "*",
        "OR",
        "NEAR(",
        "'; DROP TABLE kb_articles; --",
        "🚀🔥",
        "",
        "   ",
        "order AND NOT refund",
        "title:refund",
        "refund:*",
        "a" * 5000,
        "\\' | & ! <-> (",
    ]:
        hits = await kb.search(query, published_only=False)
        assert isinstance(hits, list), query
    assert len((await kb.list()).items) == 6
    hits = await kb.search("'; DROP TABLE refund; --", language="en")
    assert [h.article.title for h in hits] == ["Refund policy"]


async def test_bad_input_is_refused_and_changes_nothing(kit: AsyncChatKit) -> None:
    kb = _kb(kit)
    article = await kb.create("Opening hours", "Nine to five.")
    bad_creates: list[tuple[dict[str, object], str]] = [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "ok", "body": "x" * 50_001}, "body"),
        ({"title": "ok", "language": "english"}, "language"),
        ({"title": "ok", "language": 7}, "language"),
        ({"title": "ok", "tags": "orders"}, "tags"),
        ({"title": "ok", "tags": [""]}, "tags"),
        ({"title": "ok", "intents": [3]}, "intents"),
        ({"title": "ok", "published": "yes"}, "published"),
        ({"title": "nul\x00"}, "title"),
    ]
    for fields, field in bad_creates:
        with pytest.raises(InvalidInputError) as caught:
            await kb.create(**fields)  # type: ignore[arg-type]
        assert (caught.value.field or "").split(".")[0] == field, fields
    with pytest.raises(InvalidInputError) as caught:
        await kb.update(article.id, title="")
    assert caught.value.field == "title"
    with pytest.raises(InvalidInputError) as caught:
        await kb.update(article.id, published=1)  # type: ignore[arg-type]
    assert caught.value.field == "published"
    with pytest.raises(InvalidInputError) as caught:
        await kb.search(None)  # type: ignore[arg-type]
    assert caught.value.field == "query"
    for kwargs, field in [
        ({"language": "english"}, "language"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"published_only": None}, "published_only"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            await kb.search("hours", **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    with pytest.raises(InvalidInputError):
        await kb.list(limit=0)
    with pytest.raises(InvalidInputError):
        await kb.delete("")
    assert [a.id for a in (await kb.list()).items] == [article.id]
    assert await kb.get(article.id) == article
    assert [e.type for e in await _events(kit) if e.type.startswith("kb.")] == [
        "kb.article_created"
    ]


async def test_scores_mean_the_same_on_every_store(kit: AsyncChatKit) -> None:
    """The same articles and query give the same scores on memory, SQLite and PostgreSQL."""
    kb = _kb(kit)
    late = await kb.create(
        title="Where is my order?",
        body="Orders ship in two days. Track your parcel with the tracking number.",
        tags=["orders", "delivery"],
    )
    await kb.create(title="Reset your password", body="Use the sign-in page.", tags=["account"])
    for article in (await kb.list(published=False)).items:
        await kb.publish(article.id)
    hits = await kb.search("my order is late, where is my parcel?", language="en")
    assert [h.article.id for h in hits][:1] == [late.id]
    assert hits[0].score == pytest.approx(0.8463, abs=0.001)  # the same figure on each store
