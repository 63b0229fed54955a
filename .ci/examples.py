"""Run every script in examples/ as a user would, and check it keeps its word.

An example that needs an extra says so in the first line of its docstring
("... Needs chatkit[yaml]."). With ``--plain`` (a virtualenv with
``pip install .`` and no extras), examples that need nothing must exit 0 and
the others must exit non-zero with one line on stderr, the install hint, and
no traceback. Without ``--plain`` (the dev virtualenv, every extra installed),
each example's extras must be installed and every example must exit 0.

    python .ci/examples.py [--plain]
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS = re.compile(r"Needs chatkit\[([a-z0-9_,-]+)\]")


def needs(path: Path) -> list[str]:
    """The extras an example's first docstring line names, in order."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    found = NEEDS.search(docstring.splitlines()[0] if docstring else "")
    return found.group(1).split(",") if found else []


def _installed(extra: str) -> list[str]:
    """The requirements of ``chatkit[extra]`` that are not installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement

    absent = []
    for line in metadata.requires("chatkit") or []:
        requirement = Requirement(line)
        if requirement.marker is None or not requirement.marker.evaluate({"extra": extra}):
            continue
        if requirement.name == "chatkit":
            absent.extend(a for inner in requirement.extras for a in _installed(inner))
            continue
        try:
            metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            absent.append(requirement.name)
    return absent


def main(plain: bool) -> int:
    failures = []
    for path in sorted(EXAMPLES.glob("*.py")):
        extras = needs(path)
        if not plain:
            absent = [a for extra in extras for a in _installed(extra)]
            if absent:
                failures.append(f"{path.name}: documented extras not installed: {absent}")
                continue
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=300, check=False
        )
        took = time.monotonic() - started
        if plain and extras:
            lines = done.stderr.strip().splitlines()
            wanted = f"pip install 'chatkit[{','.join(extras)}]'"
            if done.returncode == 0 or len(lines) != 1 or wanted not in lines[0]:
                failures.append(
                    f"{path.name}: wanted exit != 0 and one line with {wanted!r}, got exit "
                    f"{done.returncode}, stderr:\n{done.stderr}"
                )
                continue
            print(f"  {path.name}: needs chatkit[{','.join(extras)}]: {lines[0]}")
        elif done.returncode != 0:
            failures.append(f"{path.name}: exit {done.returncode}\n{done.stderr}")
            continue
        else:
            print(f"  {path.name}: ok ({took:.1f} s)")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main("--plain" in sys.argv[1:]))
