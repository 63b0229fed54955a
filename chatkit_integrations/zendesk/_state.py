"""The state of an emulated Zendesk account: users, tickets, comments, uploads, job statuses.

`ZendeskState` gathers its parts, one module each: ``_state_users``,
``_state_tickets`` (with comments and audits), ``_state_uploads``,
``_state_exports`` (incremental exports), ``_state_jobs`` and
``_state_failures`` (failure injection).

Plain Python, no HTTP: the emulator's routes call these methods, and tests call
them directly to read or change what is "in Zendesk". Shapes follow the
Zendesk Support API as recorded in ``vendor-fixtures`` (ticket, audit,
incremental page, job status, 400 ``TooManyValues``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ._records import ADMIN_USER_ID, BULK_LIMIT, Record, ZendeskAPIError
from ._state_exports import _ExportState
from ._state_failures import FailurePlan, _FailureState
from ._state_jobs import _Job, _JobState
from ._state_tickets import _TicketState
from ._state_uploads import _UploadState

__all__ = ["BULK_LIMIT", "FailurePlan", "Record", "ZendeskAPIError", "ZendeskState"]


class ZendeskState(_TicketState, _UploadState, _ExportState, _JobState, _FailureState):
    """Users, tickets, comments and jobs of one emulated Zendesk account.

    Thread-safe: the emulator serves from its own thread while a test reads and
    edits the same state (an agent editing a ticket "in Zendesk").

    Args:
        subdomain: Used in the ``url`` fields until the emulator sets `base_url`.
        clock: Returns the current time (timezone-aware); tests may pin it.
        job_polls: How many polls of a job status answer ``working`` before
            ``completed`` (the POST itself always answers ``queued``).
    """

    def __init__(
        self,
        *,
        subdomain: str = "chatkit",
        clock: Callable[[], datetime] | None = None,
        job_polls: int = 1,
    ) -> None:
        self.base_url = f"https://{subdomain}.zendesk.com"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.job_polls = job_polls
        self.lock = threading.RLock()
        self.users: dict[int, Record] = {}
        self.tickets: dict[int, Record] = {}
        self.comments: dict[int, list[Record]] = {}
        self.ticket_events: list[Record] = []
        self.jobs: dict[str, _Job] = {}
        self.uploads: dict[str, list[int]] = {}
        self.attachments: dict[int, tuple[Record, bytes]] = {}
        self.failures: list[FailurePlan] = []
        self.requests: list[tuple[str, str]] = []
        self._user_ids = itertools.count(ADMIN_USER_ID)
        self._ticket_ids = itertools.count(1)
        self._event_ids = itertools.count(6164039218714)
        self._changes = itertools.count(1)
        self._change_seq: dict[int, int] = {}
        self._generated: dict[int, int] = {}
        self._user_seq: dict[int, int] = {}
        self._user_generated: dict[int, int] = {}
        self._attachment_ids = itertools.count(6164039200000)
        self.create_user({"name": "Admin", "email": "admin@example.com", "role": "admin"})
