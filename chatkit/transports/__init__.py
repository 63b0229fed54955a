"""Transports of commit signals between processes (see `chatkit.transports.base`)."""

from __future__ import annotations

from .base import Transport
from .memory import MemoryTransport

__all__ = ["MemoryTransport", "Transport", "open_transport"]


def open_transport(url: str) -> Transport:
    """Build the (unopened) transport a URL names: ``memory://`` or ``redis://``.

    Raises:
        ConfigurationError: The URL is malformed.
        PluginNotFoundError: No transport answers to the scheme.
        PluginLoadError: The transport's extra is not installed.
    """
    from ..errors import ConfigurationError, PluginLoadError
    from ..plugins import transports

    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"a transport URL looks like redis://localhost:6379, not {url!r}")
    scheme = url.split("://", 1)[0].lower()
    transport_class = transports.load(scheme)
    if not (isinstance(transport_class, type) and issubclass(transport_class, Transport)):
        raise PluginLoadError(
            f"plugin chatkit.transports:{scheme} is not a Transport subclass",
            group="chatkit.transports",
            name=scheme,
        )
    return transport_class.from_url(url)
