"""examples/morning_report.py runs and writes its charts and HTML report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "morning_report.py"


def test_morning_report_example(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    count = int(lines[0].split()[4])
    assert count > 100
    assert lines[1].startswith(f"week: {count} conversations")
    teams = [line.split(":")[0].strip() for line in lines[2:4]]
    assert teams == ["billing", "orders"]
    assert sum(int(line.split()[1]) for line in lines[2:4]) == count
    assert "late + order" in done.stdout
    assert (tmp_path / "morning-report.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (tmp_path / "morning-report.svg").read_bytes()
    html = (tmp_path / "morning-report.html").read_text()
    assert html.count("<svg") == 5
    assert "billing" in html
