"""Every code block in docs/ and README.md runs as shown.

Pages are found automatically (every ``.md`` under ``docs/`` and the README),
so a page added later is covered without touching this file.

- **Python blocks** of one page run in order, in one fresh namespace, in a
  temporary working directory, so a page's blocks may build on each other.
  They may use top-level ``await`` (as in ``python -m asyncio``): on a page
  that does, every block runs on the page's running event loop, as in that
  REPL, except a block that starts its own loop (``asyncio.run(...)``), which
  is a script and runs as one.
- **Services.** Blocks that name the documented local PostgreSQL
  (``postgresql://postgres@127.0.0.1:5432/test``) or Redis
  (``redis://127.0.0.1:6379/0``) run against the servers of
  ``tests/services.py`` (``CHATKIT_POSTGRES_URL`` / ``CHATKIT_REDIS_URL``,
  substituted only where they differ), and a ``?schema=NAME`` is replaced by a
  fresh schema, dropped afterwards, so runs never share data. Without the
  servers such a page is skipped (failed under ``CHATKIT_REQUIRE_SERVICES=1``).
  Blocks that name the documented local SMTP server (``127.0.0.1`` port
  ``1025``, plain SMTP) get a real one (aiosmtpd) on a free port.
- **Markers**, HTML comments on the line before a block (invisible in the
  rendered page):

  - ``<!-- docs-test: skip REASON -->``: the block is not run; the test
    reports the reason. Keep these rare (a vendor account, a deliberately
    partial signature).
  - ``<!-- docs-test: file PATH -->``: the block's text is written to PATH
    (relative to the page's working directory) before the page runs, for
    pages whose code loads a file the page shows.

- **Shell blocks**: every ``chatkit ...`` command must parse with the real
  CLI (the command exists, its options and arguments are accepted, unless
  a console block shows it failing: output starting with ``error``) and its
  ``--help`` must work; the command itself is not run. In ``console`` blocks
  only ``$ `` lines are commands. **JSON, TOML and YAML blocks** must parse.
"""

from __future__ import annotations

import ast
import asyncio
import faulthandler
import functools
import inspect
import json
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .services import POSTGRES_URL, REDIS_URL, drop_schema, fresh_schema, postgres_or_skip

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]

DOC_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DOC_REDIS = "redis://127.0.0.1:6379/0"

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<verb>\w+)\s*(?P<arg>.*?)\s*-->\s*$")
PYTHON = {"python", "py", "python3"}
SHELL = {"bash", "sh", "shell", "console"}
BLOCK_TIMEOUT = 120.0


@dataclass
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: tuple[str, str] | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)


def parse_page(path: Path) -> Page:
    """The fenced code blocks of a Markdown page, with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page(path)
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        info = match["info"].strip()
        lang = info.split()[0].lstrip(".").lower() if info else ""
        if lang.startswith("{"):  # attribute-list fences: ``` { .python title="x" }
            lang = info.strip("{} ").split()[0].lstrip(".").lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(fence[0] * len(fence)) and set(closing) == {fence[0]}:
                break
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        else:
            raise AssertionError(f"{path.relative_to(ROOT)}:{start + 1}: unclosed code fence")
        i += 1
        marker = None
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (found := MARKER.match(lines[j])):
            marker = (found["verb"], found["arg"])
        code = textwrap.dedent("\n".join(body)) + "\n"
        page.blocks.append(Block(path, start + 1, lang, code, marker))
    return page


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_pages_are_found() -> None:
    """Discovery sees the pages (a broken glob would make every test vacuous)."""
    names = {page_id(p) for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/quickstart.md"} <= names
    assert sum(b.lang in PYTHON for p in PAGES for b in parse_page(p).blocks) > 50


def test_markers_are_known() -> None:
    """A misspelt marker would silently run (or skip) the wrong thing."""
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if "docs-test" not in line:
                continue
            found = MARKER.match(line)
            assert found, f"{page_id(path)}:{number}: malformed docs-test marker"
            assert found["verb"] in {"skip", "file"}, f"{page_id(path)}:{number}: {line}"
            assert found["arg"], f"{page_id(path)}:{number}: a {found['verb']} marker needs text"


# -- Python ------------------------------------------------------------------


DOC_SMTP = re.compile(r'host="127\.0\.0\.1",\s*port=1025\b')


class _Smtp:
    """A local SMTP server (aiosmtpd), started when a page names the documented one."""

    def __init__(self) -> None:
        self.controller: object | None = None
        self.port = 0
        self.received: list[bytes] = []

    def address(self) -> str:
        if self.controller is None:
            aiosmtpd = pytest.importorskip("aiosmtpd.controller")
            received = self.received

            class Handler:
                async def handle_DATA(
                    self, server: object, session: object, envelope: object
                ) -> str:
                    received.append(envelope.content)  # type: ignore[attr-defined]
                    return "250 OK"

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=self.port)
            controller.start()
            self.controller = controller
        return f'host="127.0.0.1", port={self.port}'

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()  # type: ignore[attr-defined]


def _services(code: str, schemas: list[str], smtp: _Smtp) -> str:
    """Point the documented local services at the test servers, fresh schemas."""
    if DOC_SMTP.search(code):
        code = DOC_SMTP.sub(lambda _: smtp.address(), code)
    if DOC_POSTGRES in code:
        postgres_or_skip()
        code = code.replace(DOC_POSTGRES, POSTGRES_URL)
    if DOC_REDIS in code:
        _redis_or_skip()
        code = code.replace(DOC_REDIS, REDIS_URL)

    def fresh(match: re.Match[str]) -> str:
        schemas.append(fresh_schema())
        return f"{match[1]}schema={schemas[-1]}"

    if POSTGRES_URL in code:
        code = re.sub(r"([?&])schema=\w+", fresh, code)
    return code


def _redis_or_skip() -> None:
    from .services import _missing

    try:
        import redis
    except ImportError:
        _missing("redis is not installed (pip install 'chatkit[redis]')")
        return
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _missing(f"Redis is not reachable at {REDIS_URL}: {exc}")


def _python_pages() -> Iterator[object]:
    for path in PAGES:
        page = parse_page(path)
        if any(b.lang in PYTHON for b in page.blocks):
            yield pytest.param(page, id=page_id(path))


def _compile(block: Block, code: str) -> types.CodeType:
    return compile(
        code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )


def _uses_top_level_await(page: Page) -> bool:
    return any(
        _compile(b, b.code).co_flags & inspect.CO_COROUTINE
        for b in page.blocks
        if b.lang in PYTHON and not b.marker
    )


def _is_script(code: str) -> bool:
    """Whether a block starts its own event loop (``asyncio.run(...)``, ``anyio.run(...)``):
    such a block is a script, run as one, outside the page's loop."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"asyncio", "anyio"}
        for node in ast.walk(ast.parse(code))
    )


async def _exec(compiled: types.CodeType, namespace: dict[str, object]) -> None:
    exec(compiled, namespace)


def _run_block(
    block: Block,
    code: str,
    namespace: dict[str, object],
    loop: asyncio.AbstractEventLoop,
    repl: bool,
) -> None:
    """Run one block; on a page written for ``python -m asyncio`` (``repl``),
    every block runs on the page's running loop, as in that REPL."""
    compiled = _compile(block, code)
    faulthandler.dump_traceback_later(BLOCK_TIMEOUT + 30, exit=True, file=sys.__stderr__)
    try:
        if compiled.co_flags & inspect.CO_COROUTINE:
            coroutine = eval(compiled, namespace)
            loop.run_until_complete(asyncio.wait_for(coroutine, BLOCK_TIMEOUT))
        elif repl and not _is_script(code):
            loop.run_until_complete(asyncio.wait_for(_exec(compiled, namespace), BLOCK_TIMEOUT))
        else:
            exec(compiled, namespace)
    finally:
        faulthandler.cancel_dump_traceback_later()


async def _close_kits(namespace: dict[str, object]) -> None:
    """Close kits a page left open (a page may end with its kit in hand)."""
    from chatkit import AsyncChatKit, ChatKit

    for value in list(namespace.values()):
        if isinstance(value, AsyncChatKit):
            await value.close()
        elif isinstance(value, ChatKit):
            await asyncio.to_thread(value.close)


@pytest.mark.parametrize("page", list(_python_pages()))
def test_python_blocks_run(page: Page, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A page's Python blocks run in order in one namespace, as a reader would."""
    for block in page.blocks:
        if block.marker and block.marker[0] == "file":
            target = tmp_path / block.marker[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "__main__"}
    schemas: list[str] = []
    smtp = _Smtp()
    ran = 0
    loop = asyncio.new_event_loop()
    repl = _uses_top_level_await(page)
    try:
        for block in page.blocks:
            if block.lang not in PYTHON or (block.marker and block.marker[0] == "file"):
                continue
            if block.marker and block.marker[0] == "skip":
                continue  # reported by test_marked_skips
            ran += 1
            code = _services(block.code, schemas, smtp)
            try:
                _run_block(block, code, namespace, loop, repl)
            except Exception as exc:
                output = capsys.readouterr()
                raise AssertionError(
                    f"{block.where} failed: {type(exc).__name__}: {exc}\n"
                    f"--- block ---\n{block.code}--- output ---\n{output.out}{output.err}"
                ) from exc
    finally:
        try:
            loop.run_until_complete(_close_kits(namespace))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            smtp.stop()
            for schema in schemas:
                drop_schema(POSTGRES_URL, schema)
    if smtp.controller is not None:
        assert smtp.received, f"{page_id(page.path)} names the local SMTP server but sent no mail"
    if not ran:
        pytest.skip(f"every Python block of {page_id(page.path)} is marked skip")


def _marked_skips() -> Iterator[object]:
    for path in PAGES:
        for block in parse_page(path).blocks:
            if block.marker and block.marker[0] == "skip":
                yield pytest.param(block, id=f"{page_id(path)}:{block.line}")


@pytest.mark.parametrize("block", list(_marked_skips()))
def test_marked_skips(block: Block) -> None:
    """Each block marked skip is reported with its reason (``pytest -rs``)."""
    assert block.marker is not None
    pytest.skip(f"{block.where}: {block.marker[1]}")


# -- shell, JSON, TOML, YAML -------------------------------------------------


def _chatkit_commands(code: str, console: bool = False) -> Iterator[tuple[list[str], bool]]:
    """The ``chatkit`` commands of a shell block: their arguments, and whether
    the block shows them failing (a console block whose output after the
    command starts with ``error:``). In a console block only ``$ `` lines are
    commands; the rest is output."""
    lines = code.replace("\\\n", " ").splitlines()
    for number, raw in enumerate(lines):
        line = raw.strip()
        if console:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        elif line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        following = lines[number + 1].strip().lower() if number + 1 < len(lines) else ""
        fails = console and following.startswith("error")
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value prefixes
                words = words[1:]
            if words and words[0] == "chatkit":
                yield words[1:], fails


def _other_blocks() -> Iterator[object]:
    for path in PAGES:
        for block in parse_page(path).blocks:
            if block.marker and block.marker[0] == "skip":
                continue
            shell = block.lang in SHELL and any(
                _chatkit_commands(block.code, block.lang == "console")
            )
            if shell or block.lang in {"json", "toml", "yaml", "yml"}:
                yield pytest.param(block, id=f"{page_id(path)}:{block.line}")


@functools.cache
def _help_works(command: tuple[str, ...]) -> bool:
    """``chatkit COMMAND --help`` exits 0 (run once per command)."""
    helped = subprocess.run(
        [sys.executable, "-c", "from chatkit.cli import main; main()", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if helped.returncode != 0:
        print(helped.stdout, helped.stderr)
    return helped.returncode == 0


@pytest.mark.parametrize("block", list(_other_blocks()))
def test_other_blocks_parse(block: Block) -> None:
    """Shell ``chatkit`` commands exist and accept their arguments; data blocks parse."""
    if block.lang in SHELL:
        import typer

        from chatkit.cli import app

        # typer may carry its own copy of click: use the package of the classes it builds.
        root = typer.main.get_command(app)
        base = next(c for c in type(root).__mro__ if c.__name__ == "Command")
        clicks = sys.modules[base.__module__.rsplit(".", 1)[0]]
        for args, fails in _chatkit_commands(block.code, block.lang == "console"):
            command = root
            rest = list(args)
            names = ["chatkit"]
            while hasattr(command, "get_command") and rest and not rest[0].startswith("-"):
                sub = command.get_command(clicks.Context(command), rest[0])
                assert sub is not None, f"{block.where}: no command {' '.join([*names, rest[0]])}"
                names.append(rest.pop(0))
                command = sub
            try:
                command.make_context(" ".join(names), rest)
            except clicks.exceptions.UsageError as exc:
                if not fails:  # a usage error the page does not show
                    raise AssertionError(f"{block.where}: chatkit {' '.join(args)}: {exc}") from exc
            except (SystemExit, Exception) as exc:
                if type(exc).__name__ != "Exit" and not isinstance(exc, SystemExit):
                    raise
                # --help and --version end parsing early, successfully
            assert _help_works(tuple(names[1:])), f"{block.where}: {' '.join(names)} --help failed"
    elif block.lang == "json":
        json.loads(block.code)
    elif block.lang == "toml":
        tomllib.loads(block.code)
    else:
        yaml = pytest.importorskip("yaml")
        yaml.safe_load(block.code)


def test_events_page_lists_every_event_type() -> None:
    """The events page's table names every event type the code defines."""
    from chatkit import events

    text = (ROOT / "docs" / "concepts" / "events.md").read_text(encoding="utf-8")
    defined = {
        cls.model_fields["type"].default
        for name in events.__all__
        if isinstance(cls := getattr(events, name), type)
        and "type" in getattr(cls, "model_fields", {})
    }
    assert len(defined) > 40
    missing = sorted(t for t in defined if f"`{t}`" not in text)
    assert not missing, f"docs/concepts/events.md does not list {missing}"
