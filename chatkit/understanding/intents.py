"""Intent definitions as data: names, keywords and example phrases per language.

The default taxonomy (``chatkit/understanding/data/intents.json``) has ten
intents: ``order_status``, ``refund_return``, ``billing_payment``,
``account_access``, ``technical_problem``, ``product_question``,
``cancel_service``, ``talk_to_human``, ``complaint`` and ``greeting``.

Add your own, or more words for a built-in one, with the same structure:

Example:
    ```python
    extra = IntentSet.from_data({"intents": [{
        "name": "loyalty_points",
        "languages": {
            "en": {"keywords": ["points", "loyalty", "rewards"],
                   "examples": ["How many points do I have?"]},
            "tr": {"keywords": {"puan": 2, "sadakat": 1.5}},
        },
    }]})
    intents = default_intents().merge(extra)
    classifier = KeywordClassifier(intents=intents)
    ```

Keywords are lexicon terms (see `chatkit.understanding.languages`: a
trailing ``*`` matches as a prefix, multi-word keywords match in sequence),
with a weight (1 when given as a list). Examples are whole phrases; their
content words count for the intent with a weight that falls the more
intents share the word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InvalidInputError

__all__ = ["IntentDefinition", "IntentExamples", "IntentSet", "default_intents"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class IntentExamples(BaseModel):
    """The words and phrases of one intent in one language.

    Attributes:
        keywords: Term → weight (a plain list means weight 1 each).
        examples: Example customer messages.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: dict[str, float] = {}
    examples: list[str] = []

    @field_validator("keywords", mode="before")
    @classmethod
    def _list_means_weight_one(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return {str(k): 1.0 for k in value}
        return value

    @field_validator("keywords")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for term, weight in value.items():
            if not term.strip().rstrip("*="):
                raise ValueError("empty keyword")
            if not 0 < weight <= 10:
                raise ValueError(f"weight of {term!r} is {weight}; use a number in (0, 10]")
        return value

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        for example in value:
            if not example.strip():
                raise ValueError("empty example")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> IntentExamples:
        if not self.keywords and not self.examples:
            raise ValueError("give at least one keyword or example")
        return self


class IntentDefinition(BaseModel):
    """One intent: a name and its words per language.

    Attributes:
        name: Lower-case identifier, e.g. ``"order_status"``.
        description: What it means, for people.
        languages: Language code → keywords and examples.
        weight: Multiplies the intent's score; below 1 for catch-all intents
            (the built-in ``greeting`` has 0.5) so that any specific intent
            mentioned in the same message wins.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    languages: dict[str, IntentExamples] = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0, le=10)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"intent name {value!r} must be lower-case letters, digits and underscores, "
                "starting with a letter"
            )
        return value


class _IntentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intents: list[IntentDefinition]


class IntentSet:
    """An ordered collection of intent definitions with unique names.

    Args:
        intents: The definitions.

    Raises:
        InvalidInputError: Two definitions share a name.
    """

    def __init__(self, intents: Iterable[IntentDefinition]) -> None:
        self._intents: dict[str, IntentDefinition] = {}
        for intent in intents:
            if intent.name in self._intents:
                raise InvalidInputError(
                    f"intent {intent.name!r} is defined twice; use IntentSet.merge to add "
                    "words to an existing intent",
                    field=f"intents.{intent.name}",
                )
            self._intents[intent.name] = intent

    @classmethod
    def from_data(cls, data: Mapping[str, object], *, source: str = "intents") -> IntentSet:
        """Validate ``{"intents": [...]}`` (e.g. parsed JSON or YAML).

        Raises:
            InvalidInputError: The data is not valid; the message names the
                field, e.g. ``intents.2.languages.en.keywords``.
        """
        try:
            parsed = _IntentFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise InvalidInputError(
                f"{source}: {where}: {first['msg']} ({exc.error_count()} error(s))", field=where
            ) from exc
        return cls(parsed.intents)

    @classmethod
    def from_file(cls, path: str | Path) -> IntentSet:
        """Read intents from a JSON file shaped like the built-in ``intents.json``.

        Raises:
            InvalidInputError: The file cannot be read or is not valid.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"{path}: cannot read intents: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: expected an object with an 'intents' list")
        return cls.from_data(data, source=str(path))

    def merge(self, other: IntentSet) -> IntentSet:
        """A new set: these intents plus ``other``'s.

        An intent in both gets the union of their keywords (``other``'s weight
        wins) and examples, language by language.
        """
        merged = dict(self._intents)
        for name, intent in other._intents.items():
            old = merged.get(name)
            if old is None:
                merged[name] = intent
                continue
            languages = dict(old.languages)
            for code, words in intent.languages.items():
                before = languages.get(code)
                languages[code] = (
                    words
                    if before is None
                    else IntentExamples(
                        keywords={**before.keywords, **words.keywords},
                        examples=[*before.examples, *words.examples],
                    )
                )
            merged[name] = IntentDefinition(
                name=name,
                description=intent.description or old.description,
                languages=languages,
                weight=intent.weight if "weight" in intent.model_fields_set else old.weight,
            )
        return IntentSet(merged.values())

    def without(self, *names: str) -> IntentSet:
        """A new set without the named intents."""
        return IntentSet(i for n, i in self._intents.items() if n not in names)

    @property
    def names(self) -> list[str]:
        """Intent names, in definition order."""
        return list(self._intents)

    def get(self, name: str) -> IntentDefinition:
        """One definition by name.

        Raises:
            InvalidInputError: No intent has this name.
        """
        try:
            return self._intents[name]
        except KeyError:
            raise InvalidInputError(f"no intent named {name!r}", field="name") from None

    def __iter__(self) -> Iterator[IntentDefinition]:
        return iter(self._intents.values())

    def __len__(self) -> int:
        return len(self._intents)

    def __repr__(self) -> str:
        return f"IntentSet({self.names!r})"


@cache
def default_intents() -> IntentSet:
    """The built-in intent taxonomy (ten intents in English, Korean and Turkish)."""
    text = resources.files("chatkit.understanding").joinpath("data/intents.json").read_text("utf-8")
    return IntentSet.from_data(json.loads(text), source="built-in intents")
