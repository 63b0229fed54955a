"""Bot flows: declarative steps that ask, check, branch, answer and hand over.

A `Flow` is data, written in Python, JSON or YAML::

    name: late-order
    start: ask_order
    handoff: {team: orders, topic: delivery}
    steps:
      - id: ask_order
        type: ask
        field: order_number
        validate: order_number
        question:
          en: "What is your order number? It looks like 245-12784."
          tr: "Sipariş numaranız nedir? 245-12784 gibi görünür."
        retry:
          en: "I could not find an order number in that. It looks like 245-12784."
        max_attempts: 3
        next: answer
      - id: answer
        type: answer
        threshold: 0.2
        helped: thanks
        next: to_person
      - {id: thanks, type: say, text: "Glad I could help!"}
      - {id: to_person, type: handoff, priority: high}

Steps (`Step`, told apart by ``type``):

- ``say``: send ``text``, go on to ``next`` (none: the flow is finished).
- ``ask``: send ``question`` and wait; check the answer with ``validate``
  (``text``, ``email``, ``phone``, ``order_number``, ``choice``,
  ``number``), store it as ``field`` and go on to ``next``. A wrong answer
  gets ``retry`` (or the question again); after ``max_attempts`` the flow
  goes to ``on_fail`` (none: hand over to a person). An e-mail, phone or
  order number the customer already gave (found by `chatkit.understanding`)
  counts, so it is not asked for again.
- ``answer``: search the knowledge base with the customer's request (or
  ``search``, a template over ``fields``/``request``/``message``); when
  the best article scores at least ``threshold`` send it and ask
  ``confirm`` ("did that help?"): yes goes to ``helped`` (none: finished),
  anything else to ``next``. Without a good article, straight to ``next``.
- ``branch``: the first of ``cases`` that holds (a field's value, the
  intent, the sentiment below a level) gives the next step, else ``default``.
- ``handoff``: hand over to a person (see `Bots.handoff`), to the step's
  ``team``/``topic``/``priority`` or else the flow's ``handoff`` target.

Texts are one string, or one per language (``{en: ..., tr: ...}``); the
customer's language is used, then its base language, then the flow's
``language``, then the first given. Texts are `Template` s that may use
``fields.<name>``, ``request.text``, ``message.text``, ``article.title``
and ``article.body`` besides the usual roots.

A flow is validated as a whole when it is loaded (`Flow.from_dict`,
`Flow.from_json`, `Flow.from_yaml`, `Flow.load`): unknown fields or step
types, a ``next`` naming no step, a missing ``start``, steps never reached,
and loops that never wait for the customer raise `InvalidInputError` naming
the flow, the step and the field, e.g. ``flow 'late-order' step 'ask_order'
validate: must be one of text, email, phone, order_number, choice, number``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from ..automation._language import normalize_language
from ..automation._loading import (
    check_document,
    document_path,
    read_document,
    read_json,
    read_yaml,
)
from ..automation._validation import brief, typed_error
from ..automation.templates import DEFAULT_ROOTS, Template
from ..errors import InvalidInputError, TemplateError
from ..models import Priority

__all__ = [
    "FLOW_ROOTS",
    "STEP_TYPES",
    "AnswerStep",
    "AskStep",
    "BranchCase",
    "BranchStep",
    "Choice",
    "Flow",
    "HandoffStep",
    "HandoffTarget",
    "SayStep",
    "Step",
    "Texts",
    "pick_text",
]

FLOW_ROOTS: frozenset[str] = DEFAULT_ROOTS | {"fields", "request", "article"}
"""Variable roots a flow's texts may use."""

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{brief(value)} is not an id (a letter, then letters, digits, '_', '-' or '.')"
        )
    return value


Id = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_identifier)]


def _texts(value: object) -> object:
    if isinstance(value, str):
        return {"*": value}
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("needs at least one text")
        out: dict[str, object] = {}
        for key, text in value.items():
            language = "*" if key == "*" else normalize_language(str(key))
            if language in out:
                raise ValueError(f"language {language!r} is given twice")
            out[language] = text
        return out
    return value


Texts = Annotated[dict[str, Template], BeforeValidator(_texts)]
"""One template, or one per language tag (the key ``*`` stands for any language)."""


def pick_text(texts: Mapping[str, Template], language: str | None, fallback: str) -> Template:
    """The text for ``language``: its own, its base language's, ``fallback``'s, ``*``, the first."""
    wanted = [language, language.split("-")[0] if language else None, fallback, "*"]
    for key in wanted:
        if key is not None and key in texts:
            return texts[key]
    if language is not None:
        for key, text in texts.items():
            if key.split("-")[0] == language.split("-")[0]:
                return text
    return next(iter(texts.values()))


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id

    @model_validator(mode="wrap")
    @classmethod
    def _named_errors(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            name = value.get("id") if isinstance(value, Mapping) else None
            index = _STEP.get()
            label = (
                f"step {brief(name)}"
                if isinstance(name, str) and name
                else f"step #{index + 1}"
                if index is not None
                else "step"
            )
            raise typed_error(exc, label) from exc

    def targets(self) -> Iterator[tuple[str, str]]:
        """``(field, step id)`` for every step this one can go on to."""
        for field in ("next", "on_fail", "helped"):
            target = getattr(self, field, None)
            if target is not None:
                yield field, target


class SayStep(_Base):
    """Send a text, then go on to ``next`` (none: the flow is finished)."""

    type: Literal["say"] = "say"
    text: Texts
    next: Id | None = None


class Choice(BaseModel):
    """One option of a ``choice`` question.

    Attributes:
        value: What is stored when it is chosen.
        synonyms: Words that choose it, per language (the value itself always does).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=100)]
    synonyms: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("synonyms", mode="before")
    @classmethod
    def _languages(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return {"*": value}
        if isinstance(value, Mapping):
            return {("*" if k == "*" else normalize_language(str(k))): v for k, v in value.items()}
        return value


Validator: TypeAlias = Literal["text", "email", "phone", "order_number", "choice", "number"]


class AskStep(_Base):
    """Ask a question, check the answer and store it as ``field``.

    Attributes:
        field: Where the answer is stored (`BotState.fields`).
        question: What is asked.
        validate_as: The check (written ``validate``): ``text``, ``email``,
            ``phone``, ``order_number``, ``choice`` or ``number``.
        pattern: For ``text`` and ``order_number``: a regular expression the
            answer must contain (the match is stored).
        choices: For ``choice``: the options.
        minimum: For ``number``: the smallest accepted.
        maximum: For ``number``: the largest accepted.
        retry: Said after an answer that does not pass (default: the question).
        max_attempts: Answers that may fail before ``on_fail``.
        next: The step after a good answer (none: finished).
        on_fail: The step after ``max_attempts`` failures (none: hand over).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: Literal["ask"] = "ask"
    field: Id
    question: Texts
    validate_as: Validator = Field(default="text", alias="validate")
    pattern: str | None = None
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    retry: Texts | None = None
    max_attempts: int = Field(default=3, ge=1, le=20)
    next: Id | None = None
    on_fail: Id | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _fits(self) -> AskStep:
        problem: tuple[str, str] | None = None
        if self.validate_as == "choice" and not self.choices:
            problem = "choices", "validate: choice needs choices"
        elif self.choices and self.validate_as != "choice":
            problem = "choices", "apply only to validate: choice"
        elif self.pattern is not None and self.validate_as not in ("text", "order_number"):
            problem = "pattern", "applies only to validate: text or order_number"
        elif self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            problem = "minimum", "is above maximum"
        if problem is not None:  # raised as is: it names the step
            raise InvalidInputError(
                f"step {self.id!r} {problem[0]}: {problem[1]}", field=problem[0]
            )
        return self


class AnswerStep(_Base):
    """Answer from the knowledge base when an article fits well enough.

    Attributes:
        search: What to search for (default: the customer's request).
        threshold: The least score (0-1) of an article worth sending
            (`KnowledgeBase.search` scores alike on every store).
        reply: How an article is sent (default: its title and body).
        confirm: The "did that help?" question.
        helped: The step after "yes" (none: finished).
        next: The step without a good article, or after "no".
        limit: Articles to consider.
    """

    type: Literal["answer"] = "answer"
    search: Template | None = None
    threshold: float = Field(default=0.2, ge=0, le=1)
    reply: Texts | None = None
    confirm: Texts | None = None
    helped: Id | None = None
    next: Id | None = None
    limit: int = Field(default=3, ge=1, le=20)


class BranchCase(BaseModel):
    """One way out of a ``branch`` step; every condition given must hold (at least one).

    Attributes:
        to: The step to go to.
        field: A collected field to test (with ``equals`` or ``one_of``).
        equals: The value ``field`` must have (any case).
        one_of: Values ``field`` may have (any case).
        intent: Intents of the customer's latest message, any of which matches.
        min_confidence: The least confidence for ``intent``.
        sentiment_below: The latest message's sentiment must be below this.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: Id
    field: Id | None = None
    equals: str | None = None
    one_of: tuple[str, ...] = ()
    intent: tuple[str, ...] = ()
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)

    @model_validator(mode="after")
    def _some(self) -> BranchCase:
        if self.field is None and (self.equals is not None or self.one_of):
            raise ValueError("equals and one_of need a field")
        if self.field is not None and self.equals is None and not self.one_of:
            raise ValueError(f"field {self.field!r} needs equals or one_of")
        if self.field is None and not self.intent and self.sentiment_below is None:
            raise ValueError("a case needs a condition: field, intent or sentiment_below")
        return self


class BranchStep(_Base):
    """Go to the first case that holds, else to ``default``."""

    type: Literal["branch"] = "branch"
    cases: tuple[BranchCase, ...] = Field(min_length=1)
    default: Id

    def targets(self) -> Iterator[tuple[str, str]]:
        for index, case in enumerate(self.cases):
            yield f"cases[{index}].to", case.to
        yield "default", self.default


class HandoffTarget(BaseModel):
    """Where a handed-over conversation goes (``None``: `Routing.route` decides)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str | None = Field(default=None, min_length=1)
    topic: str | None = Field(default=None, min_length=1)
    priority: Priority | None = None


class HandoffStep(_Base):
    """Hand over to a person; ``text`` tells the customer (default: a built-in line)."""

    type: Literal["handoff"] = "handoff"
    team: str | None = Field(default=None, min_length=1)
    topic: str | None = Field(default=None, min_length=1)
    priority: Priority | None = None
    text: Texts | None = None


Step: TypeAlias = Annotated[
    SayStep | AskStep | AnswerStep | BranchStep | HandoffStep, Field(discriminator="type")
]
"""Any step; told apart by ``type``."""

STEP_TYPES: tuple[str, ...] = ("say", "ask", "answer", "branch", "handoff")

_STEP: ContextVar[int | None] = ContextVar("chatkit_flow_step", default=None)


class Flow(BaseModel):
    """A bot flow: named steps from ``start``; see the module docstring.

    Attributes:
        name: Unique among the flows of a kit.
        description: What it is for, for people.
        language: The language of texts given without one, and the fallback.
        start: The first step (default: the first in ``steps``).
        steps: The steps.
        handoff: Where a handover outside a ``handoff`` step goes (the
            customer asked for a person, an answer kept failing).

    Example:
        ```python
        flow = Flow.load("flows/late_order.yaml")
        flow.step("ask_order").field  # "order_number"
        ```

    Raises:
        InvalidInputError: A malformed flow; the message names the flow, the
            step and the field (a `TemplateError` for a template).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Id
    description: str | None = Field(default=None, max_length=1000)
    language: str = "en"
    start: Id | None = None
    steps: tuple[Step, ...] = Field(min_length=1)
    handoff: HandoffTarget = Field(default_factory=HandoffTarget)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @field_validator("steps", mode="wrap")
    @classmethod
    def _each(cls, value: Any, handler: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not value:
            return handler(value)
        out = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and item.get("type") not in STEP_TYPES:
                name = item.get("id")
                label = f"step {brief(name)}" if isinstance(name, str) else f"step #{index + 1}"
                kind = item.get("type")
                problem = "needs a type" if kind is None else f"unknown type {brief(kind)}"
                raise InvalidInputError(
                    f"{label} type: {problem}; expected one of {', '.join(STEP_TYPES)}",
                    field="type",
                )
            token = _STEP.set(index)
            try:
                out.extend(handler([item]))
            except ValidationError as exc:  # not a step at all (e.g. an unknown type)
                name = item.get("id") if isinstance(item, Mapping) else None
                label = f"step {brief(name)}" if isinstance(name, str) else f"step #{index + 1}"
                raise typed_error(exc, label, skip=STEP_TYPES) from exc
            finally:
                _STEP.reset(token)
        return tuple(out)

    @model_validator(mode="after")
    def _graph(self) -> Flow:
        ids: dict[str, Step] = {}
        for step in self.steps:
            if step.id in ids:
                raise ValueError(f"step id {step.id!r} is used twice")
            ids[step.id] = step
        start = self.start or self.steps[0].id
        if start not in ids:
            raise ValueError(f"start: no step {start!r}")
        for step in self.steps:
            for field, target in step.targets():
                if target not in ids:
                    raise ValueError(f"step {step.id!r} {field}: no step {target!r}")
        reached: set[str] = set()
        pending = [start]
        while pending:
            current = pending.pop()
            if current not in reached:
                reached.add(current)
                pending += [t for _, t in ids[current].targets()]
        unreached = [s.id for s in self.steps if s.id not in reached]
        if unreached:
            raise ValueError(f"step {unreached[0]!r} is never reached from {start!r}")
        loop = _loop_without_ask(ids)
        if loop:
            raise ValueError(f"steps {' -> '.join(loop)} loop without asking the customer anything")
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(cls, value: Any, handler: ModelWrapValidatorHandler[Flow]) -> Flow:
        name = value.get("name") if isinstance(value, Mapping) else None
        label = f"flow {brief(name)}" if isinstance(name, str) and name else "flow"
        try:
            return handler(value)
        except ValidationError as exc:
            raise typed_error(exc, label, skip=STEP_TYPES) from exc
        except TemplateError as exc:
            raise TemplateError(
                f"{label} {exc}",
                field=exc.field,
                position=exc.position,
                line=exc.line,
                column=exc.column,
            ) from exc
        except InvalidInputError as exc:
            raise InvalidInputError(f"{label} {exc}", field=exc.field) from exc

    @property
    def first(self) -> str:
        """The id of the first step."""
        return self.start or self.steps[0].id

    def step(self, step_id: str) -> Step:
        """The step ``step_id``.

        Raises:
            InvalidInputError: No such step.
        """
        for step in self.steps:
            if step.id == step_id:
                return step
        raise InvalidInputError(f"flow {self.name!r} has no step {brief(step_id)}", field="step")

    @classmethod
    def from_dict(cls, data: object) -> Flow:
        """Validate a flow given as a dict (parsed JSON or YAML).

        Raises:
            InvalidInputError: Not a mapping, a malformed flow, or data nested
                deeper than `MAX_DOCUMENT_DEPTH` levels.
        """
        if isinstance(data, Flow):
            return data
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"a flow must be a mapping of fields, not {type(data).__name__}", field="flow"
            )
        check_document(data, "flow", field="flow")
        return cls.model_validate(data, context={"template_roots": FLOW_ROOTS})

    @classmethod
    def from_json(cls, text: str | bytes) -> Flow:
        """Load a flow from JSON text.

        Raises:
            InvalidInputError: Malformed JSON (with line and column), a bad flow.
        """
        return cls.from_dict(read_json(text))

    @classmethod
    def from_yaml(cls, text: str | bytes) -> Flow:
        """Load a flow from YAML text (needs PyYAML: ``pip install 'chatkit[yaml]'``).

        Raises:
            ConfigurationError: PyYAML is not installed.
            InvalidInputError: Malformed YAML (with line and column), a bad flow.
        """
        return cls.from_dict(read_yaml(text))

    @classmethod
    def load(cls, path: str | Path) -> Flow:
        """Load a flow from a ``.json``, ``.yaml`` or ``.yml`` file (UTF-8).

        Raises:
            OSError: The file cannot be read.
            ConfigurationError: A YAML file without PyYAML installed.
            InvalidInputError: Not a path, another suffix, not UTF-8,
                malformed content, a bad flow (the message starts with the file name).
        """
        path = document_path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise InvalidInputError(
                f"{path.name}: flow files end in .json, .yaml or .yml", field="path"
            )
        text = read_document(path)
        try:
            return cls.from_json(text) if suffix == ".json" else cls.from_yaml(text)
        except InvalidInputError as exc:
            exc.args = (f"{path.name}: {exc}", *exc.args[1:])
            raise


def _loop_without_ask(steps: Mapping[str, Step]) -> list[str]:
    """A cycle through steps that never wait for the customer (empty: none).

    ``ask`` always waits; ``answer`` waits only when it finds an article, so
    it counts as passing through.
    """
    graph = {
        sid: [t for _, t in step.targets()]
        for sid, step in steps.items()
        if not isinstance(step, AskStep)
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in graph.get(node, []):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
