"""What an automation rule does when it fires: actions as data.

Each action is a frozen pydantic model with a ``type`` discriminator; a rule's
``then`` is an ordered list of them (`Action`). Templates inside actions are
parsed when the rule is loaded, so a broken template fails at start-up, not
when a customer writes. Carrying the actions out (sending, tagging, calling
the webhook) is the job of the code that evaluates the rules.

In JSON or YAML:

```yaml
then:
  - {type: reply, text: "Hi {{ contact.first_name | there }}!", variants: {tr: "Merhaba!"}}
  - {type: reply, canned: /late-order}
  - {type: tag, add: [late-order], remove: [new]}
  - {type: set_priority, priority: high}
  - {type: assign, to: lead@example.com}
  - {type: route, team: billing}
  - {type: escalate, reason: "angry customer"}
  - {type: create_ticket, subject: "Late order {{ order.number | unknown }}", priority: high}
  - {type: notify, target: "team:billing", message: "{{ contact.name | A customer }} waits"}
  - {type: webhook, url: "https://hooks.example.com/late", payload: {order: "{{ order.number }}"}}
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal, TypeAlias, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from ..errors import TemplateError
from ..models import Priority
from ._language import language_tier, normalize_language
from .templates import Template

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AssignAction",
    "CreateTicketAction",
    "EscalateAction",
    "NotifyAction",
    "ReplyAction",
    "RouteAction",
    "SetPriorityAction",
    "TagAction",
    "WebhookAction",
]

_SHORTCUT = re.compile(r"^/[a-z0-9]+(?:-[a-z0-9]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Label = Annotated[str, Field(max_length=100), AfterValidator(_text)]
"""A short non-blank name (tag, team, target), trimmed."""


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReplyAction(_Action):
    """Send the customer a reply: template text, or a canned response by shortcut.

    Attributes:
        text: The reply template (the default when no variant fits).
        variants: Other languages of ``text``, by BCP 47 tag.
        canned: Instead of ``text``: the shortcut of a canned response
            (``"/late-order"``), looked up in the customer's language when run.
    """

    type: Literal["reply"] = "reply"
    text: Template | None = None
    variants: dict[str, Template] = Field(default_factory=dict)
    canned: str | None = None

    @field_validator("variants")
    @classmethod
    def _languages(cls, value: dict[str, Template]) -> dict[str, Template]:
        return {normalize_language(tag): template for tag, template in value.items()}

    @field_validator("canned")
    @classmethod
    def _shortcut(cls, value: str | None) -> str | None:
        if value is not None and not _SHORTCUT.match(value):
            raise ValueError("must be a canned response shortcut such as /late-order")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ReplyAction:
        if (self.text is None) == (self.canned is None):
            raise ValueError("give either text or canned (a shortcut), not both or neither")
        if self.variants and self.text is None:
            raise ValueError("variants need a text to fall back on")
        return self

    def template_for(self, language: str | None) -> Template | None:
        """The text for a customer speaking ``language``: the closest variant, else `text`.

        ``None`` for a canned reply (look the shortcut up in your store).
        """
        if language and self.variants:
            try:
                wanted = normalize_language(language)
            except ValueError:
                return self.text
            tier, best = max(
                ((language_tier(tag, wanted), template) for tag, template in self.variants.items()),
                key=lambda pair: pair[0],
            )
            if tier > 0:
                return best
        return self.text


class TagAction(_Action):
    """Add tags to and remove tags from the conversation."""

    type: Literal["tag"] = "tag"
    add: tuple[Label, ...] = ()
    remove: tuple[Label, ...] = ()

    @field_validator("add", "remove")
    @classmethod
    def _once(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(values))

    @model_validator(mode="after")
    def _something(self) -> TagAction:
        if not self.add and not self.remove:
            raise ValueError("a tag action needs tags to add or remove")
        both = sorted(set(self.add) & set(self.remove))
        if both:
            raise ValueError(f"tags both added and removed: {', '.join(both)}")
        return self


class SetPriorityAction(_Action):
    """Set the conversation's priority."""

    type: Literal["set_priority"] = "set_priority"
    priority: Priority


class AssignAction(_Action):
    """Give the conversation to an agent, by id (``ag_...``) or e-mail address."""

    type: Literal["assign"] = "assign"
    to: str = Field(max_length=320)

    @field_validator("to")
    @classmethod
    def _agent(cls, value: str) -> str:
        value = _text(value)
        if "@" in value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is neither an agent id nor an e-mail address")
        return value


class RouteAction(_Action):
    """Put the conversation in a team's queue."""

    type: Literal["route"] = "route"
    team: Label


class EscalateAction(_Action):
    """Escalate the conversation, recording why."""

    type: Literal["escalate"] = "escalate"
    reason: Annotated[str, Field(max_length=500), AfterValidator(_text)]


class CreateTicketAction(_Action):
    """Open a ticket from the conversation.

    Attributes:
        subject: Template of the ticket's subject.
        priority: The ticket's priority.
        team: The team that owns it (``None``: the conversation's team).
    """

    type: Literal["create_ticket"] = "create_ticket"
    subject: Template
    priority: Priority = Priority.NORMAL
    team: Label | None = None


class NotifyAction(_Action):
    """Tell someone: ``target`` names who (``"team:billing"``, ``"agent:ag_..."``,
    an e-mail address; its meaning is up to the runner), ``message`` what."""

    type: Literal["notify"] = "notify"
    target: Label
    message: Template


class WebhookAction(_Action):
    """POST a JSON payload to a URL.

    Attributes:
        url: ``https://`` (plain ``http://`` only for localhost); no
            credentials in the URL. When called, its host must resolve to
            public addresses only, unless ``ChatKitSettings.webhooks``
            allows others (see `chatkit.webhooks`).
        payload: A JSON object whose strings are templates, rendered with
            `render_payload`; values are inserted as strings, never as JSON
            syntax.
    """

    type: Literal["webhook"] = "webhook"
    url: str = Field(max_length=2000)
    payload: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        host = parts.hostname
        if not host:
            raise ValueError("must be an absolute URL such as https://hooks.example.com/x")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials; use a header in the runner instead")
        if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOCAL_HOSTS):
            raise ValueError("must use https (plain http only for localhost)")
        return value.strip()

    @field_validator("payload")
    @classmethod
    def _templates(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        _walk(value, None, "")
        return value

    def render_payload(self, context: Mapping[str, object]) -> dict[str, JsonValue]:
        """The payload with every string rendered from ``context``.

        Raises:
            TemplateError: A variable without fallback is missing.
        """
        rendered = _walk(self.payload, context, "")
        assert isinstance(rendered, dict)
        return rendered


def _walk(value: JsonValue, context: Mapping[str, object] | None, where: str) -> JsonValue:
    """Parse (and, given a context, render) every string in a JSON value."""
    if isinstance(value, str):
        try:
            template = Template.parse(value)
        except TemplateError as exc:
            raise ValueError(f"{where}: {exc}" if where else str(exc)) from exc
        return template.render(context) if context is not None else value
    if isinstance(value, dict):
        return {
            key: _walk(item, context, f"{where}.{key}" if where else key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_walk(item, context, f"{where}[{n}]") for n, item in enumerate(value)]
    return value


Action: TypeAlias = Annotated[
    ReplyAction
    | TagAction
    | SetPriorityAction
    | AssignAction
    | RouteAction
    | EscalateAction
    | CreateTicketAction
    | NotifyAction
    | WebhookAction,
    Field(discriminator="type"),
]
"""Any action; narrow on ``type`` or with ``isinstance``/``match``."""

ACTION_TYPES: tuple[str, ...] = tuple(
    get_args(cls.model_fields["type"].annotation)[0]
    for cls in (
        ReplyAction,
        TagAction,
        SetPriorityAction,
        AssignAction,
        RouteAction,
        EscalateAction,
        CreateTicketAction,
        NotifyAction,
        WebhookAction,
    )
)
"""The ``type`` of every action, in documentation order."""
