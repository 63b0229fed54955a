"""The sync engine: chatkit and a CRM or help desk kept in step, both ways.

`Sync` (``kit.sync``) builds a `SyncEngine` for an `chatkit.integrations.Integration`
and shows what it did: `SyncStatus`, dead letters, decisions. The id map,
states and decisions are records of the kit's store (`chatkit.models.sync`),
so every worker sharing the store shares them.

Example:
    ```python
    async with kit.sync.engine("zendesk") as engine:
        report = await engine.run_once()      # queue, push, pull
    print(await kit.sync.status("zendesk"))
    ```
"""

from __future__ import annotations

from ..models.sync import DecisionOutcome, SyncDecision, SyncLink, SyncState
from .engine import SyncEngine, SyncReport
from .policy import ConflictPolicy, FieldPolicy
from .service import Sync, SyncStatus

__all__ = [
    "ConflictPolicy",
    "DecisionOutcome",
    "FieldPolicy",
    "Sync",
    "SyncDecision",
    "SyncEngine",
    "SyncLink",
    "SyncReport",
    "SyncState",
    "SyncStatus",
]
