"""Help and errors that read as a command line's, for every command of the tree.

Typer shows every option's type (``--dry-run <bool>``) and required arguments
in braces (``{name}``). `CliGroup`, the class of the ``chatkit`` app, turns
every command of its tree, including ones registered by other modules, into a
`CliCommand`/`CliGroup` whose parameters render the usual way: flags bare,
values as ``--url URL``, arguments as ``NAME``, ``[NAME]`` or ``GROUP...``. Its
`CliGroup.main` prints a usage error as one line on stderr (status 2).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn, cast

import typer
from rich.text import Text

# typer carries its own copy of click since 0.29 (pyproject requires it).
from typer._click import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from .output import errors, one_line, prepare

__all__ = ["CliCommand", "CliGroup", "StoreUrl"]

StoreUrl = Annotated[
    str | None,
    typer.Option(metavar="URL", help="Store URL; default $CHATKIT_URL or sqlite:///chatkit.db."),
]
"""The ``--url`` option every store command takes."""


class _Argument(TyperArgument):
    """An argument shown as ``NAME``: upper case, no type, no braces."""

    label: str = ""

    @property
    def display_name_raw(self) -> str:
        return self.label or (self.name or "arg").upper()

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return f"{name}..." if self.nargs != 1 else name


class _Option(TyperOption):
    """An option shown as ``--url URL``; a flag as itself (``--dry-run``)."""

    def display_type_rich(self, ctx: Context) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or (self.name or "value").upper()


def _tidy(params: Sequence[Any]) -> None:
    """Give typer's parameters the display of `_Argument` and `_Option`."""
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
            # The label stands for the metavar, so that typer's help adds the
            # "..." of a variadic argument itself ("GROUP...").
            argument = cast(_Argument, param)
            argument.label = param.metavar or ""
            argument.metavar = None
        elif type(param) is TyperOption:
            param.__class__ = _Option


class CliCommand(TyperCommand):
    """A command whose help reads as a command line's (see the module)."""

    def get_params(self, ctx: Context) -> list[Any]:
        params = super().get_params(ctx)
        _tidy(params)
        return params


class CliGroup(TyperGroup):
    """A group of commands whose whole tree reads as a command line's.

    Commands and groups registered with plain typer (any module may add one)
    take this module's classes when the tree is built.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _adopt(self)

    def get_params(self, ctx: Context) -> list[Any]:
        params = super().get_params(ctx)
        _tidy(params)
        return params

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; errors are one line on stderr, then exit.

        Usage errors exit with status 2, an interruption with 130, a chatkit
        error (reported by the command) with 1.
        """
        prepare()
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:  # the help is printed already
            sys.exit(exc.exit_code)
        except UsageError as exc:
            _usage_error(exc)
        except ClickException as exc:
            errors.print(Text.assemble(("error:", "bold red"), " ", one_line(exc.format_message())))
            sys.exit(exc.exit_code)
        except typer.Abort:  # end of input at a prompt
            errors.print(Text.assemble(("error:", "bold red"), " aborted"))
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _adopt(group: TyperGroup) -> None:
    """Make every command under ``group`` a `CliCommand` or a `CliGroup`."""
    for command in group.commands.values():
        if type(command) is TyperCommand:
            command.__class__ = CliCommand
        elif type(command) is TyperGroup:
            command.__class__ = CliGroup
        if isinstance(command, TyperGroup):
            _adopt(command)


def _usage_error(exc: UsageError) -> NoReturn:
    message = one_line(exc.format_message())
    if exc.ctx is not None and exc.ctx.command.get_help_option(exc.ctx) is not None:
        message = f"{message.rstrip('.')} (see '{exc.ctx.command_path} --help')"
    errors.print(Text.assemble(("error:", "bold red"), " ", message))
    sys.exit(exc.exit_code)
