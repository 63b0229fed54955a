"""Blob stores for attachment bytes.

`open_blob_store` builds one from a URL: ``file:///var/lib/chatkit/blobs``
(`LocalBlobStore`), ``memory://`` (`MemoryBlobStore`),
``s3://bucket/prefix?endpoint=...`` (`chatkit.blobs.s3.S3BlobStore`, extra
``s3``), or any scheme a ``chatkit.blobs`` entry point provides.
"""

from __future__ import annotations

from .base import BlobInfo, BlobStore, check_key
from .local import LocalBlobStore
from .memory import MemoryBlobStore

__all__ = [
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "MemoryBlobStore",
    "check_key",
    "default_blobs_url",
    "open_blob_store",
]


def default_blobs_url() -> str | None:
    """``$CHATKIT_BLOBS_URL`` when set, else ``None`` (the store's default blob store)."""
    import os

    return os.environ.get("CHATKIT_BLOBS_URL") or None


def open_blob_store(url: str) -> BlobStore:
    """Build the blob store a URL names.

    Examples: ``file:///var/lib/chatkit/blobs``, ``memory://``,
    ``s3://attachments/chat?region=eu-west-1``,
    ``s3://attachments?endpoint=http://127.0.0.1:9000&path_style=true``.

    Raises:
        ConfigurationError: The URL is malformed.
        PluginNotFoundError: No blob store answers to the scheme.
        PluginLoadError: The store's extra is not installed (``pip install 'chatkit[s3]'``).
    """
    from ..errors import ConfigurationError, PluginLoadError
    from ..plugins import blob_stores

    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"a blob store URL looks like s3://bucket/prefix or file:///path, not {url!r}"
        )
    scheme = url.split("://", 1)[0].lower()
    store_class = blob_stores.load(scheme)
    if not (isinstance(store_class, type) and issubclass(store_class, BlobStore)):
        raise PluginLoadError(
            f"plugin chatkit.blobs:{scheme} is not a BlobStore subclass",
            group="chatkit.blobs",
            name=scheme,
        )
    return store_class.from_url(url)
