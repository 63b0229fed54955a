"""Optional understanding back-ends: VADER and an OpenAI-compatible endpoint (respx, no network)."""

from __future__ import annotations

import importlib.util
import json

import httpx
import pytest
import respx

from chatkit.errors import ConfigurationError, RemoteServiceError
from chatkit.understanding import classifiers, sentiment_analyzers
from chatkit.understanding.openai import OpenAICompatible

pytestmark = pytest.mark.anyio

BASE = "https://llm.example.test/v1"
HAS_VADER = importlib.util.find_spec("vaderSentiment") is not None


# -- VADER -------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_VADER, reason="vadersentiment is not installed (chatkit[vader])")
async def test_vader_scores_english() -> None:
    analyzer = sentiment_analyzers.load("vader")()
    bad = await analyzer.analyze("The delivery was terrible and the agent was rude.")
    good = await analyzer.analyze("Great service, thank you so much!")
    assert bad.label == "negative"
    assert good.label == "positive"
    assert "delivery" in bad.aspects
    assert analyzer.name == "vader"


@pytest.mark.skipif(not HAS_VADER, reason="vadersentiment is not installed (chatkit[vader])")
async def test_vader_leaves_other_languages_to_the_lexicon() -> None:
    analyzer = sentiment_analyzers.load("vader")()
    result = await analyzer.analyze("배송이 너무 늦어요")
    assert (result.language, result.label) == ("ko", "negative")


# -- OpenAI-compatible -------------------------------------------------------------------


def completion(content: dict[str, object] | str) -> dict[str, object]:
    text = content if isinstance(content, str) else json.dumps(content)
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


@respx.mock
async def test_openai_classifies_and_scores_with_one_call() -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            json=completion(
                {
                    "intent": "order_status",
                    "confidence": 0.91,
                    "sentiment": -0.6,
                    "aspects": ["delivery"],
                }
            ),
        )
    )
    backend = OpenAICompatible(base_url=BASE, model="small-model", api_key="sk-secret-123")
    text = "where is order 245-12784?? it's late"
    result = await backend.classify(text)
    assert (result.intent, result.confidence, result.language) == ("order_status", 0.91, "en")
    assert result.entity_values("order_number") == ["245-12784"]
    mood = await backend.analyze(text)
    assert (mood.score, mood.label, mood.aspects) == (-0.6, "negative", ("delivery",))
    assert route.call_count == 1  # the second question reuses the answer
    request = route.calls[0].request
    assert request.headers["authorization"] == "Bearer sk-secret-123"
    body = json.loads(request.content)
    assert body["model"] == "small-model"
    assert body["response_format"] == {"type": "json_object"}
    assert "order_status" in body["messages"][0]["content"]
    assert body["messages"][1]["content"] == text


@respx.mock
async def test_openai_unknown_intent_is_none() -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"intent": "weather", "confidence": 0.9}))
    )
    backend = OpenAICompatible(base_url=BASE, api_key="k")
    result = await backend.classify("is it raining?")
    assert (result.intent, result.confidence) == (None, 0.0)


@respx.mock
async def test_openai_http_error_is_a_typed_error() -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"})
    )
    backend = OpenAICompatible(base_url=BASE, api_key="sk-secret-123")
    with pytest.raises(RemoteServiceError) as caught:
        await backend.classify("hello")
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 7.0
    assert caught.value.service == "openai-compatible"
    assert "sk-secret-123" not in str(caught.value)


@respx.mock
async def test_openai_connection_failure_is_a_typed_error() -> None:
    respx.post(f"{BASE}/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    backend = OpenAICompatible(base_url=BASE, api_key="k")
    with pytest.raises(RemoteServiceError) as caught:
        await backend.analyze("hello")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.status_code is None


@respx.mock
@pytest.mark.parametrize(
    "content", ["not json at all", {"intent": "greeting", "sentiment": 5}, {"confidence": "x"}]
)
async def test_openai_unusable_answer_is_a_typed_error(content: dict[str, object] | str) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion(content))
    )
    backend = OpenAICompatible(base_url=BASE, api_key="k")
    with pytest.raises(RemoteServiceError, match="JSON asked for"):
        await backend.analyze("hello")


@respx.mock
async def test_openai_uses_a_given_client_and_no_key_for_local_servers() -> None:
    route = respx.post("http://localhost:11434/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"intent": "greeting", "confidence": 0.8}))
    )
    async with httpx.AsyncClient() as client:
        backend = OpenAICompatible(
            base_url="http://localhost:11434/v1/", require_api_key=False, client=client
        )
        assert (await backend.classify("merhaba")).intent == "greeting"
    assert "authorization" not in route.calls[0].request.headers


def test_openai_key_from_env_and_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-999")
    backend = classifiers.load("openai")(base_url=BASE)  # type: ignore[call-arg]
    assert isinstance(backend, OpenAICompatible)
    assert "sk-from-env-999" not in repr(backend)
    assert "sk-from-env-999" not in repr(vars(backend))
    assert sentiment_analyzers.load("openai") is OpenAICompatible


def test_openai_without_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAICompatible(base_url=BASE)
