"""Hostile documents given to the rules, flow and survey loaders.

Deep nesting (JSON, YAML, or Python data), a YAML alias bomb and a wrong
top-level type each raise a typed `ChatKitError` quickly, with a short message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from chatkit.automation.rules import RuleSet
from chatkit.bots.flows import Flow
from chatkit.errors import ChatKitError, InvalidInputError
from chatkit.models.surveys import SurveyForm

DEPTH = 100_000
SECONDS = 1.0
MESSAGE_LENGTH = 300

DEEP_JSON_LIST = "[" * DEPTH + "]" * DEPTH
DEEP_JSON_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH
DEEP_YAML_FLOW = "[" * DEPTH + "]" * DEPTH
DEEP_YAML_OBJECT = "{a: " * DEPTH + "1" + "}" * DEPTH


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: ``width ** levels`` strings once expanded."""
    lines = ["a0: &a0 [" + ", ".join(['"x"'] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _rules_alias_bomb() -> str:
    """A rule whose webhook payload is an alias bomb (anchors defined in the payload)."""
    width = 9
    lines = [
        "rules:",
        "  - name: bomb",
        "    on: message.received",
        "    then:",
        "      - type: webhook",
        "        url: https://example.com/hook",
        "        payload:",
        "          l0: &l0 [" + ", ".join(['"x"'] * width) + "]",
    ]
    for level in range(1, 9):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"          l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _deep_python(depth: int = DEPTH) -> object:
    data: object = 1
    for _ in range(depth):
        data = {"a": data}
    return data


def _refused(call: Callable[[], object]) -> ChatKitError:
    started = time.perf_counter()
    with pytest.raises(ChatKitError) as info:
        call()
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"took {elapsed:.2f} s"
    message = str(info.value)
    assert 0 < len(message) <= MESSAGE_LENGTH, message[:MESSAGE_LENGTH]
    assert isinstance(info.value, InvalidInputError)
    return info.value


TEXT_LOADERS: dict[str, Callable[[str], object]] = {
    "RuleSet.from_json": RuleSet.from_json,
    "RuleSet.from_yaml": RuleSet.from_yaml,
    "Flow.from_json": Flow.from_json,
    "Flow.from_yaml": Flow.from_yaml,
    "SurveyForm.from_json": SurveyForm.from_json,
    "SurveyForm.from_yaml": SurveyForm.from_yaml,
}
JSON_LOADERS = [name for name in TEXT_LOADERS if name.endswith("json")]
YAML_LOADERS = [name for name in TEXT_LOADERS if name.endswith("yaml")]


@pytest.mark.parametrize("loader", JSON_LOADERS)
@pytest.mark.parametrize("text", [DEEP_JSON_LIST, DEEP_JSON_OBJECT], ids=["list", "object"])
def test_deep_json_is_refused(loader: str, text: str) -> None:
    error = _refused(lambda: TEXT_LOADERS[loader](text))
    assert "deep" in str(error)


@pytest.mark.parametrize("loader", JSON_LOADERS)
def test_json_just_over_the_limit_is_refused(loader: str) -> None:
    # Below Python's recursion limit, so the parser succeeds and the depth check refuses.
    text = '{"a":' * 200 + "1" + "}" * 200
    error = _refused(lambda: TEXT_LOADERS[loader](text))
    assert "deeper than 64 levels" in str(error)


@pytest.mark.parametrize("loader", YAML_LOADERS)
@pytest.mark.parametrize("text", [DEEP_YAML_FLOW, DEEP_YAML_OBJECT], ids=["list", "object"])
def test_deep_yaml_is_refused(loader: str, text: str) -> None:
    error = _refused(lambda: TEXT_LOADERS[loader](text))
    assert "deeper than 64 levels" in str(error)


@pytest.mark.parametrize("loader", YAML_LOADERS)
def test_yaml_alias_bomb_is_refused(loader: str) -> None:
    error = _refused(lambda: TEXT_LOADERS[loader](_alias_bomb()))
    assert "more than 100000 values" in str(error)


def test_alias_bomb_in_a_webhook_payload_is_refused() -> None:
    error = _refused(lambda: RuleSet.from_yaml(_rules_alias_bomb()))
    assert "more than 100000 values" in str(error)


@pytest.mark.parametrize("loader", YAML_LOADERS)
def test_many_aliases_are_refused(loader: str) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 500) + "]\n"
    error = _refused(lambda: TEXT_LOADERS[loader](text))
    assert "more than 100 aliases" in str(error)


@pytest.mark.parametrize("loader", YAML_LOADERS)
def test_recursive_yaml_alias_is_refused(loader: str) -> None:
    error = _refused(lambda: TEXT_LOADERS[loader]("a: &a [*a]\n"))
    assert "deeper than 64 levels" in str(error)


def test_a_few_aliases_still_load() -> None:
    text = (
        "rules:\n"
        "  - name: first\n"
        "    on: message.received\n"
        "    then: &acts\n"
        "      - {type: tag, add: [vip]}\n"
        "  - name: second\n"
        "    on: conversation.created\n"
        "    then: *acts\n"
    )
    rules = RuleSet.from_yaml(text)
    assert [rule.name for rule in rules.rules] == ["first", "second"]
    assert rules.rules[0].then == rules.rules[1].then


@pytest.mark.parametrize(
    ("call", "wrap"),
    [
        (RuleSet.from_list, True),
        (RuleSet.from_data, True),
        (Flow.from_dict, False),
        (SurveyForm.from_data, False),
    ],
    ids=["RuleSet.from_list", "RuleSet.from_data", "Flow.from_dict", "SurveyForm.from_data"],
)
def test_deep_python_data_is_refused(call: Callable[[object], object], wrap: bool) -> None:
    deep = _deep_python()
    data: object = [deep] if wrap else deep
    error = _refused(lambda: call(data))
    assert "deeper than 64 levels" in str(error)


@pytest.mark.parametrize("value", [None, 5, 1.5, "rules", b"rules", {"name": "x"}])
def test_from_list_refuses_what_is_not_a_list(value: object) -> None:
    error = _refused(lambda: RuleSet.from_list(value))  # type: ignore[arg-type]
    assert f"not {type(value).__name__}" in str(error)


def test_huge_input_is_not_repeated_in_the_message() -> None:
    huge = "x" * 10_000_000
    _refused(lambda: RuleSet.from_list([{"name": huge, "on": 5, "actions": huge}]))
    _refused(lambda: Flow.from_dict({"name": huge, "steps": huge}))


@pytest.mark.parametrize(
    ("suffix", "text"),
    [(".json", DEEP_JSON_LIST), (".yaml", DEEP_YAML_FLOW), (".yml", _alias_bomb())],
)
def test_files_are_refused_too(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"bomb{suffix}"
    path.write_text(text, encoding="utf-8")
    for load in (RuleSet.load, Flow.load):
        error = _refused(lambda load=load: load(path))
        assert str(error).startswith(path.name)


@pytest.mark.parametrize(
    "load",
    [
        RuleSet.from_json,
        RuleSet.from_yaml,
        Flow.from_json,
        Flow.from_yaml,
        SurveyForm.from_json,
        SurveyForm.from_yaml,
    ],
)
@pytest.mark.parametrize("value", [None, 5, ["rules"], {"name": "x"}])
def test_text_loaders_refuse_what_is_not_text(
    load: Callable[[object], object], value: object
) -> None:
    """These raised TypeError or AttributeError from the JSON or YAML parser."""
    error = _refused(lambda: load(value))
    assert "must be text" in str(error)


@pytest.mark.parametrize("load", [RuleSet.load, Flow.load])
@pytest.mark.parametrize("path", [None, 5, b"rules.json", "a\x00.json", "\udfff.yaml"])
def test_file_loaders_refuse_what_is_not_a_path(
    load: Callable[[object], object], path: object
) -> None:
    """These raised TypeError, ValueError or UnicodeEncodeError."""
    error = _refused(lambda: load(path))
    assert error.field == "path"


@pytest.mark.parametrize("load", [RuleSet.load, Flow.load])
def test_file_loaders_refuse_what_is_not_utf8(
    tmp_path: Path, load: Callable[[object], object]
) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(b'{"name": "\xff"}')
    error = _refused(lambda: load(path))
    assert str(error) == "rules.json: not UTF-8 text"


def test_file_loaders_still_raise_oserror_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RuleSet.load(tmp_path / "missing.json")
