"""Test helpers for chatkit users and plugin authors.

`StoreContract` is the public contract suite every `chatkit.stores.Store`
must pass. Importing this package needs pytest.
"""

from __future__ import annotations

from .store_contract import StoreContract

__all__ = ["StoreContract"]
