"""The users of the emulated Zendesk account: create, show, update, soft delete, search."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._records import USER_FIELDS, Record, invalid, iso, not_found, user_record


class _UserState:
    """Users of `ZendeskState`, and the change sequence their incremental export follows."""

    base_url: str
    clock: Callable[[], datetime]
    lock: threading.RLock
    users: dict[int, Record]
    _user_ids: itertools.count[int]
    _changes: itertools.count[int]
    _user_seq: dict[int, int]
    _user_generated: dict[int, int]

    def _user_url(self, user_id: int) -> str:
        return f"{self.base_url}/api/v2/users/{user_id}.json"

    def _check_unique(self, data: Mapping[str, Any], *, except_id: int | None = None) -> None:
        for user in self.users.values():
            if user["id"] == except_id:
                continue
            email = data.get("email")
            if email and user["email"] and user["email"].lower() == str(email).lower():
                raise invalid(
                    "email",
                    f"Email: {email} is already being used by another user",
                    "DuplicateValue",
                )
            external_id = data.get("external_id")
            if external_id is not None and user["external_id"] == str(external_id):
                raise invalid("external_id", "External has already been taken", "DuplicateValue")

    def create_user(self, data: Mapping[str, Any]) -> Record:
        """Create a user as ``POST /api/v2/users.json`` does; returns a copy."""
        with self.lock:
            if not data.get("name"):
                raise invalid("name", "Name:  is too short (minimum one character)", "BlankValue")
            self._check_unique(data)
            user_id = next(self._user_ids)
            now = iso(self.clock())
            user = user_record(user_id, self._user_url(user_id), data, now)
            self.users[user_id] = user
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def get_user(self, user_id: int) -> Record:
        """The user ``user_id``; raises a 404 `ZendeskAPIError` when missing."""
        with self.lock:
            if user_id not in self.users:
                raise not_found()
            return copy.deepcopy(self.users[user_id])

    def update_user(self, user_id: int, data: Mapping[str, Any]) -> Record:
        """Change a user's fields (as an admin would in Zendesk)."""
        with self.lock:
            if user_id not in self.users:
                raise not_found()
            self._check_unique(data, except_id=user_id)
            user = self.users[user_id]
            for key in USER_FIELDS:
                if key in data:
                    value = data[key]
                    user[key] = str(value) if key == "external_id" and value is not None else value
            user["updated_at"] = iso(self.clock())
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def _touch_user(self, user_id: int) -> None:
        self._user_seq[user_id] = next(self._changes)
        self._user_generated[user_id] = int(self.clock().timestamp())

    def user_id_by_email(self, email: str) -> int | None:
        """The id of the user with this email (case-insensitive), if any."""
        with self.lock:
            found = self.search_users(email=email)
            return int(found[0]["id"]) if found else None

    def delete_user(self, user_id: int) -> Record:
        """Soft-delete a user as ``DELETE /api/v2/users/{id}.json`` does: ``active`` false.

        The user is still shown (and exported once more), but no longer found
        by search, external id or email.
        """
        with self.lock:
            user = self.users.get(user_id)
            if user is None or not user["active"]:
                raise not_found()
            user.update(active=False, external_id=None, email=None, updated_at=iso(self.clock()))
            self._touch_user(user_id)
            return copy.deepcopy(user)

    def search_users(
        self, *, external_id: str | None = None, email: str | None = None
    ) -> list[Record]:
        """Users whose external id or email (case-insensitive) matches."""
        with self.lock:
            found = [
                u
                for u in self.users.values()
                if (external_id is not None and u["external_id"] == external_id)
                or (email is not None and (u["email"] or "").lower() == email.lower())
            ]
            return copy.deepcopy(found)

    def create_or_update_user(self, data: Mapping[str, Any]) -> tuple[Record, bool]:
        """Update the user matched by external_id, else email; else create. ``(user, created)``."""
        with self.lock:
            matches: list[Record] = []
            if data.get("external_id") is not None:
                matches = self.search_users(external_id=str(data["external_id"]))
            if not matches and data.get("email"):
                matches = self.search_users(email=str(data["email"]))
            if matches:
                return self.update_user(matches[0]["id"], data), False
            return self.create_user(data), True
