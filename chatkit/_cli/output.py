"""What the ``chatkit`` command prints: results on stdout, one-line errors on stderr.

Tables are never cut: on a terminal long cells wrap inside their column, and
when stdout is a pipe or a file each row is printed at its full width. Progress
bars appear only on a terminal and only once there is something to count, with
the real total (or none, when it is not known).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ..errors import ChatKitError
from ..redact import mask_text

__all__ = ["Bars", "console", "errors", "fail", "one_line", "prepare", "print_table", "run"]

console = Console(highlight=False)
"""Results: stdout."""

errors = Console(stderr=True, highlight=False, soft_wrap=True)
"""Errors and interruptions: stderr, never wrapped."""

_UNBOUNDED = 100_000
"""A width no table reaches: to measure a table's natural width."""


def prepare() -> None:
    """Adapt the output to where stdout goes, once per invocation.

    On a terminal lines wrap at its width; into a pipe or a file they are not
    wrapped at all (a reader or a program gets each line whole).
    """
    console.soft_wrap = not console.is_terminal


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) made one space.

    Credentials in URLs are masked (`chatkit.redact.mask_text`): this is what
    error messages are printed with.
    """
    return mask_text(" ".join(str(text).split()))


def fail(message: object, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    errors.print(Text.assemble(("error:", "bold red"), " ", one_line(message)))
    raise typer.Exit(code)


def run(job: Coroutine[Any, Any, None]) -> None:
    """Run ``job``; a chatkit error becomes a one-line error and exit status 1."""
    try:
        asyncio.run(job)
    except ChatKitError as exc:
        fail(exc)
    except KeyboardInterrupt:
        errors.print("stopped")
        raise typer.Exit(130) from None


def print_table(table: Table) -> None:
    """Print ``table`` without cutting a cell.

    On a terminal, cells too long for their column wrap inside it (a word
    longer than the column is folded, not cut with an ellipsis). Into a pipe or
    a file, the table is printed at its natural width: one line per row.
    """
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(_UNBOUNDED)).maximum
    Console(file=console.file, width=natural, highlight=False).print(table, crop=False)


class _Count(ProgressColumn):
    """``done/total`` when the total is known, ``done`` alone when it is not."""

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        if task.total is None:
            return Text(str(done), style="progress.download")
        return Text(f"{done}/{int(task.total)}", style="progress.download")


class Bars:
    """Progress bars that count real work.

    A bar appears the first time something is counted for it (nothing at all
    when there is nothing to do), with the total when it is known and a
    pulsing bar and a plain count when it is not. Only on a terminal: into a
    pipe or a file nothing is drawn, the command's result says what was done.
    """

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            _Count(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def update(self, name: str, done: int, total: int | None = None) -> None:
        """Set bar ``name`` to ``done`` of ``total`` (``None``: not known)."""
        task = self._tasks.get(name)
        if task is None:
            if not done and not total:
                return
            self._tasks[name] = self._progress.add_task(name, total=total, completed=done)
        else:
            self._progress.update(task, completed=done, total=total)

    @property
    def shown(self) -> list[str]:
        """The bars that appeared, in order."""
        return list(self._tasks)

    def __enter__(self) -> Bars:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
