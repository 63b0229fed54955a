"""`chatkit sync run|status|retry|resume` and `chatkit emulate`, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit import Author, ChatKit
from chatkit.cli import app

from .test_integrations import SECRET, plugins  # noqa: F401 - the installed example plugin

WIDE = {"COLUMNS": "250"}


def test_sync_run_pushes_and_status_shows_it(
    plugins: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    monkeypatch.setenv("CHATKIT_EXAMPLE_NOTES_FOLDER", str(folder))
    monkeypatch.setenv("CHATKIT_EXAMPLE_NOTES_SIGNING_KEY", SECRET)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with ChatKit(url) as kit:
        ada = kit.contacts.create(name="Ada")
        ids = []
        for n in range(3):
            conversation = kit.conversations.create(contact_id=ada.id)
            kit.messages.send(conversation.id, f"hello {n}", author=Author.customer(ada.id))
            ids.append(conversation.id)
    runner = CliRunner()

    result = runner.invoke(app, ["sync", "run", "example-notes", "--url", url], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "pushing" not in result.output  # progress bars are for terminals only
    row = next(line for line in result.output.splitlines() if line.count("│") >= 7)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:4] == ["6", "0", "0", "0"]  # 3 conversations and 3 messages pushed
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{i}.json" for i in ids)
    entries = json.loads((folder / f"{ids[0]}.json").read_text())["entries"]
    assert [entry["text"] for entry in entries.values()] == ["hello 0"]

    again = runner.invoke(app, ["sync", "run", "example-notes", "--url", url], env=WIDE)
    assert again.exit_code == 0, again.output

    status = runner.invoke(app, ["sync", "status", "--url", url, "--dead"], env=WIDE)
    assert status.exit_code == 0, status.output
    line = next(line for line in status.output.splitlines() if "example-notes" in line)
    cells = [cell.strip() for cell in line.split("│")[1:-1]]
    assert cells[1:7] == ["running", "6", "0", "0", "0", "6"]
    assert "no dead letters" in status.output

    retry = runner.invoke(app, ["sync", "retry", "example-notes", "--url", url])
    assert retry.exit_code == 0, retry.output
    assert "queued 0 dead letters" in retry.output
    missing = runner.invoke(app, ["sync", "retry", "example-notes", "conv_x", "--url", url])
    assert missing.exit_code == 1
    assert "conv_x" in missing.output
    resume = runner.invoke(app, ["sync", "resume", "example-notes", "--url", url])
    assert "example-notes was not parked" in resume.output


def test_sync_run_names_a_missing_configuration(
    plugins: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(app, ["sync", "run", "example-notes", "--url", url])
    assert result.exit_code == 1
    assert "folder: Field required" in result.output


def test_sync_status_of_a_fresh_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(app, ["sync", "status", "--url", url])
    assert result.exit_code == 0, result.output
    assert "no integration has synced with this store yet" in result.output


def test_emulate_names_the_installed_emulators() -> None:
    result = CliRunner().invoke(app, ["emulate", "nowhere"])
    assert result.exit_code == 1
    assert "no emulator named 'nowhere'" in result.output
    assert "zendesk" in result.output


def test_emulate_passes_options_to_the_emulator() -> None:
    result = CliRunner().invoke(app, ["emulate", "zendesk", "--help"])
    assert "--port" in result.output
    assert "Emulate the Zendesk Support API locally" in result.output
