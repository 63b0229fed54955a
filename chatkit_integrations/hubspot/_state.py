"""The state of an emulated HubSpot portal: CRM objects, properties, associations, events.

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in HubSpot" (an agent editing a ticket).
Record shapes come from `_records`.

`HubSpotState` gathers its parts, one module each: ``_state_objects``
(contacts, tickets, notes), ``_state_properties`` (definitions and
validation), ``_state_search``, ``_state_associations``, ``_state_owners``,
``_state_events`` (webhook events) and ``_state_calls`` (failure injection,
rate limits and the call log).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from ._records import (
    DEFAULT_PIPELINE,
    DEFAULT_STAGES,
    OBJECT_TYPES,
    SEARCH_RESULT_CAP,
    STANDARD_PROPERTIES,
    CrmObject,
    PropertyDef,
    Record,
)
from ._state_associations import _AssociationState
from ._state_calls import FailurePlan, _CallState
from ._state_owners import _OwnerState
from ._state_properties import InputError
from ._state_search import _SearchState

__all__ = ["FailurePlan", "HubSpotState", "InputError"]


class HubSpotState(_SearchState, _AssociationState, _OwnerState, _CallState):
    """Contacts, tickets, notes, their associations and webhook events of one portal.

    Thread-safe: the emulator serves from its own thread while a test reads and
    edits the same state.

    Args:
        clock: Returns the current time (timezone-aware); tests may pin it to
            give several records the same ``hs_lastmodifieddate``.
        search_cap: Results a search may page through (HubSpot: 10,000); set it
            small to test code that must restart its search.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        search_cap: int = SEARCH_RESULT_CAP,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.search_cap = search_cap
        self.lock = threading.RLock()
        self.objects: dict[str, dict[int, CrmObject]] = {t: {} for t in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {
            t: {name: PropertyDef(name, kind) for name, kind in props.items()}
            for t, props in STANDARD_PROPERTIES.items()
        }
        self.properties["contacts"]["email"].unique = True
        self.pipelines: dict[str, dict[str, str]] = {DEFAULT_PIPELINE: dict(DEFAULT_STAGES)}
        # (from_type, from_id, to_type) -> {to_id: [type ids]}
        self.associations: dict[tuple[str, int, str], dict[int, list[int]]] = {}
        self.failures: list[FailurePlan] = []
        self.requests: list[tuple[str, str]] = []
        self.events: list[Record] = []
        self.rate_limit: tuple[int, float] | None = None
        self.daily_limit: int | None = None
        self._window: deque[float] = deque()
        self._daily_used = 0
        self._ids = {
            "contacts": itertools.count(1001),
            "tickets": itertools.count(2001),
            "notes": itertools.count(3001),
        }
        self._event_ids = itertools.count(100_000_001)
        self.owners: dict[str, Record] = {}
        self._owner_ids = itertools.count(41_000_001)
