"""The late-order bot example runs and shows the conversation and the handoff summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bot_flow.py"


def test_bot_flow_example_collects_answers_and_hands_over_with_a_summary() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in (
        "  bot: Sorry about the wait! What is your order number? It looks like 245-12784.",
        "  customer: no idea",
        "  bot: I could not find an order number in that. It looks like 245-12784.",
        "  bot: My order is late / Most late orders arrive within two days",
        "  bot: Did that answer your question?",
        "  bot: I'm connecting you with a person now.",
        "Bot: handed_over; queued for team orders, priority high, waiting: True",
        "  Bot handoff: the customer asked for a person ('agent')",
        "  Customer wants: Where is my order? It is two weeks late!",
        "  Intent: order_status",
        "  Mood: negative",
        "  Collected: order_number = 245-12784",
        "  Articles shown: 'My order is late' (kb_",
        "  Flow: late-order (step answer); routed to team orders, topic delivery",
    ):
        assert line in out, f"{line!r} not in:\n{out}"
    assert "did not help)" in out
