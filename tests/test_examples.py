"""Every script in examples/ runs and does what it says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from chatkit._optional import EXTRAS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _ci_examples() -> ModuleType:
    """``.ci/examples.py``, which reads what an example needs from its docstring."""
    spec = importlib.util.spec_from_file_location("ci_examples", ROOT / ".ci" / "examples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NEEDS = {path.name: _ci_examples().needs(path) for path in sorted(EXAMPLES.glob("*.py"))}


def test_every_example_names_real_extras_and_a_test_runs_it() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*example*.py"))
    assert NEEDS["bot_flow.py"] == ["yaml"]
    assert NEEDS["crm_sync.py"] == ["emulators", "zendesk"]
    assert NEEDS["dropbox_archive.py"] == ["emulators", "dropbox"]
    assert NEEDS["quickstart.py"] == []
    for name, needed in NEEDS.items():
        assert set(needed) <= set(extras), name
        assert f'"{name}"' in tests, f"no test runs examples/{name}"


@pytest.mark.parametrize("name", [name for name, needed in NEEDS.items() if needed])
def test_an_example_without_its_extra_exits_with_one_line_saying_what_to_install(
    name: str,
) -> None:
    blocked = sorted(module for module, extra in EXTRAS.items() if extra in NEEDS[name])
    assert blocked
    code = (
        "import runpy, sys\n"
        + "".join(f"sys.modules[{module!r}] = None\n" for module in blocked)
        + f"runpy.run_path({str(EXAMPLES / name)!r}, run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith(f"pip install 'chatkit[{','.join(NEEDS[name])}]'"), lines[0]


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


def test_dispatch_workers_example_shares_events_without_loss_or_doubles() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "dispatch_workers.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    shares = [int(line.split()[3]) for line in lines[:2]]
    assert sum(shares) == 202
    assert lines[-1] == "202 events, 0 missing, 0 handled twice"


def test_routing_day_example_serves_and_queues_every_customer() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "routing_day.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 13
    customers = int(lines[-2].split()[2])
    words = lines[-1].replace(",", "").split()
    served, queued = int(words[3]), int(words[5])
    assert served + queued == customers
    assert served > 0
    assert queued > 0


def test_rules_and_replies_example_answers_each_customer_to_the_point() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "rules_and_replies.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "  bot: Sorry your order 245-12784 is late — I'm checking its status now." in out
    assert "  bot: I'm really sorry about this." in out
    assert "Mia (/late-order): Hi Ada, order 245-12784 is with the carrier" in out
    assert "Mia (/gecikme): Merhaba Ece, 245-99001 numaralı" in out
    assert "Hi Sam" not in out  # no order script for a complaint
    assert "rule 'angry customer': notify Sam is upset" in out
    assert out.count("rule 'late order': tag +late-order") == 2
    assert "/late-order used 1 time(s)" in out


def test_crm_sync_example_goes_both_ways() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "crm_sync.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "pushed 3 records: ticket #1 'Order 245-12784'"
    assert lines[1] == "pulled 2 changes from Zendesk"
    assert lines[2] == "conversation status: resolved"
    assert lines[3:5] == ["  customer: Where is my order?", "  bot: It left our warehouse today."]
    assert lines[-1] == "linked 4, pending 0, dead letters 0"


def test_webhooks_example_verifies_retries_after_503_and_logs_every_delivery() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "webhooks.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    received = [line for line in lines if line.startswith("received ")]
    assert received == [
        "received conversation.created at position 2",
        "received message.created at position 3",
        "received message.created at position 4",
    ]
    log = [line.split() for line in lines[-3:]]
    assert [row[:2] for row in log] == [
        ["conversation.created", "delivered"],
        ["message.created", "delivered"],
        ["message.created", "delivered"],
    ]
    assert sorted(int(row[3]) for row in log) == [1, 1, 2]  # the 503 was retried once
    assert "HTTP 503" in done.stderr
    assert "Traceback" not in done.stderr


def test_dropbox_archive_example_archives_and_purges_what_no_hold_keeps() -> None:
    if importlib.util.find_spec("dropbox") is None:
        pytest.skip("needs chatkit[dropbox]")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "dropbox_archive.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "archived 4 files in 6 calls"  # a token, 4 uploads, 1 batch commit
    assert sorted(line.rsplit("/", 1)[-1] for line in lines[1:5]) == [
        "<held>.html",
        "<held>.json",
        "<purged>.html",
        "<purged>.json",
    ]
    assert all("/Billing/" in line for line in lines[1:5])
    assert lines[5] == "after the purge (1 change): 2 files"
    assert sorted(line.rsplit("/", 1)[-1] for line in lines[6:]) == ["<held>.html", "<held>.json"]
