"""Reply templates and canned responses: parsing, rendering, injection, ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from chatkit.automation import DEFAULT_ROOTS, CannedResponse, Template, suggest
from chatkit.errors import InvalidInputError, TemplateError

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


# --- parsing -------------------------------------------------------------------------


def test_parse_lists_variables_in_order_and_which_are_required() -> None:
    template = Template.parse(
        "Hi {{ contact.first_name | there }}, order {{order.number}} "
        '({{ contact.first_name }}) -- {{ agent.name | "the team" }}'
    )
    assert template.variables == ("contact.first_name", "order.number", "agent.name")
    # used once without a fallback, so it is required
    assert template.required == ("contact.first_name", "order.number")
    assert template.source.startswith("Hi {{ contact.first_name")
    assert str(template) == template.source


def test_text_without_variables_and_single_braces_are_plain_text() -> None:
    template = Template.parse('{"ok": true} and a lone } or {')
    assert template.variables == ()
    assert template.render({}) == '{"ok": true} and a lone } or {'
    assert Template.parse("").render({}) == ""


@pytest.mark.parametrize(
    ("text", "position", "line", "column", "problem"),
    [
        ("Hi {{ contact.name", 3, 1, 4, "never closed"),
        ("Hi }} there", 3, 1, 4, "without an opening"),
        ("a {{ contact.{{x}} }}", 13, 1, 14, "inside a variable"),
        ("line one\n  {{ bogus.name }}", 14, 2, 6, "unknown variable 'bogus.name'"),
        ("{{ contact.__class__ }}", 3, 1, 4, "is not a variable name"),
        ("{{ contact..name }}", 3, 1, 4, "is not a variable name"),
        ("{{ contact.first name }}", 3, 1, 4, "is not a variable name"),
        ("{{ 1contact }}", 3, 1, 4, "is not a variable name"),
        ("{{   }}", 5, 1, 6, "empty variable"),
        ("{{ contact.name | {x} }}", 18, 1, 19, "cannot contain braces"),
        ("{{{contact.name}}}", 2, 1, 3, "is not a variable name"),
    ],
)
def test_malformed_templates_fail_at_parse_with_the_position(
    text: str, position: int, line: int, column: int, problem: str
) -> None:
    with pytest.raises(TemplateError, match=problem) as caught:
        Template.parse(text)
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert (error.position, error.line, error.column) == (position, line, column)
    assert f"line {line}, column {column}" in str(error)


def test_roots_are_an_allow_list() -> None:
    assert "contact" in DEFAULT_ROOTS
    with pytest.raises(TemplateError, match=r"unknown variable 'booking\.ref'"):
        Template.parse("{{ booking.ref }}")
    template = Template.parse("{{ booking.ref }}", roots={"booking"})
    assert template.render({"booking": {"ref": "B1"}}) == "B1"
    with pytest.raises(TemplateError, match=r"unknown variable 'contact\.name'"):
        Template.parse("{{ contact.name }}", roots={"booking"})


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(TemplateError, match="must be text"):
        Template.parse(42)  # type: ignore[arg-type]


# --- rendering -----------------------------------------------------------------------


def test_render_fills_values_and_formats_plain_scalars() -> None:
    template = Template.parse(
        "{{order.number}} {{order.total}} {{order.items}} {{order.gift}} {{order.tax}}"
    )
    context = {
        "order": {
            "number": "A-17",
            "total": 12.5,
            "items": 3,
            "gift": False,
            "tax": Decimal("1.10"),
        }
    }
    assert template.render(context) == "A-17 12.5 3 false 1.10"


def test_fallbacks_cover_absent_none_and_blank_values() -> None:
    template = Template.parse('Hi {{ contact.first_name | there }}{{ contact.title | "" }}!')
    assert template.render({}) == "Hi there!"
    assert template.render({"contact": {}}) == "Hi there!"
    assert template.render({"contact": {"first_name": None}}) == "Hi there!"
    assert template.render({"contact": {"first_name": "   "}}) == "Hi there!"
    assert template.render({"contact": {"first_name": "Ada"}}) == "Hi Ada!"
    quoted = Template.parse('Hi{{ contact.first_name | " dear customer" }}.')
    assert quoted.render({}) == "Hi dear customer."
    blank = Template.parse("Hi{{ contact.first_name | }}.")
    assert blank.render({}) == "Hi."


def test_a_missing_value_without_fallback_raises_and_names_it() -> None:
    template = Template.parse("Order {{ order.number }} for {{ contact.first_name | you }}")
    with pytest.raises(TemplateError, match=r"order\.number") as caught:
        template.render({"contact": {"first_name": "Ada"}})
    assert caught.value.variable == "order.number"
    assert caught.value.field == "template"
    with pytest.raises(TemplateError):
        template.render({"order": {"number": ""}})
    assert template.missing({}) == ["order.number"]
    assert template.missing({"order": {"number": "A-1"}}) == []


def test_a_path_through_a_plain_value_is_missing() -> None:
    template = Template.parse("{{ contact.name.first | friend }}")
    assert template.render({"contact": {"name": "Ada"}}) == "friend"


def test_customer_text_is_inserted_literally_never_parsed_again() -> None:
    template = Template.parse("Hi {{ contact.first_name }}, I am {{ agent.name }}")
    context = {
        "contact": {"first_name": "{{agent.secret}} }} {{ {{"},
        "agent": {"name": "Bo", "secret": "hunter2"},
    }
    rendered = template.render(context)
    assert rendered == "Hi {{agent.secret}} }} {{ {{, I am Bo"
    assert "hunter2" not in rendered


class _Contact(BaseModel):
    first_name: str


class _Thing:
    first_name = "leaked"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (_Contact(first_name="Ada"), "a _Contact"),
        (_Thing(), "a _Thing"),
        (datetime(2026, 1, 1, tzinfo=UTC), "a datetime"),
    ],
)
def test_python_objects_are_never_read(value: object, kind: str) -> None:
    template = Template.parse("{{ contact.first_name | x }}")
    with pytest.raises(TemplateError, match=f"contact is {kind}"):
        template.render({"contact": value})
    leaf = Template.parse("{{ contact }}")
    with pytest.raises(TemplateError, match=f"contact is {kind}"):
        leaf.render({"contact": value})


@pytest.mark.parametrize(("value", "kind"), [({"a": 1}, "an object"), (["a"], "a list")])
def test_objects_and_lists_are_not_values(value: object, kind: str) -> None:
    with pytest.raises(TemplateError, match=f"contact.tags is {kind}"):
        Template.parse("{{ contact.tags }}").render({"contact": {"tags": value}})


def test_templates_compare_by_text_and_round_trip_through_pydantic() -> None:
    class Holder(BaseModel):
        body: Template

    assert Template.parse("a {{contact.x}}") == Template.parse("a {{contact.x}}")
    assert Template.parse("a") != Template.parse("b")
    assert len({Template.parse("a"), Template.parse("a")}) == 1
    assert Template.parse("a").__eq__("a") is NotImplemented
    holder = Holder(body="Hi {{ contact.name | you }}")
    assert isinstance(holder.body, Template)
    assert holder.model_dump() == {"body": "Hi {{ contact.name | you }}"}
    assert Holder.model_validate_json(holder.model_dump_json()) == holder
    assert repr(holder.body) == "Template('Hi {{ contact.name | you }}')"
    with pytest.raises(ValueError, match="never closed"):
        Holder(body="{{ contact.name")
    with pytest.raises(ValueError, match="must be template text"):
        Holder(body=3)
    custom = Holder.model_validate(
        {"body": "{{ booking.ref }}"}, context={"template_roots": {"booking"}}
    )
    assert custom.body.variables == ("booking.ref",)


# --- properties ----------------------------------------------------------------------

_plain = st.text(st.characters(exclude_characters="{}", exclude_categories=["Cs"]))
_piece = st.one_of(
    st.text(alphabet="ab {}|.\n", max_size=6),
    st.builds(
        lambda name, fallback: (
            "{{ contact." + name + (f" | {fallback}" if fallback else "") + " }}"
        ),
        st.sampled_from(["a", "b", "c_1"]),
        st.one_of(st.none(), st.text(alphabet="xy {}|", max_size=4)),
    ),
)


@given(st.text())
def test_parse_raises_only_template_errors(text: str) -> None:
    try:
        template = Template.parse(text)
    except TemplateError:
        return
    assert "".join(p for p in template._parts if isinstance(p, str)).count("{{") == 0


@given(st.lists(_piece, max_size=8), st.data())
def test_rendering_never_emits_braces_that_no_value_brought(
    pieces: list[str], data: st.DataObject
) -> None:
    try:
        template = Template.parse("".join(pieces))
    except TemplateError:
        return
    values = {
        name.split(".")[1]: data.draw(st.one_of(st.none(), _plain), label=name)
        for name in template.variables
    }
    context = {"contact": values}
    if template.missing(context):
        with pytest.raises(TemplateError):
            template.render(context)
        return
    assert "{{" not in template.render(context)


@given(st.text().filter(lambda s: s.strip() != ""))
def test_any_customer_string_comes_back_literally(value: str) -> None:
    template = Template.parse("<{{ contact.first_name }}|{{ order.number | none }}>")
    assert template.render({"contact": {"first_name": value}}) == f"<{value}|none>"
    assert template.render({"contact": {"first_name": value}, "order": {"number": value}}) == (
        f"<{value}|{value}>"
    )


# --- canned responses ----------------------------------------------------------------


def _canned(shortcut: str = "/late-order", **fields: Any) -> CannedResponse:
    values: dict[str, object] = {
        "shortcut": shortcut,
        "title": "Late order",
        "body": "Sorry {{ contact.first_name | there }}, order {{ order.number }} is late.",
        "language": "en",
    }
    values.update(fields)
    return CannedResponse.model_validate(values)


def test_canned_response_normalises_and_renders() -> None:
    late = _canned(
        language="en_us", intents=["Order.Late", "order.late", " "], tags=["Delivery"], topics=[]
    )
    assert late.language == "en-US"
    assert late.intents == ("order.late",)
    assert late.tags == ("delivery",)
    assert late.body.required == ("order.number",)
    assert late.render({"order": {"number": "A-17"}}) == "Sorry there, order A-17 is late."
    assert _canned(language="zh-hant-tw").language == "zh-Hant-TW"
    assert CannedResponse.model_validate_json(late.model_dump_json()) == late


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"shortcut": "late-order"}, "shortcut", "lower-case slug"),
        ({"shortcut": "/Late"}, "shortcut", "lower-case slug"),
        ({"shortcut": "/late--order"}, "shortcut", "lower-case slug"),
        ({"shortcut": "/late order"}, "shortcut", "lower-case slug"),
        ({"language": "english please"}, "language", "not a BCP 47"),
        ({"title": "  "}, "title", "blank"),
        ({"usage_count": -1}, "usage_count", "greater than or equal to 0"),
        ({"colour": "red"}, "colour", "not a known field"),
    ],
)
def test_canned_response_bad_fields(fields: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem) as caught:
        _canned(**fields)
    assert caught.value.field == field
    assert not isinstance(caught.value, TemplateError)


def test_canned_response_with_a_bad_body_fails_at_load_with_the_place() -> None:
    with pytest.raises(TemplateError) as caught:
        _canned(body="Hi {{ contact.first_name }")
    error = caught.value
    assert error.field == "body"
    assert (error.line, error.column) == (1, 4)
    assert str(error).startswith("canned response '/late-order' body: template line 1, column 4")
    with pytest.raises(InvalidInputError) as missing:
        CannedResponse.model_validate({"title": "x", "language": "en", "shortcut": 3})
    assert str(missing.value) == (
        "canned response shortcut: Input should be a valid string (and 1 more problem)"
    )


def test_needs_review_used_and_reviewed() -> None:
    fresh = _canned()
    assert fresh.needs_review(NOW)
    reviewed = fresh.reviewed(NOW - timedelta(days=10))
    assert not reviewed.needs_review(NOW)
    assert reviewed.needs_review(NOW, every=timedelta(days=7))
    assert reviewed.needs_review(NOW + timedelta(days=20))
    used = reviewed.used(NOW).used(NOW + timedelta(minutes=1))
    assert (used.usage_count, used.last_used_at) == (2, NOW + timedelta(minutes=1))
    assert fresh.usage_count == 0  # frozen: copies, never changed in place
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        fresh.needs_review(datetime(2026, 5, 4))
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        fresh.used(datetime(2026, 5, 4))


# --- suggestions ---------------------------------------------------------------------


def test_suggest_ranks_intent_then_topic_then_language_then_usage() -> None:
    responses = [
        _canned("/popular", language="en", usage_count=90),
        _canned("/late-en", language="en", intents=["order.late"], usage_count=1),
        _canned("/late-us", language="en-US", intents=["order.late"], usage_count=0),
        _canned("/late-gb", language="en-GB", intents=["order.late"], usage_count=50),
        _canned("/late-tr", language="tr", intents=["order.late"], usage_count=99),
        _canned("/billing", language="en-US", topics=["billing"], usage_count=5),
    ]
    ranked = suggest(responses, language="en-us", intent="Order.Late", topic="billing")
    assert [r.shortcut for r in ranked] == [
        "/late-us",  # intent, exact language
        "/late-en",  # intent, base language
        "/late-gb",  # intent, another variant of English
        "/billing",  # topic
        "/popular",
    ]
    assert "/late-tr" not in {r.shortcut for r in ranked}  # language is required
    plain = suggest(responses, language="en")
    assert [r.shortcut for r in plain][:2] == ["/popular", "/late-en"]
    assert [r.shortcut for r in suggest(responses, language="tr")] == ["/late-tr"]
    assert suggest(responses, language="ko") == []
    assert len(suggest(responses, language="en-US", limit=2)) == 2


def test_suggest_breaks_ties_by_recent_use_then_shortcut() -> None:
    responses = [
        _canned("/b", usage_count=3),
        _canned("/a", usage_count=3),
        _canned("/c", usage_count=3, last_used_at=NOW),
    ]
    assert [r.shortcut for r in suggest(responses, language="en")] == ["/c", "/a", "/b"]


def test_suggest_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="BCP 47") as caught:
        suggest([], language="??")
    assert caught.value.field == "language"
    with pytest.raises(InvalidInputError, match="limit"):
        suggest([], language="en", limit=-1)


def test_render_html_escapes_values_and_raw_inserts_them_as_they_are() -> None:
    template = Template.parse(
        '<p title="{{ contact.name }}">Olá {{ contact.first_name | cliente }}</p>'
        '{{ company.logo | raw }}{{ company.note | <i>none</i> | raw }}{{ company.tag | "raw" }}'
    )
    hostile = "<img/src=x/onerror=alert(1)> & 'co'"
    context = {
        "contact": {"name": hostile, "first_name": hostile},
        "company": {"logo": "<img src=logo.png>"},
    }
    assert template.render_html(context) == (
        '<p title="&lt;img/src=x/onerror=alert(1)&gt; &amp; &#x27;co&#x27;">'
        "Olá &lt;img/src=x/onerror=alert(1)&gt; &amp; &#x27;co&#x27;</p>"
        "<img src=logo.png><i>none</i>raw"
    )
    # plain text: values as they are, and raw changes nothing
    assert template.render(context) == (
        f'<p title="{hostile}">Olá {hostile}</p><img src=logo.png><i>none</i>raw'
    )
    assert template.required == ("contact.name", "company.logo")
    with pytest.raises(TemplateError):
        Template.parse("{{ contact.name | raw }}").render_html({})
