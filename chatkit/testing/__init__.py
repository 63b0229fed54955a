"""Test helpers for chatkit users and plugin authors.

`StoreContract` is the public contract suite every `chatkit.stores.Store`
must pass, `BlobStoreContract` the one every `chatkit.blobs.BlobStore` must
pass, `IntegrationContract` the one every integration must pass,
`ChannelAdapterContract` the one every messaging channel adapter must pass.
`MemoryVendor` and `MemoryIntegration` are an in-memory CRM and
its integration, to test code that uses the sync engine without a vendor.
Importing this package needs pytest.
"""

from __future__ import annotations

from .blob_contract import BlobStoreContract
from .channel_contract import ChannelAdapterContract
from .integration_contract import IntegrationContract
from .store_contract import StoreContract
from .vendor import MemoryConfig, MemoryIntegration, MemoryVendor, SimulatedCrash

__all__ = [
    "BlobStoreContract",
    "ChannelAdapterContract",
    "IntegrationContract",
    "MemoryConfig",
    "MemoryIntegration",
    "MemoryVendor",
    "SimulatedCrash",
    "StoreContract",
]
