"""Test helpers for chatkit users and plugin authors.

`StoreContract` is the public contract suite every `chatkit.stores.Store`
must pass. `MemoryVendor` and `MemoryIntegration` are an in-memory CRM and
its integration, to test code that uses the sync engine without a vendor.
Importing this package needs pytest.
"""

from __future__ import annotations

from .store_contract import StoreContract
from .vendor import MemoryConfig, MemoryIntegration, MemoryVendor, SimulatedCrash

__all__ = ["MemoryConfig", "MemoryIntegration", "MemoryVendor", "SimulatedCrash", "StoreContract"]
