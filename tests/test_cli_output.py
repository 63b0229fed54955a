"""The chatkit command reads as a command line: help, one-line errors, whole tables, real progress.

Most tests run the installed ``chatkit`` script as a subprocess, with stdout a
pipe (as in a script or CI) or a pseudo-terminal (as a person sees it).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chatkit import Author, ChatKit
from chatkit.cli import app
from chatkit.integrations import integrations

from .test_integrations import EXAMPLE, SECRET, plugins  # noqa: F401 - the installed example plugin

CHATKIT = Path(sys.executable).parent / "chatkit"
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B])")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERMINAL_WIDTH", "TTY_COMPATIBLE")
        and not k.startswith("CHATKIT_")
    }
    env.update(extra)
    return env


def piped(args: Sequence[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``chatkit args`` with stdout and stderr pipes."""
    return subprocess.run(
        [str(CHATKIT), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(**env),
        timeout=120,
        check=False,
    )


def in_terminal(args: Sequence[str], *, columns: int = 100, **env: str) -> tuple[int, str]:
    """Run ``chatkit args`` on a pseudo-terminal ``columns`` wide: exit status and text seen."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [str(CHATKIT), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(TERM="xterm-256color", **env),
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
    code = process.wait(timeout=30)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "\n")


def command_paths() -> Iterator[tuple[list[str], Any]]:
    """Every command and group of the app, as its words after ``chatkit``."""

    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    yield from walk([], typer.main.get_command(app))


def _check_help(path: list[str], command: Any, out: str) -> None:
    words = " ".join(["chatkit", *path])
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    assert usage.split("Usage:")[1].strip().startswith(words), out
    # After the command's words: [OPTIONS], COMMAND [ARGS]..., NAME, [NAME], GROUP...
    for token in usage.split(words, 1)[1].split():
        assert token.strip("[].").isupper(), (path, usage)
    for bad in ("<bool>", "<str>", "<int", "<float", "<path>", "{", "}", "no emulator named"):
        assert bad not in out, (path, bad, out)
    rows = {line.split()[1]: line.split()[2:] for line in out.splitlines() if "│ --" in line}
    for param in command.params:
        for opt in param.opts:
            if not opt.startswith("--"):
                continue
            after = rows[opt]
            if param.is_flag:  # a flag is shown bare: no type, no value
                assert not after or not after[0].isupper(), (opt, after)
            else:  # a value is shown as --url URL
                assert after[0].isupper(), (opt, after)
    assert "--help" in rows
    assert not rows["--help"][0].isupper()


def test_help_works_on_every_command_and_reads_as_a_command_line() -> None:
    runner = CliRunner()
    paths = list(command_paths())
    assert len(paths) >= 14  # 7 commands, 2 groups, 5 subcommands, the root
    for path, command in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        _check_help(path, command, result.stdout)
        assert result.stderr == ""


def test_help_of_the_real_command_for_every_command_piped() -> None:
    paths = list(command_paths())
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda item: piped([*item[0], "--help"]), paths))
    for (path, command), done in zip(paths, runs, strict=True):
        assert done.returncode == 0, (path, done.stdout, done.stderr)
        assert done.stderr == ""
        _check_help(path, command, done.stdout)


def test_emulate_help_is_chatkits_and_after_the_name_the_emulators() -> None:
    own = piped(["emulate", "--help"])
    assert own.returncode == 0, own.stderr
    assert "Usage: chatkit emulate [OPTIONS] NAME [EMULATOR OPTIONS]..." in own.stdout
    assert 'pip install "chatkit[emulators]"' in " ".join(own.stdout.split())
    emulator = piped(["emulate", "zendesk", "--help"])
    assert emulator.returncode == 0, emulator.stderr
    assert "--port" in emulator.stdout
    assert "Emulate the Zendesk Support API locally" in emulator.stdout


@pytest.mark.parametrize("columns", ["", "30"])
def test_an_error_is_one_line_on_stderr_whatever_the_width(columns: str) -> None:
    url = "nosuch[yaml]://" + "a-long-store-name-" * 8
    env = {"COLUMNS": columns} if columns else {}
    done = piped(["migrate", "--url", url], **env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: can't load plugin chatkit.stores:nosuch[yaml]")  # kept
    assert lines[0].endswith("(known: memory, postgres, postgresql, sqlite)")


def test_a_usage_error_is_one_line_on_stderr_with_status_2() -> None:
    for args, expected in (
        (["sync", "run"], "error: Missing argument 'NAME' (see 'chatkit sync run --help')"),
        (["purge", "--bogus"], "error: No such option: --bogus (see 'chatkit purge --help')"),
        (["events", "--limit", "0"], "error: Invalid value for '--limit'"),
        (["nosuch"], "error: No such command 'nosuch'"),
    ):
        done = piped(args, COLUMNS="40")
        assert done.returncode == 2, (args, done.stderr)
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith(expected), done.stderr


def test_errors_through_the_test_runner_are_one_line_on_stderr(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["emulate", "nowhere"], env={"COLUMNS": "20"})
    assert missing.exit_code == 1
    assert missing.stdout == ""
    from importlib.metadata import entry_points

    installed = sorted(ep.name for ep in entry_points(group="chatkit.emulators"))
    assert {"hubspot", "salesforce", "zendesk"} <= set(installed)
    assert missing.stderr.splitlines() == [
        f"error: no emulator named 'nowhere' (installed: {', '.join(installed)})"
    ]
    url = f"sqlite:///{tmp_path / 'p.db'}"
    refused = runner.invoke(app, ["purge", "--url", url, "--default-days", "1"])
    assert refused.exit_code == 1
    assert len(refused.stderr.splitlines()) == 1
    assert "allow_shorter" in refused.stderr


def test_integrations_list_is_not_cut_when_piped() -> None:
    done = piped(["integrations", "list"])
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    rows = {
        cells[0]: cells
        for line in done.stdout.splitlines()
        if (cells := [c.strip() for c in line.split("│")[1:-1]])
    }
    for name in ("zendesk", "salesforce", "hubspot"):
        summary = integrations.load(name).capabilities.summary()
        assert rows[name][2] == summary  # whole, on the row's one line
        assert rows[name][3].startswith(f"no: {name}: invalid configuration:")


def test_integrations_list_wraps_on_a_narrow_terminal() -> None:
    code, seen = in_terminal(["integrations", "list"], columns=70)
    assert code == 0, seen
    assert "…" not in seen
    assert max(len(line) for line in seen.splitlines()) <= 70
    words = "".join(seen.split()).replace("│", "")
    assert "webhooks,700/60s" in words  # the end of zendesk's capabilities is there


def _notes_store(tmp_path: Path, conversations: int) -> tuple[str, dict[str, str]]:
    folder = tmp_path / "notes"
    folder.mkdir()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with ChatKit(url) as kit:
        ada = kit.contacts.create(name="Ada")
        for n in range(conversations):
            conversation = kit.conversations.create(contact_id=ada.id)
            kit.messages.send(conversation.id, f"hello {n}", author=Author.customer(ada.id))
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(EXAMPLE)]),
        "CHATKIT_EXAMPLE_NOTES_FOLDER": str(folder),
        "CHATKIT_EXAMPLE_NOTES_SIGNING_KEY": SECRET,
    }
    return url, env


def test_sync_run_shows_the_real_total_and_nothing_when_nothing_is_due(
    plugins: Path,  # noqa: F811
) -> None:
    url, env = _notes_store(plugins, conversations=3)
    code, seen = in_terminal(["sync", "run", "example-notes", "--url", url], **env)
    assert code == 0, seen
    assert "pushing" in seen
    assert re.search(r"pushing\s.*\b6/6\b", seen), seen  # 3 conversations, 3 messages
    assert not re.search(r"pushing\s.*\b\d+/([0-5]|[7-9]|\d\d)\b", seen), seen
    assert "pulling" not in seen  # the example plugin pulls nothing

    again_code, again = in_terminal(["sync", "run", "example-notes", "--url", url], **env)
    assert again_code == 0, again
    assert "pushing" not in again
    assert "pulling" not in again
    assert "0/" not in again

    piped_run = piped(["sync", "run", "example-notes", "--url", url], **env)
    assert piped_run.returncode == 0, piped_run.stderr
    assert "pushing" not in piped_run.stdout
    assert piped_run.stdout.lstrip().startswith("sync example-notes")


def _aged_store(tmp_path: Path, conversations: int) -> str:
    """A store whose conversations ended long ago (past any keep period)."""
    path = tmp_path / "old.db"
    with ChatKit(f"sqlite:///{path}") as kit:
        ada = kit.contacts.create(name="Ada")
        for n in range(conversations):
            conversation = kit.conversations.create(contact_id=ada.id)
            kit.messages.send(conversation.id, f"hello {n}", author=Author.customer(ada.id))
    raw = sqlite3.connect(path)
    old = "2020-01-01T00:00:00Z"
    raw.execute(
        "UPDATE conversations SET data = json_set(data, '$.updated_at', ?, '$.last_message_at', ?)",
        (old, old),
    )
    raw.commit()
    raw.close()
    return f"sqlite:///{path}"


def test_purge_shows_the_real_total_and_nothing_when_nothing_is_due(tmp_path: Path) -> None:
    url = _aged_store(tmp_path, conversations=5)
    code, seen = in_terminal(["purge", "--url", url, "--dry-run", "--batch-size", "2"])
    assert code == 0, seen
    assert re.search(r"checking\s.*\b5/5\b", seen), seen
    assert "/?" not in seen
    assert "0/" not in seen
    assert "would purge: 5 conversations" in seen

    piped_purge = piped(["purge", "--url", url])
    assert piped_purge.returncode == 0, piped_purge.stderr
    assert "purging" not in piped_purge.stdout
    assert "purged: 5 conversations" in piped_purge.stdout

    code, seen = in_terminal(["purge", "--url", url, "--dry-run"])
    assert code == 0, seen
    assert "checking" not in seen
    assert "/?" not in seen
    assert "would purge: 0 conversations" in seen


def test_the_cli_page_documents_every_command_and_option() -> None:
    page = DOCS.read_text()
    for path, command in command_paths():
        if not path:
            continue
        assert f"chatkit {' '.join(path)}" in page, path
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert f"`{opt}" in page or f" {opt}" in page, (path, opt)


def _sessions(page: str) -> Iterator[tuple[str, str]]:
    """The page's ``console`` blocks as (command after ``$ ``, the output shown)."""
    for block in re.findall(r"```console\n(.*?)```", page, re.DOTALL):
        command, shown = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    yield command, "\n".join(shown).strip("\n")
                command, shown = line[2:], []
            else:
                shown.append(line)
        if command is not None:
            yield command, "\n".join(shown).strip("\n")


def test_the_cli_page_shows_the_real_help_and_integrations_list() -> None:
    page = DOCS.read_text()
    checked = []
    for command, shown in _sessions(page):
        words = command.split()
        if words[0] != "chatkit" or not (
            words[-1] == "--help" or words[1:] == ["integrations", "list"]
        ):
            continue
        done = piped(words[1:], COLUMNS="80")
        assert done.returncode == 0, done.stderr
        real = "\n".join(line.rstrip() for line in done.stdout.splitlines()).strip("\n")
        assert shown == real, f"docs/cli.md shows an old '{command}'; the real output:\n{real}"
        checked.append(command)
    assert "chatkit --help" in checked
    assert "chatkit integrations list" in checked
    assert len(checked) >= 5


def test_commands_registered_with_plain_typer_read_the_same() -> None:
    """A command another module adds with plain typer (as ``chatkit worker`` may) is adopted."""
    from chatkit._cli.core import CliGroup

    other = typer.Typer(cls=CliGroup, no_args_is_help=True)

    @other.command()
    def worker(
        status: bool = typer.Option(False, "--status", help="Print the health line."),
        every: float = typer.Option(5.0, help="Seconds between rounds."),
    ) -> None:
        """Run the background jobs."""

    jobs = typer.Typer()

    @jobs.command("go")
    def go(name: str) -> None:
        """Run one job."""

    other.add_typer(jobs, name="jobs")
    runner = CliRunner()
    for path in ([], ["worker"], ["jobs"], ["jobs", "go"]):
        result = runner.invoke(other, [*path, "--help"], prog_name="chatkit")
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output
        assert "<float>" not in result.output
        assert "{" not in result.output
    worker_help = runner.invoke(other, ["worker", "--help"], prog_name="chatkit").output
    assert re.search(r"--status\s+Print the health line", worker_help), worker_help
    assert re.search(r"--every\s+EVERY\s+Seconds between rounds", worker_help), worker_help
    go_help = runner.invoke(other, ["jobs", "go", "--help"], prog_name="chatkit").output
    assert "Usage: chatkit jobs go [OPTIONS] NAME" in go_help
    missing = runner.invoke(other, ["jobs", "go"], prog_name="chatkit")
    assert missing.exit_code == 2
    assert missing.stderr == "error: Missing argument 'NAME' (see 'chatkit jobs go --help')\n"
