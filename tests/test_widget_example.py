"""examples/widget_site.py runs and does what it says (two real uvicorn servers)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "widget_site.py"


def test_widget_site_example() -> None:
    """Runs "widget_site.py": the page carries the snippet, only its origin may frame the chat."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "the page carries the snippet: True"
    assert lines[1] == "loader.js: text/javascript; charset=utf-8 public, max-age=300"
    assert re.fullmatch(r"the chat may be framed by: http://127\.0\.0\.1:\d+", lines[2])
    assert len(lines) == 3
