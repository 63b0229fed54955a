"""``chatkit integrations``: the installed CRM and help-desk plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import ChatKitError, ConfigurationError
from ..integrations import integrations
from .output import console, print_table

__all__ = ["ConfigFile", "integrations_app"]

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="JSON/YAML file with one section per integration."
    ),
]
"""The ``--config`` option of the commands that load an integration."""

integrations_app = typer.Typer(
    help="CRM and help-desk integrations (plugins in the chatkit.integrations group).",
    no_args_is_help=True,
)


@integrations_app.command("list")
def integrations_list(config: ConfigFile = None) -> None:
    """Show installed integrations, what they sync, and whether they are configured."""
    table = Table("name", "package", "capabilities", "configured")
    for item in integrations.installed():
        package = f"{item.package or '?'} {item.version or ''}".strip()
        try:
            plugin = integrations.load(item.name)
        except ChatKitError as exc:
            table.add_row(item.name, package, f"[red]cannot load:[/] {escape(str(exc))}", "")
            continue
        try:
            plugin.config_class.load(item.name, file=config)
        except ConfigurationError as exc:  # messages name fields, never values
            configured = f"[yellow]no[/]: {escape(str(exc))}"
        else:
            configured = "[green]yes[/]"
        table.add_row(item.name, package, plugin.capabilities.summary(), configured)
    if table.row_count:
        print_table(table)
    else:
        console.print(
            "no integrations installed (they register entry points in 'chatkit.integrations')"
        )
