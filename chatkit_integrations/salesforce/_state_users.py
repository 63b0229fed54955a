"""The users and sessions of the emulated Salesforce org: agents, access tokens, the org id."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from ._records import Record, make_id, sf_datetime


class _UserState:
    """Users and sessions of `SalesforceState`."""

    lock: threading.RLock
    clock: Callable[[], datetime]
    records: dict[str, dict[str, Record]]
    _ids: dict[str, itertools.count[int]]
    sessions: dict[str, str]
    api_user_id: str

    def add_user(self, first: str, last: str, email: str, *, active: bool = True) -> str:
        """Add a user (an agent of the org) with this Email and Username; returns its Id.

        Cases can be assigned to it (``OwnerId``) while it is active; set
        ``IsActive`` false in `records` to play its deactivation.
        """
        with self.lock:
            user_id = self._add_user(first, last, email)
            self.records["User"][user_id]["IsActive"] = active
            return user_id

    def _add_user(self, first: str, last: str, username: str) -> str:
        now = sf_datetime(self.clock())
        user_id = make_id("User", next(self._ids["User"]))
        self.records["User"][user_id] = {
            "Id": user_id,
            "IsDeleted": False,
            "Username": username,
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Email": username,
            "IsActive": True,
            "CreatedDate": now,
            "CreatedById": user_id,
            "LastModifiedDate": now,
            "LastModifiedById": user_id,
            "SystemModstamp": now,
        }
        return user_id

    def new_session(self, user_id: str | None = None, token: str | None = None) -> str:
        """Register an access token acting as ``user_id`` (the API user by default)."""
        with self.lock:
            token = token or f"{self.org_id}!AQ{secrets.token_urlsafe(48)}"
            self.sessions[token] = user_id or self.api_user_id
            return token

    def expire_sessions(self) -> None:
        """Invalidate every access token (the next calls answer 401 INVALID_SESSION_ID)."""
        with self.lock:
            self.sessions.clear()

    @property
    def org_id(self) -> str:
        """The org's 18-character id."""
        return "00D5g000004ChatKAAS"
