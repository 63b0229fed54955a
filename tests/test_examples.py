"""Every script in examples/ runs and does what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_example() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == " 1 customer: Where is my order 245-12784?"
    assert "bot: Thanks! An agent will be with you shortly." in lines[1]
    assert lines[-1] == "ticket: Follow up on customs open"
