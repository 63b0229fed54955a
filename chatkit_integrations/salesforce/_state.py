"""The state of an emulated Salesforce org: records, users, sessions, failures, calls.

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in Salesforce" (an agent edits a
case). Every write keeps ``CreatedDate``, ``LastModifiedDate`` and
``SystemModstamp`` as Salesforce does, and validates fields the way the REST
API does (required fields, lengths, restricted picklists, lookups, read-only
fields, unique external ids).

`SalesforceState` gathers its parts, one module each: ``_state_users``
(users and sessions), ``_state_reads``, ``_state_validation``,
``_state_writes``, ``_state_queries`` (SOQL) and ``_state_calls`` (failure
injection and the call log).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ._records import KEY_PREFIXES, QUERY_BATCH_DEFAULT, SCHEMA, Record
from ._state_calls import WRITE_METHODS, Call, FailurePlan, _CallState
from ._state_queries import _QueryState
from ._state_users import _UserState
from ._state_writes import _WriteState

__all__ = ["WRITE_METHODS", "Call", "FailurePlan", "SalesforceState"]


class SalesforceState(_WriteState, _QueryState, _UserState, _CallState):
    """Records, users, sessions, planned failures and the call log of one emulated org.

    Thread-safe: the emulator serves from its own thread while a test reads
    and edits the same state.

    Args:
        clock: Returns the current time (timezone-aware); tests may pin it.
        daily_api_limit: The org's ``DailyApiRequests`` limit; REST calls past
            it answer 403 ``REQUEST_LIMIT_EXCEEDED``.
        query_batch_size: Records per SOQL result page (200 to 2000) unless
            the request asks for fewer with ``Sforce-Query-Options``.

    Attributes:
        api_user_id: The integration user the API session acts as.
        agent_user_id: A support agent, the author of edits made "in Salesforce".
        api_usage: REST calls counted against `daily_api_limit` (settable).
        calls: Every request answered, in order.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        daily_api_limit: int = 15000,
        query_batch_size: int = QUERY_BATCH_DEFAULT,
    ) -> None:
        if not 1 <= query_batch_size <= QUERY_BATCH_DEFAULT:
            # pages under Salesforce's minimum of 200 are allowed so tests can page cheaply
            raise ValueError("query_batch_size must be between 1 and 2000")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.daily_api_limit = daily_api_limit
        self.query_batch_size = query_batch_size
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in SCHEMA}
        self.blobs: dict[str, bytes] = {}
        self.sessions: dict[str, str] = {}
        self.failures: list[FailurePlan] = []
        self.calls: list[Call] = []
        self.api_usage = 0
        self._ids: dict[str, itertools.count[int]] = {
            name: itertools.count(1) for name in KEY_PREFIXES
        }
        self._case_numbers = itertools.count(1001)
        self._locators: dict[str, list[Record]] = {}
        self.api_user_id = self._add_user("Chatkit", "Integration", "api@chatkit.example")
        self.agent_user_id = self._add_user("Alice", "Agent", "alice.agent@chatkit.example")
