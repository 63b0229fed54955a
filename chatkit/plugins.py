"""Finding plugins by name: a built-in table first, then entry points.

Nothing is imported until it is asked for, so one broken third-party package
cannot break chatkit for everyone. Set ``CHATKIT_DISABLE_ENTRY_POINTS=1`` to
ignore every installed third-party plugin (built-ins still load).

Example:
    ```python
    from chatkit.plugins import stores

    store_class = stores.load("sqlite")
    ```
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar, cast

from .errors import PluginLoadError, PluginNotFoundError

__all__ = ["Builtin", "PluginLoader", "blob_stores", "stores", "transports"]

T = TypeVar("T")


@dataclass(frozen=True)
class Builtin:
    """A plugin that ships with chatkit (possibly needing an extra).

    Attributes:
        target: ``"module.path:attribute"``.
        install_hint: What to install when the import fails.
    """

    target: str
    install_hint: str | None = None


class PluginLoader(Generic[T]):
    """Loads plugins of one entry-point group by name, once each.

    Args:
        group: Entry-point group, e.g. ``"chatkit.stores"``.
        builtins: Built-in plugins by name, consulted before entry points.
    """

    def __init__(self, group: str, builtins: dict[str, Builtin]) -> None:
        self.group = group
        self.builtins = builtins
        self._cache: dict[str, T] = {}

    def load(self, name: str) -> T:
        """Return the plugin called ``name``.

        Raises:
            PluginNotFoundError: Nothing of that name is built in or installed.
            PluginLoadError: It exists, but importing it failed.
        """
        if name in self._cache:
            return self._cache[name]
        builtin = self.builtins.get(name)
        if builtin is not None:
            plugin = self._import(name, builtin.target, builtin.install_hint)
        else:
            plugin = self._from_entry_point(name)
        self._cache[name] = plugin
        return plugin

    def available(self) -> list[str]:
        """Names of built-in and installed plugins (none is imported)."""
        names = set(self.builtins)
        if not os.environ.get("CHATKIT_DISABLE_ENTRY_POINTS"):
            names.update(ep.name for ep in entry_points(group=self.group))
        return sorted(names)

    def _from_entry_point(self, name: str) -> T:
        found = (
            []
            if os.environ.get("CHATKIT_DISABLE_ENTRY_POINTS")
            else [ep for ep in entry_points(group=self.group) if ep.name == name]
        )
        if not found:
            known = ", ".join(self.available()) or "none"
            raise PluginNotFoundError(
                f"can't load plugin {self.group}:{name}: no built-in or installed plugin "
                f"of that name (known: {known})",
                group=self.group,
                name=name,
            )
        try:
            return cast(T, found[0].load())
        except Exception as exc:
            raise PluginLoadError(
                f"can't load plugin {self.group}:{name} from {found[0].value}: {exc}",
                group=self.group,
                name=name,
            ) from exc

    def _import(self, name: str, target: str, hint: str | None) -> T:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return cast(T, getattr(module, attribute))
        except ImportError as exc:
            advice = f"; install it with: {hint}" if hint and hint not in str(exc) else ""
            raise PluginLoadError(
                f"can't load plugin {self.group}:{name}: {exc}{advice}", group=self.group, name=name
            ) from exc


stores: PluginLoader[type[object]] = PluginLoader(
    "chatkit.stores",
    {
        "memory": Builtin("chatkit.stores.memory:MemoryStore"),
        "sqlite": Builtin("chatkit.stores.sqlite:SQLiteStore"),
        "postgresql": Builtin(
            "chatkit.stores.postgres:PostgresStore", "pip install 'chatkit[postgres]'"
        ),
        "postgres": Builtin(
            "chatkit.stores.postgres:PostgresStore", "pip install 'chatkit[postgres]'"
        ),
    },
)
"""Store classes by URL scheme."""

transports: PluginLoader[type[object]] = PluginLoader(
    "chatkit.transports",
    {
        "memory": Builtin("chatkit.transports.memory:MemoryTransport"),
        "redis": Builtin("chatkit.transports.redis:RedisTransport", "pip install 'chatkit[redis]'"),
        "rediss": Builtin(
            "chatkit.transports.redis:RedisTransport", "pip install 'chatkit[redis]'"
        ),
    },
)
"""Transport classes by URL scheme."""

blob_stores: PluginLoader[type[object]] = PluginLoader(
    "chatkit.blobs",
    {
        "memory": Builtin("chatkit.blobs.memory:MemoryBlobStore"),
        "file": Builtin("chatkit.blobs.local:LocalBlobStore"),
        "s3": Builtin("chatkit.blobs.s3:S3BlobStore", "pip install 'chatkit[s3]'"),
    },
)
"""Blob store classes by URL scheme (`chatkit.blobs.open_blob_store`)."""
