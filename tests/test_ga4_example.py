"""examples/ga4_events.py runs and sends what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("fastapi")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_ga4_example_sends_the_chat_events_on_the_visitor() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "ga4_events.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "check: ok"
    assert lines[1] == "sent 4 events in 1 request"
    names = [line.split()[0] for line in lines[2:]]
    assert names == ["chat_started", "chat_handover", "chat_first_reply", "chat_resolved"]
    assert all("client 1234567890.1700000000" in line for line in lines[2:])
