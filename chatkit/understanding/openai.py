"""An OpenAI-compatible chat-completions endpoint as classifier and sentiment analyzer.

Works with any server that speaks ``POST {base_url}/chat/completions`` (OpenAI,
Azure OpenAI's compatible route, vLLM, Ollama, LM Studio, OpenRouter ...).
One request per message asks for a JSON object with the intent, a
confidence, a sentiment score and aspects; language detection and entities
stay local (the built-in `EntityExtractor`), so they are exact and free.

Example:
    ```python
    backend = OpenAICompatible(model="gpt-4o-mini")  # key from OPENAI_API_KEY
    result = await backend.classify("where's my parcel??")
    mood = await backend.analyze("where's my parcel??")
    ```

Failures raise `RemoteServiceError` (HTTP errors with the status and
``Retry-After``, timeouts, answers that are not the JSON asked for); a missing
API key raises `ConfigurationError` when the backend is made. There are no
automatic retries: callers decide whether a message is worth another call.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ..errors import ConfigurationError, RemoteServiceError
from .classifier import Classification, Classifier, IntentScore
from .entities import EntityExtractor, ProductCatalogue
from .intents import IntentSet, default_intents
from .languages import Languages
from .sentiment import SentimentAnalyzer, SentimentResult, label_for

__all__ = ["OpenAICompatible"]

logger = logging.getLogger(__name__)

API_KEY_ENV = "OPENAI_API_KEY"
SERVICE = "openai-compatible"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    intent: str | None = None
    confidence: float = Field(default=0.0, ge=0, le=1)
    sentiment: float = Field(default=0.0, ge=-1, le=1)
    aspects: list[str] = []


class OpenAICompatible(Classifier, SentimentAnalyzer):
    """Intent and sentiment from a chat-completions model.

    Args:
        base_url: The API root, e.g. ``"https://api.openai.com/v1"`` or
            ``"http://localhost:11434/v1"``.
        model: The model name.
        api_key: The key; defaults to the ``OPENAI_API_KEY`` environment
            variable. Never shown in ``repr`` or logs.
        require_api_key: Set to ``False`` for local servers without keys.
        intents: The taxonomy offered to the model; the built-in one when
            omitted.
        languages: For local language detection and entities.
        catalogue: Products to recognise as entities.
        timeout: Seconds per request.
        client: An ``httpx.AsyncClient`` to use (its own otherwise), e.g.
            with a mock transport in tests.

    Raises:
        ConfigurationError: No API key was given or found.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-4o-mini",
        api_key: str | None = None,
        require_api_key: bool = True,
        intents: IntentSet | None = None,
        languages: Languages | None = None,
        catalogue: ProductCatalogue | None = None,
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key and require_api_key:
            raise ConfigurationError(
                f"the openai backend needs an API key: pass api_key= or set {API_KEY_ENV} "
                "(require_api_key=False for local servers)"
            )
        self._api_key = SecretStr(key or "")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.intents = intents if intents is not None else default_intents()
        self.languages = languages if languages is not None else Languages()
        self.extractor = EntityExtractor(self.languages, catalogue=catalogue)
        self._client = client
        self._recent: OrderedDict[str, _Answer] = OrderedDict()

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r})"

    async def classify(self, text: str, language: str | None = None) -> Classification:
        """Classify one message with the model (entities and language found locally).

        Raises:
            RemoteServiceError: The call failed or the answer was unusable.
        """
        code = language or self.languages.detect(text)
        answer = await self._ask(text)
        entities = tuple(self.extractor.extract(text, code))
        intent = answer.intent if answer.intent in self.intents.names else None
        if intent is None:
            return Classification(None, 0.0, (), entities, code)
        confidence = round(answer.confidence, 4)
        return Classification(
            intent, confidence, (IntentScore(intent, confidence),), entities, code
        )

    async def analyze(self, text: str, language: str | None = None) -> SentimentResult:
        """Score one message with the model (one call serves both, per text).

        Raises:
            RemoteServiceError: The call failed or the answer was unusable.
        """
        code = language or self.languages.detect(text)
        answer = await self._ask(text)
        score = round(answer.sentiment, 4)
        return SentimentResult(score, label_for(score), tuple(answer.aspects), code)

    def _prompt(self) -> str:
        lines = [f"- {i.name}: {i.description}" for i in self.intents]
        return (
            "You classify customer-service chat messages. Intents:\n"
            + "\n".join(lines)
            + "\nAnswer with one JSON object only: "
            '{"intent": <one intent name or null>, "confidence": <0..1>, '
            '"sentiment": <-1 very negative .. 1 very positive>, '
            '"aspects": [<zero or more of delivery, payment, calls, app, agent, price, '
            "quality, account, wait>]}"
        )

    async def _ask(self, text: str) -> _Answer:
        cached = self._recent.get(text)
        if cached is not None:
            return cached
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": self._prompt()},
                {"role": "user", "content": text},
            ],
        }
        headers = {"Content-Type": "application/json"}
        secret = self._api_key.get_secret_value()
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        url = f"{self.base_url}/chat/completions"
        try:
            if self._client is not None:
                response = await self._client.post(
                    url, json=body, headers=headers, timeout=self.timeout
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RemoteServiceError(
                f"{SERVICE} at {self.base_url}: request failed: {type(exc).__name__}",
                service=SERVICE,
            ) from exc
        if response.status_code >= 400:
            raise RemoteServiceError(
                f"{SERVICE} at {self.base_url} answered HTTP {response.status_code}",
                service=SERVICE,
                status_code=response.status_code,
                retry_after=_retry_after(response),
            )
        answer = _parse(response)
        self._recent[text] = answer
        if len(self._recent) > 256:
            self._recent.popitem(last=False)
        return answer


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse(response: httpx.Response) -> _Answer:
    try:
        content = response.json()["choices"][0]["message"]["content"]
        return _Answer.model_validate(json.loads(content))
    except (ValueError, KeyError, IndexError, TypeError, ValidationError) as exc:
        logger.debug("unusable answer from %s: %s", SERVICE, exc)
        raise RemoteServiceError(
            f"{SERVICE} did not answer with the JSON asked for ({type(exc).__name__})",
            service=SERVICE,
            status_code=response.status_code,
        ) from exc
