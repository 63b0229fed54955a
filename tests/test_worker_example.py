"""examples/worker.py runs the background jobs once and prints their health."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_worker_example_runs_the_jobs_and_reports_health(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "worker.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "CHATKIT_URL": ""},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "snoozed conversation: snoozed"
    assert "snoozed conversation after the worker: open" in lines
    assert any(line.startswith("wake_snoozed") and " ok " in line for line in lines)
