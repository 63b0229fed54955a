"""``chatkit emulate``: serve a vendor API emulator for offline work."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Annotated, Any

import typer

from .core import CliCommand
from .output import fail

__all__ = ["EmulateCommand", "emulate"]


class EmulateCommand(CliCommand):
    """``chatkit emulate``: what follows the name is the emulator's own command line."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), "[EMULATOR OPTIONS]..."]


EMULATE_SETTINGS = {"allow_extra_args": True, "allow_interspersed_args": False}
"""Everything after the name goes to the emulator, ``--help`` included."""


def emulate(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The vendor: zendesk, salesforce, hubspot, zoho_crm, dropbox, ga4 or twilio."
        ),
    ],
) -> None:
    r"""Serve a vendor API emulator locally, e.g. 'chatkit emulate zendesk --port 8765'.

    Emulators are plugins in the entry-point group chatkit.emulators; the
    first-party ones need 'pip install "chatkit\[emulators]"'. Options after the
    name go to the emulator: 'chatkit emulate zendesk --help' lists them.
    """
    found = {ep.name: ep for ep in entry_points(group="chatkit.emulators")}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        fail(f"no emulator named {name!r} (installed: {known})")
    try:
        serve = found[name].load()
    except ImportError as exc:
        fail(exc)
    serve(list(ctx.args))
