"""Finding integrations by name through the ``chatkit.integrations`` entry points.

chatkit ships no integration (the core never imports ``chatkit_integrations``):
every one, first-party or third-party, is a package that registers an entry
point. Nothing is imported until it is asked for by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points

from ..errors import PluginLoadError, PluginNotFoundError
from ..plugins import PluginLoader
from .base import Integration

__all__ = ["GROUP", "INSTALL_HINTS", "IntegrationLoader", "Installed", "integrations"]

GROUP = "chatkit.integrations"
"""The entry-point group integrations register in."""

INSTALL_HINTS: dict[str, str] = {
    "zendesk": "pip install 'chatkit[zendesk]'",
    "salesforce": "pip install 'chatkit[salesforce]'",
    "hubspot": "pip install 'chatkit[hubspot]'",
    "ga4": "pip install chatkit (GA4 needs nothing more than httpx)",
    "dropbox": "pip install 'chatkit[dropbox]'",
}
"""What to install for the first-party integrations when their entry points are missing."""


@dataclass(frozen=True)
class Installed:
    """An installed integration, as its entry point describes it (nothing imported).

    Attributes:
        name: The entry-point name.
        target: ``"module:attribute"``.
        package: The distribution that registered it, when known.
        version: That distribution's version, when known.
    """

    name: str
    target: str
    package: str | None
    version: str | None


class IntegrationLoader(PluginLoader[type[Integration]]):
    """Loads `Integration` classes by name, adding install hints and type checks."""

    def __init__(self, hints: dict[str, str] | None = None) -> None:
        super().__init__(GROUP, {})
        self.hints = INSTALL_HINTS if hints is None else hints

    def load(self, name: str) -> type[Integration]:
        """Return the integration class registered as ``name``.

        Raises:
            PluginNotFoundError: Nothing of that name is installed; the message
                says what to install.
            PluginLoadError: Importing it failed, or it is not an `Integration`
                subclass.
        """
        try:
            plugin: object = super().load(name)
        except PluginNotFoundError as exc:
            hint = self.hints.get(name)
            advice = (
                f"install it with: {hint}"
                if hint
                else "install the package that provides it (it registers an entry point "
                f"in the {GROUP!r} group)"
            )
            raise PluginNotFoundError(f"{exc}; {advice}", group=GROUP, name=name) from None
        if not (isinstance(plugin, type) and issubclass(plugin, Integration)):
            raise PluginLoadError(
                f"can't load plugin {GROUP}:{name}: {plugin!r} is not an Integration subclass",
                group=GROUP,
                name=name,
            )
        return plugin

    def installed(self) -> list[Installed]:
        """Every registered integration, by name, without importing any."""
        if os.environ.get("CHATKIT_DISABLE_ENTRY_POINTS"):
            return []
        found: dict[str, Installed] = {}
        for ep in entry_points(group=self.group):
            dist = ep.dist
            found.setdefault(
                ep.name,
                Installed(
                    name=ep.name,
                    target=ep.value,
                    package=dist.metadata["Name"] if dist is not None else None,
                    version=dist.version if dist is not None else None,
                ),
            )
        return [found[name] for name in sorted(found)]


integrations = IntegrationLoader()
"""Integration classes by name, e.g. ``integrations.load("zendesk")``."""
