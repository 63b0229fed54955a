"""Declarative automation rules: on an event, when conditions hold, then actions.

A `Rule` is data, written in Python, JSON or YAML::

    - name: late-order
      on: message.received
      when:
        intents: [order_status]
        min_intent_confidence: 0.7
        sentiment_below: -0.3
      then:
        - {type: reply, text: "Sorry {{ contact.first_name | there }}, we are on it."}
        - {type: set_priority, priority: high}
        - {type: tag, add: [late-order]}
      stop: true

A `RuleSet` is validated as a whole when it is loaded (`RuleSet.from_list`,
`RuleSet.from_json`, `RuleSet.from_yaml`, `RuleSet.load`): unknown fields,
unknown action types, bad priorities, broken templates and duplicate names
raise `InvalidInputError` (a `TemplateError` for templates) naming the rule
and the field, e.g. ``rule 'late-order' then[1].priority: must be one of low,
normal, high, urgent``.

Triggers (`Trigger`) and the domain events they come from (`trigger_of`):

- ``message.received``: a ``message.created`` event for a text message
  written by the customer (never an agent's, a bot's or a note, so a rule's
  own reply cannot trigger it again);
- ``conversation.created``, ``conversation.queued``,
  ``conversation.escalated``: the events of the same name;
- ``conversation.assigned``: a ``conversation.assigned`` event that gives
  the conversation an agent;
- ``conversation.resolved``: a ``conversation.status_changed`` event to
  ``resolved``;
- ``conversation.idle``: no event; a periodic sweep evaluates it with
  `Facts.idle_minutes`, and a rule fires once that reaches its
  ``idle_minutes``;
- ``rating.received``: a ``survey.answered`` event (a customer answered a
  satisfaction survey; see `Surveys`).

How it is used: an automation worker consumes the event outbox; for each
event it asks `trigger_of`, builds the `Facts` (from the event, the
conversation, the contact, the classifiers and the team's business hours)
and carries out the actions of every `Firing` that `RuleSet.evaluate`
returns, in order::

    rules = RuleSet.load("automation.yaml")
    async for event in kit.events.subscribe(consumer="automation"):
        trigger = trigger_of(event)
        if trigger is None:
            continue
        facts = Facts(text=..., intent=..., channel=..., language=..., tags=...)
        for rule, actions in rules.evaluate(trigger, facts):
            for n, action in enumerate(actions):
                ...  # run it, keyed by (event.id, rule.name, n): a redelivery is harmless

Evaluation is pure: no I/O, no clock, no state. Remembering that an idle
rule already fired for a conversation is the worker's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import InvalidInputError, NotFoundError
from ..events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationEscalated,
    ConversationQueued,
    ConversationStatusChanged,
    Event,
    MessageCreated,
    SurveyAnswered,
)
from ..models import AuthorRole, ConversationStatus, MessageKind
from ._loading import check_document, document_path, read_document, read_json, read_yaml
from ._validation import brief, typed_error
from .actions import ACTION_TYPES, Action, ReplyAction
from .conditions import Conditions, Facts

__all__ = ["TRIGGERS", "Firing", "Rule", "RuleSet", "Trigger", "trigger_of"]

Trigger: TypeAlias = Literal[
    "message.received",
    "conversation.created",
    "conversation.assigned",
    "conversation.idle",
    "conversation.resolved",
    "rating.received",
    "conversation.queued",
    "conversation.escalated",
]
"""What a rule runs on (see the module docstring for the events behind each)."""

TRIGGERS: tuple[str, ...] = get_args(Trigger)
"""Every `Trigger`."""


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class Rule(BaseModel):
    """On ``on``, when every condition in ``when`` holds, do ``then``.

    Attributes:
        name: Unique within its `RuleSet` (compared without case).
        description: What it is for, for people.
        on: The `Trigger`.
        idle_minutes: For ``conversation.idle`` only (and required there):
            fire once the conversation has been idle this many minutes.
        when: The conditions (none: always).
        then: The actions, in order; at least one.
        stop: When this rule fires, later rules are not evaluated.
        enabled: A disabled rule never fires.

    Raises:
        InvalidInputError: A malformed rule; the message names the rule and
            the field (a `TemplateError` for a template).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_name)]
    description: str | None = Field(default=None, max_length=1000)
    on: Trigger
    idle_minutes: int | None = Field(default=None, ge=1, validate_default=True)
    when: Conditions = Field(default_factory=Conditions)
    then: tuple[Action, ...]
    stop: bool = False
    enabled: bool = True

    @field_validator("idle_minutes")
    @classmethod
    def _idle_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        idle = info.data.get("on") == "conversation.idle"
        if idle and value is None:
            raise ValueError("is required for on: conversation.idle")
        if not idle and value is not None and "on" in info.data:
            raise ValueError("applies only to on: conversation.idle")
        return value

    @field_validator("then")
    @classmethod
    def _some(cls, value: tuple[Action, ...]) -> tuple[Action, ...]:
        if not value:
            raise ValueError("a rule needs at least one action")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _typed_errors(cls, value: Any, handler: ModelWrapValidatorHandler[Rule]) -> Rule:
        try:
            return handler(value)
        except ValidationError as exc:
            raise typed_error(exc, _label(value), skip=ACTION_TYPES) from exc

    def fires(self, trigger: str, facts: Facts) -> bool:
        """Whether the rule fires for ``trigger`` with ``facts``."""
        if not self.enabled or self.on != trigger:
            return False
        if self.idle_minutes is not None and (
            facts.idle_minutes is None or facts.idle_minutes < self.idle_minutes
        ):
            return False
        return self.when.holds(facts)


_INDEX: ContextVar[int | None] = ContextVar("chatkit_rule_index", default=None)
"""Place of the rule being loaded by `RuleSet.from_list`, for errors about unnamed rules."""


def _label(value: object) -> str:
    name = value.get("name") if isinstance(value, Mapping) else None
    if isinstance(name, str) and name.strip():
        return f"rule {brief(name.strip())}"
    index = _INDEX.get()
    return f"rule #{index + 1}" if index is not None else "rule"


class Firing(NamedTuple):
    """A rule that fired and the actions to carry out, in order."""

    rule: Rule
    actions: tuple[Action, ...]


class RuleSet(BaseModel):
    """An ordered list of rules with unique names.

    Example:
        ```python
        rules = RuleSet.from_yaml(Path("automation.yaml").read_text())
        facts = Facts(text="Where is my order?", intent="order_status", intent_confidence=0.9)
        for rule, actions in rules.evaluate("message.received", facts):
            print(rule.name, [a.type for a in actions])
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: dict[str, str] = {}
        for rule in rules:
            key = rule.name.casefold()
            if key in seen:
                raise InvalidInputError(
                    f"rule names must be unique; {rule.name!r} is used twice", field="rules"
                )
            seen[key] = rule.name
        return rules

    @classmethod
    def from_list(
        cls, data: Iterable[Mapping[str, object] | Rule], *, template_roots: Iterable[str] = ()
    ) -> RuleSet:
        """Validate rules given as dicts (or `Rule` objects).

        Args:
            data: The rules, in evaluation order.
            template_roots: Variable roots templates may use besides
                `DEFAULT_ROOTS` (e.g. ``{"booking"}``).

        Raises:
            InvalidInputError: Not a list (or other iterable) of rules, a
                malformed rule (naming it and the field), a repeated name,
                or data nested deeper than `MAX_DOCUMENT_DEPTH` levels.
        """
        from .templates import DEFAULT_ROOTS

        if isinstance(data, str | bytes | Mapping) or not isinstance(data, Iterable):
            raise InvalidInputError(
                f"rules must be a list of rules, not {type(data).__name__}", field="rules"
            )
        items = list(data)
        check_document(items, "rules", field="rules")
        roots = DEFAULT_ROOTS | frozenset(template_roots)
        rules: list[Rule] = []
        for index, item in enumerate(items):
            if isinstance(item, Rule):
                rules.append(item)
                continue
            if not isinstance(item, Mapping):
                raise InvalidInputError(
                    f"rule #{index + 1} must be a mapping of fields, not {type(item).__name__}",
                    field="rules",
                )
            token = _INDEX.set(index)
            try:
                rules.append(Rule.model_validate(item, context={"template_roots": roots}))
            finally:
                _INDEX.reset(token)
        return cls(rules=tuple(rules))

    @classmethod
    def from_data(cls, data: object, *, template_roots: Iterable[str] = ()) -> RuleSet:
        """Validate parsed JSON/YAML: a list of rules, or ``{"rules": [...]}``.

        Raises:
            InvalidInputError: Any other shape, or a bad rule.
        """
        if isinstance(data, Mapping):
            extra = sorted(str(k) for k in data if k != "rules")
            if extra:
                raise InvalidInputError(
                    f"a rules document has only a 'rules' key; found {', '.join(extra)}",
                    field="rules",
                )
            data = data.get("rules", [])
        if data is None:
            data = []
        if not isinstance(data, list):
            raise InvalidInputError(
                f"rules must be a list of rules, not {type(data).__name__}", field="rules"
            )
        return cls.from_list(data, template_roots=template_roots)

    @classmethod
    def from_json(cls, text: str | bytes, *, template_roots: Iterable[str] = ()) -> RuleSet:
        """Load rules from JSON text (see `from_data` for the shape).

        Raises:
            InvalidInputError: Malformed JSON (with line and column), a bad rule.
        """
        return cls.from_data(read_json(text), template_roots=template_roots)

    @classmethod
    def from_yaml(cls, text: str | bytes, *, template_roots: Iterable[str] = ()) -> RuleSet:
        """Load rules from YAML text (needs PyYAML: ``pip install 'chatkit[yaml]'``).

        Only ``true`` and ``false`` are booleans (so ``on:`` stays a key and
        ``no`` stays a string), and repeated keys are an error.

        Raises:
            ConfigurationError: PyYAML is not installed.
            InvalidInputError: Malformed YAML (with line and column), a bad rule.
        """
        return cls.from_data(read_yaml(text), template_roots=template_roots)

    @classmethod
    def load(cls, path: str | Path, *, template_roots: Iterable[str] = ()) -> RuleSet:
        """Load rules from a ``.json``, ``.yaml`` or ``.yml`` file (UTF-8).

        Raises:
            OSError: The file cannot be read.
            ConfigurationError: A YAML file without PyYAML installed.
            InvalidInputError: Not a path, another suffix, not UTF-8,
                malformed content, a bad rule.
        """
        path = document_path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise InvalidInputError(
                f"{path.name}: rule files end in .json, .yaml or .yml", field="path"
            )
        text = read_document(path)
        try:
            if suffix == ".json":
                return cls.from_json(text, template_roots=template_roots)
            return cls.from_yaml(text, template_roots=template_roots)
        except InvalidInputError as exc:
            exc.args = (f"{path.name}: {exc}", *exc.args[1:])  # keep the type and attributes
            raise

    def evaluate(self, trigger: Trigger | str, facts: Facts) -> list[Firing]:
        """The rules that fire for ``trigger`` with ``facts``, in order, with their actions.

        Rules are tried in order; disabled rules and rules for other
        triggers are skipped; after a firing rule with ``stop``, no later
        rule is tried.

        Raises:
            InvalidInputError: ``trigger`` is not a `Trigger`.
        """
        if trigger not in TRIGGERS:
            raise InvalidInputError(
                f"unknown trigger {brief(trigger)}; expected one of {', '.join(TRIGGERS)}",
                field="trigger",
            )
        fired: list[Firing] = []
        for rule in self.rules:
            if rule.fires(trigger, facts):
                fired.append(Firing(rule, rule.then))
                if rule.stop:
                    break
        return fired

    def get(self, name: str) -> Rule:
        """The rule called ``name`` (any case).

        Raises:
            NotFoundError: No such rule.
        """
        key = name.strip().casefold()
        for rule in self.rules:
            if rule.name.casefold() == key:
                return rule
        raise NotFoundError("rule", name)

    def canned_shortcuts(self) -> set[str]:
        """Every canned response shortcut the rules reply with; check them against your store."""
        return {
            action.canned
            for rule in self.rules
            for action in rule.then
            if isinstance(action, ReplyAction) and action.canned is not None
        }


def trigger_of(event: Event) -> Trigger | None:
    """The trigger a domain event stands for, or ``None`` when rules do not run on it."""
    if isinstance(event, MessageCreated):
        message = event.message
        if message.kind is MessageKind.TEXT and message.author.role is AuthorRole.CUSTOMER:
            return "message.received"
        return None
    if isinstance(event, ConversationCreated):
        return "conversation.created"
    if isinstance(event, ConversationAssigned):
        changed = event.assignee_id != event.previous_assignee_id
        return "conversation.assigned" if event.assignee_id is not None and changed else None
    if isinstance(event, ConversationStatusChanged):
        resolved = event.to_status is ConversationStatus.RESOLVED
        return "conversation.resolved" if resolved else None
    if isinstance(event, ConversationQueued):
        return "conversation.queued"
    if isinstance(event, ConversationEscalated):
        return "conversation.escalated"
    if isinstance(event, SurveyAnswered):
        return "rating.received"
    return None
