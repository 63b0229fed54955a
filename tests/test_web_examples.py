"""examples/fastapi_live_chat.py runs and does what it says (a real uvicorn server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_live_chat.py"


def test_fastapi_live_chat_example() -> None:
    """Runs "fastapi_live_chat.py": an identified widget session, a message, the agent's answer."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "session for ada@example.com: identified=True",
        "  customer: Where is my order?",
        "  agent: It ships today!",
        "request id of the last call: req_...",
    ]
