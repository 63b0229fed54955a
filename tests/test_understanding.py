"""Understanding customer messages: languages, intents, entities, sentiment, mood, patterns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit.errors import InvalidInputError, PluginNotFoundError
from chatkit.understanding import (
    Analyzer,
    IntentSet,
    KeywordClassifier,
    LanguagePack,
    Languages,
    LexiconSentimentAnalyzer,
    MoodTracker,
    ProductCatalogue,
    classifiers,
    default_intents,
    negative_terms,
    question_patterns,
    sentiment_analyzers,
)
from chatkit.understanding.evaluation import EvaluationReport, evaluate, read_labelled

DATA = Path(__file__).parent / "data" / "understanding"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def entities(analyzer: Analyzer, text: str) -> set[tuple[str, str]]:
    return {(e.type, e.value) for e in analyzer.analyze(text).classification.entities}


# -- the examples --------------------------------------------------------------


def test_late_order_with_number_and_date(analyzer: Analyzer) -> None:
    text = "I ordered on August 1st, it's 4 days late, my order number is 245-12784"
    analysis = analyzer.analyze(text)
    assert analysis.language == "en"
    assert analysis.classification.intent == "order_status"
    found = {(e.type, e.value, e.text) for e in analysis.classification.entities}
    assert ("order_number", "245-12784", "245-12784") in found
    assert ("date", "--08-01", "August 1st") in found
    assert ("duration", "P4D", "4 days") in found
    assert analysis.sentiment.label == "negative"


def test_complaint_about_the_team(analyzer: Analyzer) -> None:
    analysis = analyzer.analyze("nobody answered for two days and the team is terrible")
    assert analysis.classification.intent == "complaint"
    assert analysis.sentiment.label == "negative"
    assert analysis.sentiment.score < -0.5
    assert "agent" in analysis.sentiment.aspects


# -- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("배송이 너무 늦어요", "ko"),
        ("Siparişim gecikti", "tr"),
        ("siparisim nerde kaldi acaba", "tr"),  # typed without Turkish letters
        ("Merhabalar", "tr"),
        ("Where is my parcel?", "en"),
        ("12345", "en"),  # no evidence: the default
        ("Nova X2 주문했는데 아직 안 왔어요", "ko"),  # mixed script, mostly Hangul
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert Languages().detect(text) == language


def test_turkish_casing_and_folding() -> None:
    turkish = Languages().get("tr")
    assert turkish.lower("IĞDIR İSTANBUL") == "\u0131\u011fd\u0131r istanbul"  # dotless i
    assert [t.norm for t in turkish.tokens("SİPARİŞİM Ahmet'in")] == ["siparisim", "ahmet"]


@pytest.mark.parametrize(
    ("word", "stem"),
    [("배송이", "배송"), ("환불은", "환불"), ("주문을", "주문"), ("끔찍합니다", "끔찍")],
)
def test_korean_particles_and_endings_are_stripped(word: str, stem: str) -> None:
    assert Languages().get("ko").stem(word) == stem


def test_suffixed_words_match_their_lexicon_terms() -> None:
    languages = Languages()
    korean = {t.text: t for t in languages.get("ko").tokens("배송이 끔찍합니다")}
    assert korean["배송이"].aspect == "delivery"
    assert korean["끔찍합니다"].valence < 0
    turkish = {t.text: t for t in languages.get("tr").tokens("siparişim gecikti")}
    assert turkish["siparişim"].concept == "order"
    assert turkish["gecikti"].valence < 0


def test_suffix_handling_in_classification(analyzer: Analyzer) -> None:
    assert analyzer.analyze("배송이 언제 오나요?").classification.intent == "order_status"
    assert analyzer.analyze("Kargom hâlâ gelmedi").classification.intent == "order_status"
    assert analyzer.analyze("şifremi unuttum").classification.intent == "account_access"
    assert analyzer.analyze("비밀번호를 잊어버렸어요").classification.intent == "account_access"


def test_language_can_be_given(analyzer: Analyzer) -> None:
    assert analyzer.analyze("ok", "tr").language == "tr"
    with pytest.raises(InvalidInputError, match="not loaded"):
        analyzer.analyze("ok", "xx")


def test_adding_a_language_is_data() -> None:
    german = LanguagePack.from_data(
        {
            "code": "de",
            "name": "German",
            "letters": "äöüß",
            "detection_words": ["ich", "nicht", "meine", "und", "ist", "wo"],
            "negators": ["nicht", "kein", "keine"],
            "sentiment": {"gut": 2, "schlecht": -2},
            "concepts": {"order": ["bestellung", "paket"]},
        }
    )
    languages = Languages([*Languages.builtin_packs(), german])
    intents = default_intents().merge(
        IntentSet.from_data(
            {"intents": [{"name": "order_status", "languages": {"de": {"keywords": ["paket"]}}}]}
        )
    )
    analyzer = Analyzer(languages=languages, intents=intents)
    analysis = analyzer.analyze("Wo ist mein Paket? Das ist nicht gut.")
    assert analysis.language == "de"
    assert analysis.classification.intent == "order_status"
    assert analysis.sentiment.label == "negative"


def test_bad_language_pack_is_rejected_clearly() -> None:
    with pytest.raises(InvalidInputError, match=r"sentiment.*valence"):
        LanguagePack.from_data({"code": "de", "name": "German", "sentiment": {"gut": 9}})
    with pytest.raises(InvalidInputError, match="code"):
        LanguagePack.from_data({"code": "German!", "name": "German"})


# -- intents as data ---------------------------------------------------------------------


def test_custom_intent_from_data() -> None:
    extra = IntentSet.from_data(
        {
            "intents": [
                {
                    "name": "loyalty_points",
                    "description": "Reward points",
                    "languages": {
                        "en": {"keywords": {"points": 2, "loyalty": 2, "rewards": 2}},
                        "tr": {"keywords": {"puan*": 2, "sadakat": 2}},
                        "ko": {"keywords": {"포인트": 2, "적립": 2}},
                    },
                }
            ]
        }
    )
    classifier = KeywordClassifier(intents=default_intents().merge(extra))
    assert classifier.classify_sync("How many loyalty points do I have?").intent == "loyalty_points"
    assert classifier.classify_sync("Puanlar\u0131m nerede?").intent == "loyalty_points"
    assert classifier.classify_sync("포인트 적립이 안 됐어요").intent == "loyalty_points"
    # the built-ins still work
    assert classifier.classify_sync("I want a refund").intent == "refund_return"


def test_merge_adds_words_to_a_builtin_intent() -> None:
    more = IntentSet.from_data(
        {"intents": [{"name": "refund_return", "languages": {"en": {"keywords": ["chargeback"]}}}]}
    )
    merged = default_intents().merge(more)
    assert merged.names == default_intents().names
    assert "chargeback" in merged.get("refund_return").languages["en"].keywords
    assert "refund" in merged.get("refund_return").languages["en"].keywords
    assert merged.get("greeting").weight == 0.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"intents": [{"name": "Bad Name", "languages": {"en": {"keywords": ["x"]}}}]}, "name"),
        ({"intents": [{"name": "empty", "languages": {"en": {}}}]}, "keyword or example"),
        ({"intents": [{"name": "w", "languages": {"en": {"keywords": {"x": -1}}}}]}, "weight"),
        ({"intents": [{"name": "none", "languages": {}}]}, "languages"),
        ({"intents": [{"name": "x", "languages": {"en": {"keywords": ["a"]}}, "oops": 1}]}, "oops"),
        ({"intent": []}, "intents"),
    ],
)
def test_bad_intent_definitions_raise_invalid_input(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        IntentSet.from_data(data)


def test_duplicate_intent_names_are_rejected() -> None:
    one = {"name": "a", "languages": {"en": {"keywords": ["x"]}}}
    with pytest.raises(InvalidInputError, match="defined twice"):
        IntentSet.from_data({"intents": [one, one]})


def test_intents_from_file(tmp_path: Path) -> None:
    path = tmp_path / "intents.json"
    path.write_text(
        json.dumps({"intents": [{"name": "a", "languages": {"en": {"examples": ["hi"]}}}]})
    )
    assert IntentSet.from_file(path).names == ["a"]
    path.write_text("not json")
    with pytest.raises(InvalidInputError, match="cannot read"):
        IntentSet.from_file(path)


def test_classification_has_ranked_alternatives(analyzer: Analyzer) -> None:
    result = analyzer.analyze("I was charged twice and want a refund").classification
    assert result.intent in {"billing_payment", "refund_return"}
    names = [a.intent for a in result.alternatives]
    assert {"billing_payment", "refund_return"} <= set(names)
    confidences = [a.confidence for a in result.alternatives]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < result.confidence <= 1
    assert result.confidence == confidences[0]


def test_nothing_recognised_gives_no_intent(analyzer: Analyzer) -> None:
    result = analyzer.analyze("qwzx plo").classification
    assert result.intent is None
    assert result.confidence == 0.0


def test_greeting_loses_to_a_specific_intent(analyzer: Analyzer) -> None:
    assert analyzer.analyze("Hi!").classification.intent == "greeting"
    assert analyzer.analyze("Hi, I can't log in").classification.intent == "account_access"


# -- entities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("order #A1234 please", {("order_number", "A1234")}),
        ("re: ORD-2024-0001", {("order_number", "ORD-2024-0001")}),
        ("my order is 77120934", {("order_number", "77120934")}),
        ("sipariş numaram 5512345'tir", {("order_number", "5512345")}),
        ("주문번호는 20240815-3321입니다", {("order_number", "20240815-3321")}),
        ("call 010-1234-5678", {("phone", "01012345678")}),
        ("reach me at +90 532 123 45 67", {("phone", "+905321234567")}),
        ("mail ME@Example.COM", {("email", "me@example.com")}),
        ("paid $12.50", {("amount", "12.5 USD")}),
        ("120 TL ödedim", {("amount", "120 TRY")}),
        ("1.250,75 TL çekildi", {("amount", "1250.75 TRY")}),
        ("15,000원 결제", {("amount", "15000 KRW")}),
        ("3만 원 청구", {("amount", "30000 KRW")}),
        ("only €9", {("amount", "9 EUR")}),
        ("due 2026-08-01", {("date", "2026-08-01")}),
        ("1 Ağustos'ta verdim", {("date", "--08-01")}),
        ("2026년 8월 1일 주문", {("date", "2026-08-01")}),
        ("it came yesterday", {("date", "-P1D")}),
        ("4 days ago", {("date", "-P4D")}),
        ("4 gün önce", {("date", "-P4D")}),
        ("4일 전에", {("date", "-P4D")}),
        ("iki gündür bekliyorum", {("duration", "P2D")}),
        ("이틀째 기다려요", {("duration", "P2D")}),
        ("dünya", set()),  # "dün" (yesterday) only as a word
    ],
)
def test_entities(analyzer: Analyzer, text: str, expected: set[tuple[str, str]]) -> None:
    assert entities(analyzer, text) == expected


def test_plain_digits_need_an_order_word(analyzer: Analyzer) -> None:
    assert entities(analyzer, "I have 77120934 reasons") == set()


def test_products_from_a_catalogue() -> None:
    analyzer = Analyzer(catalogue=ProductCatalogue(["Nova X2", "AirBeat Pro"]))
    assert entities(analyzer, "my nova x2 broke") == {("product", "Nova X2")}
    assert entities(analyzer, "AirBeat Pro'yu iade edeceğim") == {("product", "AirBeat Pro")}
    assert entities(analyzer, "Nova X2가 안 켜져요") == {("product", "Nova X2")}
    assert entities(analyzer, "Nova X20 is another thing") == set()


# -- sentiment ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positive", "negated"),
    [
        ("the service is good", "the service is not good"),
        ("hizmet iyi", "hizmet iyi değil"),
        ("좋아요", "안 좋아요"),
        ("좋아요", "좋지 않아요"),
        ("ürünü beğendim", "ürünü beğenmedim"),
    ],
)
def test_negation_flips_sentiment(positive: str, negated: str) -> None:
    analyzer = LexiconSentimentAnalyzer()
    assert analyzer.analyze_sync(positive).label == "positive"
    assert analyzer.analyze_sync(negated).label == "negative"


def test_negated_negative_is_not_negative() -> None:
    analyzer = LexiconSentimentAnalyzer()
    assert analyzer.analyze_sync("sorun yok").score > 0
    assert analyzer.analyze_sync("문제 없어요").score > 0


@pytest.mark.parametrize(
    ("plain", "intense"),
    [
        ("the delivery was bad", "the delivery was very bad"),
        ("kargo kötü", "kargo çok kötü"),
        ("배송이 늦어요", "배송이 너무 늦어요"),
        ("배송이 늦어요", "배송이 정말 늦어요"),
        ("great support", "really great support"),
    ],
)
def test_intensifiers_strengthen(plain: str, intense: str) -> None:
    analyzer = LexiconSentimentAnalyzer()
    assert abs(analyzer.analyze_sync(intense).score) > abs(analyzer.analyze_sync(plain).score)


def test_unmet_expectations_are_negative() -> None:
    analyzer = LexiconSentimentAnalyzer()
    for text in (
        "my parcel hasn't arrived",
        "kargom gelmedi",
        "택배가 안 와요",
        "the app doesn't work",
    ):
        assert analyzer.analyze_sync(text).label == "negative", text
    assert analyzer.analyze_sync("when will my parcel arrive?").label == "neutral"


def test_but_shifts_the_weight() -> None:
    analyzer = LexiconSentimentAnalyzer()
    assert analyzer.analyze_sync("the agent was nice but the delivery was terrible").score < 0


def test_aspect_hints() -> None:
    analyzer = LexiconSentimentAnalyzer()
    assert analyzer.analyze_sync("the call keeps dropping").aspects == ("calls",)
    assert "delivery" in analyzer.analyze_sync("kargo çok geç geldi").aspects
    assert "payment" in analyzer.analyze_sync("결제가 두 번 됐어요").aspects


def test_score_is_bounded() -> None:
    analyzer = LexiconSentimentAnalyzer()
    text = "terrible awful horrible worst disgusting unacceptable!!! " * 20
    assert -1 <= analyzer.analyze_sync(text).score < -0.95


@pytest.mark.anyio
async def test_async_contract_matches_sync(analyzer: Analyzer) -> None:
    text = "배송이 너무 늦어요"
    assert await analyzer.classifier.classify(text) == analyzer.classifier.classify_sync(text)
    assert await analyzer.sentiment.analyze(text) == analyzer.sentiment.analyze_sync(text)


def test_negative_terms_for_reports() -> None:
    texts = [
        "the delivery is late again",
        "late and broken",
        "so late!",
        "great service",
        "not late at all",
        "kargo gecikti",
        "kargom yine gecikmiş",
    ]
    top = negative_terms(texts, top=3)
    assert top[0].term == "late"
    assert top[0].count == 3
    assert any(t.count == 2 and t.term.startswith("gecik") for t in top)


# -- mood --------------------------------------------------------------------------------


def test_mood_tracker_follows_a_worsening_conversation() -> None:
    tracker = MoodTracker(alpha=0.5, window=2)
    assert tracker.mood.messages == 0
    assert tracker.add(0.4).label == "positive"
    tracker.add(0.0)
    mood = tracker.add(-0.6)
    assert mood.worsening
    assert mood.trend < 0
    assert mood.score == pytest.approx(-0.2)
    mood = tracker.add(-0.8)
    assert mood.label == "negative"
    calmer = MoodTracker()
    for score in (-0.8, -0.2, 0.3, 0.5):
        mood = calmer.add(score)
    assert not mood.worsening
    assert mood.trend > 0


def test_mood_tracker_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        MoodTracker(alpha=0)
    with pytest.raises(InvalidInputError):
        MoodTracker().add(2.0)


# -- question patterns -------------------------------------------------------------------


def test_question_patterns_group_similar_questions() -> None:
    messages = [
        ("c1", "my delivery hasn't arrived"),
        ("c2", "where is my parcel?"),
        ("c3", "Kargom nerede?"),
        ("c4", "택배가 아직 안 왔어요"),
        ("c5", "I forgot my password"),
        ("c6", "şifremi unuttum"),
        ("c7", "Hello!"),
        ("c2", "where is my package??"),
    ]
    patterns = question_patterns(messages)
    top = patterns[0]
    assert top.intent == "order_status"
    assert top.count == 5
    assert top.conversation_ids == ("c1", "c2", "c3", "c4")
    assert "order" in top.concepts
    assert top.label.startswith("order_status: ")
    assert len(top.examples) == 3
    second = patterns[1]
    assert (second.intent, second.count) == ("account_access", 2)
    assert all(p.intent != "greeting" for p in patterns)
    assert question_patterns(messages, min_count=3) == [top]


# -- plugins -----------------------------------------------------------------------------


def test_builtins_load_by_name() -> None:
    assert classifiers.load("default") is KeywordClassifier
    assert sentiment_analyzers.load("default") is LexiconSentimentAnalyzer
    assert {"default", "openai"} <= set(classifiers.available())
    assert {"default", "vader", "openai"} <= set(sentiment_analyzers.available())
    with pytest.raises(PluginNotFoundError, match=r"chatkit\.classifiers:nope"):
        classifiers.load("nope")


# -- quality floors on the labelled sets ----------------------------------------------------

# Floors for the blind test set (tests/data/understanding/test_*.jsonl, never used for
# tuning): the figures of the one final run after the train-set round, minus 0.03, rounded
# down, so a real regression fails without pinning today's exact figures. Some per-language
# floors are below the goals (intent 0.85, sentiment 0.80, entity F1 0.9); they record
# what the analyzer reaches, not targets.
TEST_FLOORS = {
    # language: (intent, sentiment, entity F1, language detection)
    "en": (0.85, 0.78, 0.95, 1.0),
    "ko": (0.87, 0.83, 0.92, 1.0),
    "tr": (0.84, 0.78, 0.94, 0.97),
}


def _report(name: str, language: str) -> EvaluationReport:
    from chatkit.understanding import Product

    products = json.loads((DATA / "catalogue.json").read_text())["products"]
    catalogue = ProductCatalogue([Product.model_validate(p) for p in products])
    examples = read_labelled(DATA / f"{name}_{language}.jsonl", language=language)
    assert len(examples) >= 100
    return evaluate(examples, Analyzer(catalogue=catalogue))


@pytest.mark.parametrize("language", ["en", "ko", "tr"])
def test_quality_floor_on_the_blind_test_set(language: str) -> None:
    intent, sentiment, entity_f1, detection = TEST_FLOORS[language]
    report = _report("test", language)
    assert report.language_accuracy is not None
    assert report.language_accuracy >= detection
    assert report.intent_accuracy >= intent
    assert report.sentiment_accuracy >= sentiment
    assert report.entity_f1 >= entity_f1


@pytest.mark.parametrize("language", ["en", "ko", "tr"])
def test_no_regression_on_the_dev_set(language: str) -> None:
    # The dev set was used for tuning, so its figures are optimistic: a regression guard only.
    report = _report("dev", language)
    assert report.language_accuracy == 1.0
    assert report.intent_accuracy >= 0.85
    assert report.sentiment_accuracy >= 0.80
    assert report.entity_f1 >= 0.9
