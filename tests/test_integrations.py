"""The integration plugin contract, and the example plugin in examples/plugin."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from chatkit.cli import app
from chatkit.errors import (
    ConfigurationError,
    IntegrationConfigError,
    IntegrationError,
    PluginLoadError,
    PluginNotFoundError,
)
from chatkit.integrations import (
    INSTALL_HINTS,
    Capabilities,
    HealthState,
    HealthStatus,
    Integration,
    IntegrationConfig,
    IntegrationLoader,
    ObjectSync,
    OutboundChange,
    PushResult,
    PushStatus,
    SyncObject,
    env_prefix,
    integrations,
)

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plugin"
SECRET = "s3cr3t-token-value"


class DeskConfig(IntegrationConfig):
    subdomain: str
    api_token: SecretStr
    batch: int = 100
    tags: tuple[str, ...] = ()


def _conversations(batch: int = 10) -> Capabilities:
    return Capabilities(
        objects=(
            ObjectSync(
                object="conversation",
                remote_type="ticket",
                directions={"outbound"},
                batch_size=batch,
            ),
        )
    )


# -- configuration ------------------------------------------------------------


def test_env_prefix() -> None:
    assert env_prefix("example-notes") == "CHATKIT_EXAMPLE_NOTES_"
    assert env_prefix("zendesk") == "CHATKIT_ZENDESK_"


def test_config_from_env_converts_and_reads_json() -> None:
    config = DeskConfig.from_env(
        "desk",
        environ={
            "CHATKIT_DESK_SUBDOMAIN": "acme",
            "CHATKIT_DESK_API_TOKEN": SECRET,
            "CHATKIT_DESK_BATCH": "50",
            "CHATKIT_DESK_TAGS": '["vip", "eu"]',
            "CHATKIT_OTHER_BATCH": "7",
        },
    )
    assert (config.subdomain, config.batch, config.tags) == ("acme", 50, ("vip", "eu"))
    assert config.api_token.get_secret_value() == SECRET


def test_config_from_json_and_yaml_files_and_env_on_top(tmp_path: Path) -> None:
    shared = tmp_path / "integrations.yaml"
    shared.write_text(f"desk:\n  subdomain: acme\n  api_token: {SECRET}\n  batch: 20\n")
    own = tmp_path / "desk.json"
    own.write_text(json.dumps({"subdomain": "json-co", "api_token": SECRET}))

    assert DeskConfig.from_file(shared, section="desk").batch == 20
    assert DeskConfig.from_file(own).subdomain == "json-co"
    loaded = DeskConfig.load("desk", file=shared, environ={"CHATKIT_DESK_BATCH": "5"})
    assert (loaded.subdomain, loaded.batch) == ("acme", 5)
    by_env = DeskConfig.load("desk", environ={"CHATKIT_DESK_CONFIG_FILE": str(own)})
    assert by_env.subdomain == "json-co"


def test_config_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IntegrationConfigError, match="not valid JSON"):
        DeskConfig.from_file(bad)
    bad.write_text("{}")
    with pytest.raises(IntegrationConfigError, match="no 'desk' section"):
        DeskConfig.from_file(bad, section="desk")
    with pytest.raises(IntegrationConfigError, match="cannot read"):
        DeskConfig.from_file(tmp_path / "missing.json")


def test_secrets_stay_out_of_repr_logs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    config = DeskConfig(subdomain="acme", api_token=SecretStr(SECRET))
    logging.getLogger("test").warning("config %r / %s", config, config)
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in caplog.text
    assert SECRET not in config.model_dump_json()

    with pytest.raises(IntegrationConfigError) as caught:
        DeskConfig.create({"subdomain": ["not", "a", "str"], "api_token": SECRET, "typo": SECRET})
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert error.integration == "integration"
    assert set(error.fields) == {"subdomain", "typo"}
    assert SECRET not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__

    with pytest.raises(IntegrationConfigError) as caught:
        DeskConfig.from_env("desk", environ={"CHATKIT_DESK_API_TOKEN": SECRET})
    assert caught.value.fields == ("subdomain",)
    assert "desk: invalid configuration: subdomain: Field required" in str(caught.value)


# -- capabilities and the class contract --------------------------------------


def test_capabilities_answer_questions() -> None:
    caps = Capabilities(
        objects=(
            ObjectSync(
                object="conversation",
                remote_type="ticket",
                directions={"outbound", "inbound"},
                batch_size=100,
            ),
            ObjectSync(object="note", remote_type="comment", directions={"outbound"}),
        ),
        webhooks=True,
    )
    assert caps.supports("conversation", "inbound")
    assert not caps.supports("note", "inbound")
    assert caps.batch_size(SyncObject.CONVERSATION) == 100
    assert caps.batch_size("contact") == 0
    assert caps.summary() == "conversation⇄ticket(100), note→comment(1); webhooks"


@pytest.mark.parametrize(
    ("objects", "webhooks", "message"),
    [
        ((), False, "at least 1"),
        (
            (
                ObjectSync(object="contact", remote_type="user", directions={"outbound"}),
                ObjectSync(object="contact", remote_type="lead", directions={"outbound"}),
            ),
            False,
            "more than once: contact",
        ),
        (
            (ObjectSync(object="message", remote_type="comment", directions={"outbound"}),),
            False,
            "needs conversation outbound",
        ),
        (
            (ObjectSync(object="contact", remote_type="user", directions={"outbound"}),),
            True,
            "no object is synced inbound",
        ),
    ],
)
def test_inconsistent_capabilities_are_refused(
    objects: tuple[ObjectSync, ...], webhooks: bool, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Capabilities(objects=objects, webhooks=webhooks)


def test_batch_sizes_are_bounded() -> None:
    with pytest.raises(ValidationError):
        ObjectSync(object="contact", remote_type="user", directions={"outbound"}, batch_size=0)


def test_an_integration_must_implement_what_it_declares() -> None:
    with pytest.raises(TypeError, match="must implement pull"):

        class Inbound(Integration):
            name = "inbound"
            capabilities = Capabilities(
                objects=(ObjectSync(object="contact", remote_type="u", directions={"inbound"}),)
            )

            async def check(self) -> HealthStatus:
                return HealthStatus(state=HealthState.OK)

            async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
                return []

    with pytest.raises(TypeError, match="lowercase name"):

        class Badly(Integration):
            name = "Bad Name"
            capabilities = _conversations()

            async def check(self) -> HealthStatus:
                return HealthStatus(state=HealthState.OK)

            async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
                return []


def test_push_results_are_classified_consistently() -> None:
    change = OutboundChange(change_id="evt_1", object="conversation", local_id="conv_1")
    assert PushResult.ok(change, "42").status is PushStatus.OK
    retry = PushResult.retryable(change, "429 Too Many Requests", retry_after=3)
    assert (retry.status, retry.retry_after) == (PushStatus.RETRYABLE, 3)
    assert PushResult.permanent(change, "422 subject missing").error == "422 subject missing"
    with pytest.raises(ValueError, match="needs the remote id"):
        PushResult.ok(change, None)
    with pytest.raises(ValidationError, match="needs the error"):
        PushResult(change_id="evt_1", status=PushStatus.PERMANENT)
    with pytest.raises(ValidationError, match="retryable results only"):
        PushResult(change_id="evt_1", status=PushStatus.PERMANENT, error="x", retry_after=1)


async def test_unsupported_operations_raise_integration_errors() -> None:
    class Minimal(Integration):
        name = "minimal"
        capabilities = _conversations()

        async def check(self) -> HealthStatus:
            return HealthStatus(state=HealthState.OK)

        async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
            return [PushResult.ok(c, c.local_id) for c in changes]

    with pytest.raises(TypeError, match="needs a IntegrationConfig"):
        Minimal(object())  # type: ignore[arg-type]
    assert IntegrationConfig.integration == "integration"  # the base is left alone
    async with Minimal(IntegrationConfig()) as minimal:
        assert (await minimal.check()).ok
        with pytest.raises(IntegrationError, match="does not read") as caught:
            await minimal.pull(None)
        assert caught.value.integration == "minimal"
        with pytest.raises(IntegrationError, match="webhooks"):
            await minimal.verify_webhook({}, b"")


# -- the loader ---------------------------------------------------------------


def test_unknown_names_get_install_hints() -> None:
    assert "zendesk" in INSTALL_HINTS  # first-party, but a separate package
    loader = IntegrationLoader(hints={"acme-crm": "pip install acme-chatkit"})
    with pytest.raises(PluginNotFoundError) as caught:
        loader.load("acme-crm")
    assert caught.value.group == "chatkit.integrations"
    assert caught.value.name == "acme-crm"
    assert str(caught.value).endswith("install it with: pip install acme-chatkit")
    with pytest.raises(PluginNotFoundError, match="install the package that provides it"):
        integrations.load("nosuch")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example plugin, 'installed': its source and a dist-info with the entry point."""
    (tmp_path / "broken_plugin.py").write_text(
        textwrap.dedent(
            """
            from chatkit.integrations import Capabilities, Integration, ObjectSync

            class Broken(Integration):  # declares inbound, implements no pull
                name = "broken"
                capabilities = Capabilities(objects=(
                    ObjectSync(object="contact", remote_type="user", directions={"inbound"}),
                ))

                async def check(self): ...
                async def push(self, changes): ...
            """
        )
    )
    example = tmp_path / "chatkit_example_notes-0.1.0.dist-info"
    example.mkdir()
    (example / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: chatkit-example-notes\nVersion: 0.1.0\n"
    )
    # The entry point exactly as examples/plugin/pyproject.toml declares it.
    table = (
        (EXAMPLE / "pyproject.toml")
        .read_text()
        .split('[project.entry-points."chatkit.integrations"]\n')[1]
    )
    declared = table.split("\n\n")[0].replace('"', "")
    (example / "entry_points.txt").write_text(f"[chatkit.integrations]\n{declared}\n")
    other = tmp_path / "broken_plugin-1.0.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (other / "entry_points.txt").write_text(
        "[chatkit.integrations]\nbroken = broken_plugin:Broken\nweird = json:dumps\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setattr(integrations, "_cache", {})
    for key in ("CHATKIT_EXAMPLE_NOTES_FOLDER", "CHATKIT_EXAMPLE_NOTES_SIGNING_KEY"):
        monkeypatch.delenv(key, raising=False)
    yield tmp_path
    sys.modules.pop("broken_plugin", None)


def test_a_broken_plugin_fails_with_its_name(plugins: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"chatkit\.integrations:broken.*must implement pull"):
        integrations.load("broken")
    with pytest.raises(PluginLoadError, match="not an Integration subclass"):
        integrations.load("weird")


def test_a_fresh_loader_sees_what_is_installed(plugins: Path) -> None:
    loader = IntegrationLoader(hints={})
    installed = {item.name: item for item in loader.installed()}
    assert installed["example-notes"].package == "chatkit-example-notes"
    assert installed["example-notes"].version == "0.1.0"
    assert "broken" in loader.available()


async def test_the_example_plugin_pushes_to_a_real_folder(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setenv("CHATKIT_EXAMPLE_NOTES_FOLDER", str(folder))
    monkeypatch.setenv("CHATKIT_EXAMPLE_NOTES_SIGNING_KEY", SECRET)
    notes_class = integrations.load("example-notes")
    assert notes_class.name == "example-notes"

    conversation = OutboundChange(
        change_id="evt_1", object="conversation", local_id="conv_1", data={"subject": "Late"}
    )
    message = OutboundChange(
        change_id="evt_2",
        object="message",
        local_id="msg_1",
        parent_local_id="conv_1",
        data={"text": "Where is my order?"},
    )
    orphan = OutboundChange(
        change_id="evt_3", object="note", local_id="msg_2", parent_local_id="conv_9"
    )
    contact = OutboundChange(change_id="evt_4", object="contact", local_id="ct_1")
    async with notes_class.from_env() as notes:
        assert SECRET not in repr(notes)
        assert SECRET not in repr(notes.config)
        assert (await notes.check()).state is HealthState.OK
        results = await notes.push([conversation, message, orphan, contact])
        again = await notes.push([message])  # a retried change changes nothing

    by_id = {r.change_id: r for r in results}
    assert by_id["evt_1"].status is PushStatus.OK
    assert by_id["evt_1"].remote_id == "conv_1.json"
    assert by_id["evt_2"].status is PushStatus.OK
    assert by_id["evt_3"].status is PushStatus.RETRYABLE  # its conversation is not there yet
    assert by_id["evt_4"].status is PushStatus.PERMANENT
    assert again[0].status is PushStatus.OK
    written = json.loads((folder / "conv_1.json").read_text())
    assert written["conversation"] == {"subject": "Late"}
    assert written["entries"] == {"msg_1": {"kind": "message", "text": "Where is my order?"}}
    from chatkit_example_notes import verify

    assert verify(folder / "conv_1.json", SECRET)
    assert not verify(folder / "conv_1.json", "another-key")
    assert sorted(p.name for p in folder.iterdir()) == ["conv_1.json"]


def test_cli_lists_installed_integrations(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["integrations", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    notes = rows["example-notes"]
    assert "chatkit-example-notes 0.1.0" in notes
    assert "conversation→file(50)" in notes
    assert "no: example-notes: invalid configuration: folder: Field required" in notes
    assert "cannot load" in rows["broken"]

    config = tmp_path / "integrations.json"
    config.write_text(
        json.dumps({"example-notes": {"folder": str(tmp_path), "signing_key": SECRET}})
    )
    result = runner.invoke(
        app, ["integrations", "list", "--config", str(config)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    notes = next(line for line in result.output.splitlines() if "example-notes" in line)
    assert "yes" in notes
    assert SECRET not in result.output


def test_the_core_never_imports_the_first_party_integrations() -> None:
    """chatkit_integrations uses the public contract; chatkit never reaches into it."""
    import subprocess
    import sys

    code = (
        "import sys, chatkit, chatkit.cli, chatkit.sync, chatkit.testing, chatkit.integrations\n"
        "from chatkit.integrations import integrations\n"
        "names = [item.name for item in integrations.installed()]\n"
        "assert 'zendesk' in names, names\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('chatkit_integrations'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
