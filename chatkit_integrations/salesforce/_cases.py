"""Salesforce part: contacts and cases upserted on the external id, with case owners
looked up by email."""

from __future__ import annotations

import time
from typing import Any

from chatkit.integrations import OutboundChange, PushResult

from ._client import _chunks, _Outcome, _query_all, _quote, _SalesforceClient
from ._mapping import case_fields, contact_fields, owner_email

_UNKNOWN_OWNER_TTL = 600.0
"""Seconds an owner email with no active Salesforce User is taken as unknown
without asking again (users found are kept for the instance's life)."""


class _CasesPush(_SalesforceClient):
    """Contacts and cases, outbound."""

    def _upsert_contacts(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        field = self.config.external_id_field
        for chunk in _chunks(batch):
            records = [
                {
                    "attributes": {"type": "Contact"},
                    field: change.local_id,
                    **contact_fields(change.data),
                }
                for change in chunk
            ]
            answers = self._collection("PATCH", f"composite/sobjects/Contact/{field}", records)
            self._apply(chunk, answers, outcome, "Contact")

    def _upsert_cases(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        field = self.config.external_id_field
        owners = self._owner_ids(batch)
        for chunk in _chunks(batch):
            records = []
            for change in chunk:
                email = owner_email(change.data)
                owner_id = owners.get(email) if email else None
                record: dict[str, Any] = {
                    "attributes": {"type": "Case"},
                    field: change.local_id,
                    **case_fields(change.data, origin=self.config.case_origin, owner_id=owner_id),
                }
                if change.parent_remote_id:
                    record["ContactId"] = change.parent_remote_id
                records.append(record)
            answers = self._collection("PATCH", f"composite/sobjects/Case/{field}", records)
            self._apply(chunk, answers, outcome, "Case")
            for change, answer in zip(chunk, answers, strict=False):
                codes = {str(e.get("statusCode")) for e in answer.get("errors") or []}
                email = owner_email(change.data)
                if "INACTIVE_OWNER_OR_USER" in codes and email:
                    self._owners.pop(email, None)  # deactivated since: look it up again
                    outcome.results[change.change_id] = PushResult.retryable(
                        change, f"its owner {email} is an inactive Salesforce user"
                    )

    def _owner_ids(self, changes: list[OutboundChange]) -> dict[str, str]:
        """``{email: User Id}`` for the owners of ``changes`` that are active users.

        Emails not cached (or cached as unknown longer than
        ``_UNKNOWN_OWNER_TTL``) are looked up in one SOQL query per 200.
        """
        now = time.monotonic()
        wanted = sorted({e for e in (owner_email(c.data) for c in changes) if e})
        missing = [
            email
            for email in wanted
            if email not in self._owners
            or (
                self._owners[email][0] is None
                and now - self._owners[email][1] >= _UNKNOWN_OWNER_TTL
            )
        ]
        for chunk in _chunks(missing):
            soql = (
                "SELECT Id, Email FROM User "
                f"WHERE Email IN ({', '.join(_quote(e) for e in chunk)}) AND IsActive = true"
            )
            found: dict[str, str] = {}
            for row in sorted(self._call(_query_all(soql))["records"], key=lambda r: r["Id"]):
                found.setdefault(str(row.get("Email") or "").lower(), str(row["Id"]))
            for email in chunk:
                self._owners[email] = (found.get(email), now)
        return {e: owner for e in wanted if (owner := self._owners[e][0]) is not None}
