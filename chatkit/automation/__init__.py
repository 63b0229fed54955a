"""Automation: reply templates, canned responses and declarative rules.

Everything here is pure data and pure functions: nothing is stored, sent or
scheduled. Parse templates and load rules when your application starts, so
mistakes surface then. The kit runs them: `ChatKitSettings.automation_rules`
with `kit.automation` (`chatkit.services.Automation`), the automatic replies
of `AutoReplySettings` from `kit.messages.receive` and `kit.routing.route`,
and canned replies stored with `kit.canned`.
"""

from __future__ import annotations

from .actions import (
    ACTION_TYPES,
    Action,
    AssignAction,
    CreateTicketAction,
    EscalateAction,
    NotifyAction,
    ReplyAction,
    RouteAction,
    SetPriorityAction,
    TagAction,
    WebhookAction,
)
from .canned import CannedResponse, suggest
from .conditions import Conditions, Facts
from .replies import AutoReplySettings
from .rules import TRIGGERS, Firing, Rule, RuleSet, Trigger, trigger_of
from .templates import DEFAULT_ROOTS, Template

__all__ = [
    "ACTION_TYPES",
    "DEFAULT_ROOTS",
    "TRIGGERS",
    "Action",
    "AssignAction",
    "AutoReplySettings",
    "CannedResponse",
    "Conditions",
    "CreateTicketAction",
    "EscalateAction",
    "Facts",
    "Firing",
    "NotifyAction",
    "ReplyAction",
    "RouteAction",
    "Rule",
    "RuleSet",
    "SetPriorityAction",
    "TagAction",
    "Template",
    "Trigger",
    "WebhookAction",
    "suggest",
    "trigger_of",
]
