"""Storage backends. Pick one by URL with `open_store`, or build one directly."""

from __future__ import annotations

from .base import Condition, Delete, Gt, In, Insert, Lt, Op, SetCursor, Store, Update
from .memory import MemoryStore


def open_store(url: str) -> Store:
    """Build the (unopened) store a URL names, loading its plugin by scheme.

    ``memory://``, ``sqlite:///path.db`` are built in; other schemes are looked
    up in the ``chatkit.stores`` entry-point group.

    Raises:
        ConfigurationError: The URL is malformed.
        PluginNotFoundError: No store answers to the scheme.
        PluginLoadError: The store plugin failed to import, or is not a `Store`.
    """
    from ..errors import ConfigurationError, PluginLoadError
    from ..plugins import stores

    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"a store URL looks like sqlite:///support.db, not {url!r}")
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    store_class = stores.load(scheme)
    if not (isinstance(store_class, type) and issubclass(store_class, Store)):
        raise PluginLoadError(
            f"plugin chatkit.stores:{scheme} is {store_class!r}, not a Store subclass",
            group="chatkit.stores",
            name=scheme,
        )
    return store_class.from_url(url)


__all__ = [
    "Condition",
    "Delete",
    "Gt",
    "In",
    "Insert",
    "Lt",
    "MemoryStore",
    "Op",
    "SetCursor",
    "Store",
    "Update",
    "open_store",
]
