"""Automation rules: loading (Python, JSON, YAML), validation errors, conditions, evaluation."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatkit.automation import (
    ACTION_TYPES,
    TRIGGERS,
    AssignAction,
    Conditions,
    CreateTicketAction,
    Facts,
    Firing,
    NotifyAction,
    ReplyAction,
    Rule,
    RuleSet,
    SetPriorityAction,
    TagAction,
    WebhookAction,
    _loading,
    trigger_of,
)
from chatkit.errors import ConfigurationError, InvalidInputError, NotFoundError, TemplateError
from chatkit.events import (
    ConversationAssigned,
    ConversationCreated,
    ConversationEscalated,
    ConversationQueued,
    ConversationStatusChanged,
    MessageCreated,
    TicketStatusChanged,
)
from chatkit.models import (
    Author,
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
    Priority,
    TicketStatus,
)

DATA = Path(__file__).parent / "data" / "automation"
TAG = [{"type": "tag", "add": ["x"]}]


def rule(name: str = "r", **fields: Any) -> dict[str, Any]:
    return {"name": name, "on": "message.received", "then": TAG, **fields}


# --- loading -------------------------------------------------------------------------


def test_yaml_and_json_files_load_to_the_same_rules() -> None:
    from_yaml = RuleSet.load(DATA / "rules.yaml")
    from_json = RuleSet.load(str(DATA / "rules.json"))
    assert from_yaml == from_json
    assert [r.name for r in from_yaml.rules] == [
        "angry-late-order",
        "late-order",
        "after-hours",
        "vip-routing",
        "idle-nudge",
        "refund-keyword",
    ]
    first = from_yaml.get("ANGRY-late-order")
    assert first.on == "message.received"  # YAML's `on:` stays a key, not True
    assert first.stop
    assert first.enabled
    assert [a.type for a in first.then] == ["reply", "set_priority", "tag", "escalate"]
    assert first.when.intents == frozenset({"order.late"})
    assert from_yaml.get("idle-nudge").idle_minutes == 15
    assert not from_yaml.get("refund-keyword").enabled
    assert from_yaml.canned_shortcuts() == {"/late-order"}
    with pytest.raises(NotFoundError):
        from_yaml.get("nope")


def test_yaml_reads_only_true_and_false_as_booleans() -> None:
    rules = RuleSet.from_yaml(
        "- name: norway\n"
        "  on: message.received\n"
        "  when: {languages: [no, en], contact_equals: {opt_in: yes, vip: true}}\n"
        "  then: [{type: tag, add: [off]}]\n"
    )
    only = rules.rules[0]
    assert only.when.languages == frozenset({"no", "en"})
    assert only.when.contact_equals == {"opt_in": "yes", "vip": True}
    then = only.then[0]
    assert isinstance(then, TagAction)
    assert then.add == ("off",)


@pytest.mark.parametrize(
    ("file", "error", "message"),
    [
        (
            "malformed.yaml",
            InvalidInputError,
            "malformed.yaml: rules YAML is malformed at line 5, column 1: expected ',' or ']'",
        ),
        (
            "malformed.json",
            InvalidInputError,
            "malformed.json: rules JSON is malformed at line 2, column 53: Expecting property name",
        ),
        (
            "bad_priority.yaml",
            InvalidInputError,
            "bad_priority.yaml: rule 'late-order' then[1].priority: "
            "must be one of low, normal, high, urgent",
        ),
        (
            "unknown_action.yaml",
            InvalidInputError,
            "unknown_action.yaml: rule 'late-order' then[0]: unknown type 'send_sms'; "
            "expected one of " + ", ".join(ACTION_TYPES),
        ),
        (
            "duplicate_names.json",
            InvalidInputError,
            "duplicate_names.json: rule names must be unique; 'Late-Order' is used twice",
        ),
        (
            "bad_template.json",
            TemplateError,
            "bad_template.json: rule 'greeting' then[0].text: template line 1, column 7: "
            "'{{' is never closed with '}}'",
        ),
    ],
)
def test_bad_files_fail_at_load_naming_the_place(
    file: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        RuleSet.load(DATA / file)
    assert type(caught.value) is error
    assert str(caught.value).startswith(message), str(caught.value)


def test_error_fields_point_at_the_place() -> None:
    with pytest.raises(InvalidInputError) as caught:
        RuleSet.load(DATA / "bad_priority.yaml")
    assert caught.value.field == "then[1].priority"
    with pytest.raises(TemplateError) as template:
        RuleSet.load(DATA / "bad_template.json")
    assert template.value.field == "then[0].text"
    assert (template.value.line, template.value.column) == (1, 7)


def test_other_files_and_shapes_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "rules.txt"
    text.write_text("[]")
    with pytest.raises(InvalidInputError, match=r"end in \.json, \.yaml or \.yml"):
        RuleSet.load(text)
    with pytest.raises(FileNotFoundError):
        RuleSet.load(tmp_path / "missing.yaml")
    with pytest.raises(InvalidInputError, match="only a 'rules' key; found version"):
        RuleSet.from_json('{"rules": [], "version": 2}')
    with pytest.raises(InvalidInputError, match="must be a list of rules, not str"):
        RuleSet.from_yaml("rules: everything")
    with pytest.raises(InvalidInputError, match="rule #2 must be a mapping of fields, not int"):
        RuleSet.from_json(json.dumps([rule("a"), 3]))
    with pytest.raises(InvalidInputError, match="duplicate key 'name'"):
        RuleSet.from_json('[{"name": "a", "name": "b"}]')
    with pytest.raises(InvalidInputError, match="found duplicate key 'name'"):
        RuleSet.from_yaml("- name: a\n  name: b\n")
    assert RuleSet.from_yaml("") == RuleSet()
    assert RuleSet.from_yaml("rules:") == RuleSet()
    assert RuleSet.from_json(b"[]") == RuleSet()


def test_yaml_without_pyyaml_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _loading._loader.cache_clear()
    monkeypatch.setitem(sys.modules, "yaml", None)
    try:
        with pytest.raises(ConfigurationError, match=re.escape("pip install 'chatkit[yaml]'")):
            RuleSet.from_yaml("[]")
        # JSON needs nothing extra
        assert RuleSet.from_json("[]") == RuleSet()
    finally:
        _loading._loader.cache_clear()


def test_rules_from_python_with_rule_objects_and_extra_template_roots() -> None:
    made = Rule.model_validate(rule("made"))
    rules = RuleSet.from_list(
        [made, rule("booking", then=[{"type": "reply", "text": "Ref {{ booking.ref }}"}])],
        template_roots={"booking"},
    )
    assert rules.rules[0] is made
    with pytest.raises(TemplateError, match=r"unknown variable 'booking\.ref'"):
        RuleSet.from_list([rule("booking", then=[{"type": "reply", "text": "{{ booking.ref }}"}])])


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        ({"on": "message.received", "then": TAG}, "rule #1 name: is required", "name"),
        (rule(name="  "), "rule #1 name: must not be blank", "name"),
        (rule(on="message.created"), "rule 'r' on: must be one of message.received", "on"),
        (rule(then=[]), "rule 'r' then: a rule needs at least one action", "then"),
        (rule(colour="red"), "rule 'r' colour: is not a known field", "colour"),
        (rule(on="conversation.idle"), "idle_minutes: is required for on: conversation.idle", None),
        (rule(idle_minutes=5), "idle_minutes: applies only to on: conversation.idle", None),
        (rule(when={"intent": ["a"]}), "rule 'r' when.intent: is not a known field", None),
        (rule(when={"intents": []}), "when.intents: must name at least one", None),
        (rule(when={"sentiment_below": 2}), "when.sentiment_below: Input should be less", None),
        (rule(when={"mood_below": -0.5, "mood_above": 0}), "never both hold", "when"),
        (rule(when={"tags_present": ["a"], "tags_absent": ["A"]}), "present and absent: a", None),
        (rule(when={"contact_equals": {"a..b": 1}}), "not a dotted attribute path", None),
        (rule(when={"contact_in": {"plan": []}}), "plan: give at least one value", None),
        (rule(when={"contact_equals": {"plan": ["a"]}}), "when.contact_equals.plan", None),
        (rule(when={"languages": ["english"]}), "not a BCP 47 language tag", None),
        (rule(when={"channels": ["fax"]}), "must be one of web, sms, whatsapp", None),
        (rule(then=[{"text": "hi"}]), "rule 'r' then[0]: needs a 'type' field", "then[0]"),
        (rule(then=[{"type": "tag"}]), "then[0]: a tag action needs tags", "then[0]"),
        (rule(then=[{"type": "tag", "add": ["a"], "remove": ["a"]}]), "added and removed", None),
        (rule(then=[{"type": "tag", "add": [" "]}]), "then[0].add[0]: must not be blank", None),
        (rule(then=[{"type": "reply"}]), "give either text or canned", None),
        (rule(then=[{"type": "reply", "text": "a", "canned": "/b"}]), "not both", None),
        (
            rule(then=[{"type": "reply", "canned": "late"}]),
            "then[0].canned: must be a canned",
            None,
        ),
        (
            rule(then=[{"type": "reply", "canned": "/b", "variants": {"tr": "x"}}]),
            "fall back",
            None,
        ),
        (rule(then=[{"type": "reply", "text": "a", "variants": {"xx-": "b"}}]), "BCP 47", None),
        (rule(then=[{"type": "assign", "to": "lead@"}]), "neither an agent id nor an e-mail", None),
        (rule(then=[{"type": "assign"}]), "then[0].to: is required", "then[0].to"),
        (rule(then=[{"type": "route", "team": ""}]), "then[0].team: must not be blank", None),
        (rule(then=[{"type": "escalate", "reason": " "}]), "reason: must not be blank", None),
        (
            rule(then=[{"type": "create_ticket", "subject": "x", "priority": "p1"}]),
            "low, normal",
            None,
        ),
        (
            rule(then=[{"type": "notify", "target": "t", "message": "{{ x }}"}]),
            "unknown variable",
            None,
        ),
    ],
)
def test_bad_rules_name_the_rule_and_the_field(
    data: dict[str, Any], message: str, field: str | None
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RuleSet.from_list([data])
    assert message in str(caught.value), str(caught.value)
    if field is not None:
        assert caught.value.field == field


def test_rule_built_directly_raises_typed_errors() -> None:
    with pytest.raises(
        InvalidInputError, match=r"^rule 'r' then: a rule needs at least one action$"
    ):
        Rule(name="r", on="message.received", then=())
    with pytest.raises(InvalidInputError, match=r"\(and 1 more problem\)"):
        Rule.model_validate({"name": "r", "on": "nope", "then": [{"type": "nope"}]})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/x?a=1", True),
        ("http://localhost:8080/hook", True),
        ("http://127.0.0.1/hook", True),
        ("http://[::1]:9000/hook", True),
        ("http://hooks.example.com/x", False),
        ("ftp://hooks.example.com/x", False),
        ("https://user:secret@hooks.example.com/x", False),
        ("/relative/path", False),
        ("https://", False),
    ],
)
def test_webhook_urls_are_https_unless_localhost(url: str, ok: bool) -> None:
    data = rule(then=[{"type": "webhook", "url": url}])
    if ok:
        assert RuleSet.from_list([data]).rules[0].then[0].url == url  # type: ignore[union-attr]
    else:
        with pytest.raises(InvalidInputError, match=r"then\[0\]\.url"):
            RuleSet.from_list([data])


# --- actions -------------------------------------------------------------------------


def test_webhook_payload_templates_render_values_as_strings_only() -> None:
    hook = WebhookAction(
        url="https://hooks.example.com/x",
        payload={
            "text": "{{ message.text }}",
            "nested": {"tags": ["{{ contact.plan | free }}", 3, None, True]},
        },
    )
    context = {"message": {"text": '", "admin": true, "x": "{{ agent.secret }}'}}
    assert hook.render_payload(context) == {
        "text": '", "admin": true, "x": "{{ agent.secret }}',
        "nested": {"tags": ["free", 3, None, True]},
    }
    assert hook.payload["text"] == "{{ message.text }}"
    with pytest.raises(TemplateError, match=r"message\.text"):
        hook.render_payload({})
    with pytest.raises(ValueError, match=r"nested\.tags\[0\]: template line 1, column 1"):
        WebhookAction(url="https://h.example.com", payload={"nested": {"tags": ["{{ x"]}})


def test_reply_variants_pick_the_customer_language() -> None:
    reply = ReplyAction.model_validate(
        {"text": "Hello", "variants": {"tr": "Merhaba", "pt-br": "Olá", "pt-PT": "Olá!"}}
    )
    assert set(reply.variants) == {"tr", "pt-BR", "pt-PT"}

    def text(language: str | None) -> str | None:
        template = reply.template_for(language)
        return None if template is None else template.source

    assert text("tr-TR") == "Merhaba"
    assert text("pt-BR") == "Olá"
    assert text("pt-PT") == "Olá!"
    assert text("de") == "Hello"
    assert text(None) == "Hello"
    assert text("not a tag!") == "Hello"
    assert ReplyAction(canned="/late-order").template_for("en") is None


def test_action_models_render_their_templates() -> None:
    rules = RuleSet.load(DATA / "rules.yaml")
    ticket = rules.get("idle-nudge").then[1]
    assert isinstance(ticket, CreateTicketAction)
    assert ticket.priority is Priority.HIGH
    assert ticket.subject.render({"conversation": {"id": "conv_1"}}) == "Idle conv_1"
    notify = rules.get("vip-routing").then[2]
    assert isinstance(notify, NotifyAction)
    assert notify.message.render({}) == "VIP customer started a chat"
    assign = rules.get("idle-nudge").then[0]
    assert isinstance(assign, AssignAction)
    assert assign.to == "lead@example.com"
    assert rules.model_dump(mode="json")["rules"][0]["then"][0]["text"].startswith("Sorry {{")
    assert RuleSet.model_validate_json(rules.model_dump_json()) == rules


# --- conditions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "holds", "fails"),
    [
        ({"intents": ["Order.Late"]}, {"intent": "order.late"}, {"intent": "billing"}),
        ({"intents": ["order.late"]}, {"intent": "ORDER.LATE"}, {}),
        (
            {"min_intent_confidence": 0.7},
            {"intent_confidence": 0.7},
            {"intent_confidence": 0.69},
        ),
        ({"min_intent_confidence": 0.7}, {"intent_confidence": 1}, {}),
        (
            {"entities": ["order_number", "email"]},
            {"entities": {"order_number": ["A-1"], "email": ["a@b.co"]}},
            {"entities": {"order_number": ["A-1"], "email": []}},
        ),
        ({"sentiment_below": -0.3}, {"sentiment": -0.5}, {"sentiment": -0.3}),
        ({"sentiment_below": -0.3}, {"sentiment": -1}, {}),
        ({"sentiment_above": 0.5}, {"sentiment": 0.6}, {"sentiment": 0.5}),
        ({"mood_below": 0}, {"mood": -0.1}, {"mood": 0}),
        ({"mood_above": 0}, {"mood": 0.1}, {"mood": None}),
        ({"channels": ["sms", "whatsapp"]}, {"channel": "sms"}, {"channel": "web"}),
        ({"languages": ["en"]}, {"language": "en-US"}, {"language": "tr"}),
        ({"languages": ["en-US"]}, {"language": "en-us"}, {"language": "en"}),
        ({"languages": ["en-US"]}, {"language": "en-US"}, {"language": "en-GB"}),
        ({"tags_present": ["vip", "Late"]}, {"tags": ["late", "vip", "x"]}, {"tags": ["vip"]}),
        ({"tags_absent": ["told"]}, {"tags": ["x"]}, {"tags": ["Told"]}),
        ({"open_now": False}, {"open_now": False}, {"open_now": True}),
        ({"open_now": True}, {"open_now": True}, {}),
        (
            {"contact_equals": {"plan": "pro", "address.country": "TR"}},
            {"contact": {"plan": "pro", "address": {"country": "TR"}}},
            {"contact": {"plan": "pro", "address": "TR"}},
        ),
        ({"contact_equals": {"vip": True}}, {"contact": {"vip": True}}, {"contact": {"vip": 1}}),
        (
            {"contact_equals": {"seats": 1}},
            {"contact": {"seats": 1.0}},
            {"contact": {"seats": True}},
        ),
        ({"contact_equals": {"id": "1"}}, {"contact": {"id": "1"}}, {"contact": {"id": 1}}),
        ({"contact_equals": {"ended": None}}, {"contact": {"ended": None}}, {"contact": {}}),
        (
            {"contact_in": {"address.country": ["TR", "DE"]}},
            {"contact": {"address": {"country": "DE"}}},
            {"contact": {"address": {"country": "FR"}}},
        ),
        ({"priorities": ["high", "urgent"]}, {"priority": "urgent"}, {"priority": "normal"}),
        (
            {"keywords": ["refund", "money back"]},
            {"text": "I want my MONEY back!"},
            {"text": "refunds are not what I asked"},
        ),
        ({"keywords": ["c++"]}, {"text": "help with c++ please"}, {"text": None}),
    ],
)
def test_each_condition_holds_and_fails(
    when: dict[str, Any], holds: dict[str, Any], fails: dict[str, Any]
) -> None:
    conditions = Conditions.model_validate(when)
    assert conditions.holds(Facts.model_validate(holds))
    assert not conditions.holds(Facts.model_validate(fails))
    assert conditions.failed(Facts.model_validate(fails)) == next(iter(when))


def test_no_conditions_always_hold_and_failed_names_the_first_miss() -> None:
    assert Conditions().holds(Facts())
    conditions = Conditions(intents=frozenset({"a"}), open_now=True)
    assert conditions.failed(Facts(intent="a", open_now=False)) == "open_now"
    assert conditions.failed(Facts(intent="a", open_now=True)) is None


def test_bad_facts_raise_typed_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"^facts sentiment: Input should be") as caught:
        Facts(sentiment=3)
    assert caught.value.field == "sentiment"
    with pytest.raises(InvalidInputError, match="facts channel: must be one of web"):
        Facts.model_validate({"channel": "fax"})
    with pytest.raises(InvalidInputError, match="facts event: is not a known field"):
        Facts.model_validate({"event": "message.received"})


# --- evaluation ----------------------------------------------------------------------


def _names(firings: list[Firing]) -> list[str]:
    return [f.rule.name for f in firings]


def test_evaluate_honours_order_stop_enabled_and_trigger() -> None:
    rules = RuleSet.load(DATA / "rules.yaml")
    angry = Facts(
        text="Where is my order A-17?!",
        intent="order.late",
        intent_confidence=0.9,
        sentiment=-0.8,
        entities={"order_number": ("A-17",)},
        open_now=False,
    )
    assert _names(rules.evaluate("message.received", angry)) == ["angry-late-order"]  # stop
    calm = angry.model_copy(update={"sentiment": 0.2})
    firings = rules.evaluate("message.received", calm)
    assert _names(firings) == ["late-order", "after-hours"]
    rule, actions = firings[0]
    assert rule.name == "late-order"
    assert [a.type for a in actions] == ["reply", "tag"]
    told = calm.model_copy(update={"tags": frozenset({"after-hours-told"})})
    assert _names(rules.evaluate("message.received", told)) == ["late-order"]
    # the refund rule matches the text but is disabled
    assert rules.evaluate("message.received", Facts(text="refund please", open_now=True)) == []
    # other triggers see other rules
    assert rules.evaluate("conversation.created", calm) == []


def test_idle_rules_fire_from_their_threshold() -> None:
    rules = RuleSet.load(DATA / "rules.yaml")
    urgent = Facts(priority=Priority.URGENT)
    assert (
        rules.evaluate("conversation.idle", urgent.model_copy(update={"idle_minutes": 14.9})) == []
    )
    assert rules.evaluate("conversation.idle", urgent) == []
    fired = rules.evaluate("conversation.idle", urgent.model_copy(update={"idle_minutes": 15}))
    assert _names(fired) == ["idle-nudge"]
    low = Facts(priority=Priority.LOW, idle_minutes=60)
    assert rules.evaluate("conversation.idle", low) == []


def test_vip_rule_on_conversation_created() -> None:
    rules = RuleSet.load(DATA / "rules.yaml")
    facts = Facts(
        channel=Channel.WHATSAPP,
        language="tr-TR",
        contact={"vip": True, "address": {"country": "TR"}},
    )
    fired = rules.evaluate("conversation.created", facts)
    assert _names(fired) == ["vip-routing"]
    assert isinstance(fired[0].actions[1], SetPriorityAction)
    other = facts.model_copy(update={"contact": {"vip": "true", "address": {"country": "TR"}}})
    assert rules.evaluate("conversation.created", other) == []


def test_evaluate_refuses_unknown_triggers() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown trigger 'message\.created'") as caught:
        RuleSet().evaluate("message.created", Facts())
    assert caught.value.field == "trigger"


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=12))
def test_evaluation_is_the_matching_rules_in_order_up_to_the_first_stop(
    specs: list[tuple[bool, bool, bool]],
) -> None:
    rules = RuleSet.from_list(
        [
            rule(
                f"r{n}",
                enabled=enabled,
                stop=stop,
                when={"tags_present": ["hit"]} if matches else {"tags_present": ["miss"]},
            )
            for n, (matches, enabled, stop) in enumerate(specs)
        ]
    )
    expected: list[str] = []
    for n, (matches, enabled, stop) in enumerate(specs):
        if matches and enabled:
            expected.append(f"r{n}")
            if stop:
                break
    fired = rules.evaluate("message.received", Facts(tags=frozenset({"hit"})))
    assert _names(fired) == expected
    assert all(firing.actions == firing.rule.then for firing in fired)


# --- events to triggers --------------------------------------------------------------


def _message(author: Author, kind: MessageKind = MessageKind.TEXT) -> MessageCreated:
    return MessageCreated(
        message=Message(
            id="msg_1", conversation_id="conv_1", seq=1, author=author, text="hi", kind=kind
        )
    )


def test_trigger_of_maps_domain_events() -> None:
    assert trigger_of(_message(Author.customer("ct_1"))) == "message.received"
    assert trigger_of(_message(Author.agent("ag_1"))) is None
    assert trigger_of(_message(Author.bot())) is None
    assert trigger_of(_message(Author.customer("ct_1"), MessageKind.NOTE)) is None
    conversation = Conversation(id="conv_1", contact_id="ct_1")
    assert trigger_of(ConversationCreated(conversation=conversation)) == "conversation.created"
    assigned = ConversationAssigned(
        assignee_id="ag_1", previous_assignee_id=None, team=None, previous_team=None
    )
    assert trigger_of(assigned) == "conversation.assigned"
    unassigned = assigned.model_copy(update={"assignee_id": None, "previous_assignee_id": "ag_1"})
    assert trigger_of(unassigned) is None
    moved = assigned.model_copy(update={"previous_assignee_id": "ag_1", "team": "vip"})
    assert trigger_of(moved) is None
    resolved = ConversationStatusChanged(
        from_status=ConversationStatus.OPEN, to_status=ConversationStatus.RESOLVED
    )
    assert trigger_of(resolved) == "conversation.resolved"
    pending = resolved.model_copy(update={"to_status": ConversationStatus.PENDING})
    assert trigger_of(pending) is None
    queued = ConversationQueued(team=None, topic=None, language=None)
    assert trigger_of(queued) == "conversation.queued"
    escalated = ConversationEscalated(rule="r", reason="x", actions=[])
    assert trigger_of(escalated) == "conversation.escalated"
    ticket = TicketStatusChanged(
        ticket_id="tkt_1", from_status=TicketStatus.OPEN, to_status=TicketStatus.PENDING
    )
    assert trigger_of(ticket) is None
    assert set(TRIGGERS) >= {"conversation.idle", "rating.received"}
