"""examples/twilio_sms.py run as a user would: the emulator plays Twilio and the customer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("twilio")
pytest.importorskip("uvicorn")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "twilio_sms.py"


def test_twilio_example_answers_delivers_and_keeps_one_contact(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        'webhook answered 200: <?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    )
    assert re.fullmatch(r"reply delivered, Twilio id SM[0-9a-f]{32}", lines[1]), lines[1]
    assert lines[2:5] == [
        "  1. [sms] customer: Hi! Where is order 245-12784?",
        "  2. [sms] agent: It left our warehouse today 🚚",
        "  3. [whatsapp] customer: Thanks! 🙏",
    ]
    assert lines[5] == "contacts: 1, conversations: 1"
    assert EXAMPLE.name == "twilio_sms.py"
