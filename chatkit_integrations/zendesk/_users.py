"""Zendesk part: contacts pushed as end-users (upserts by external id, deletes)."""

from __future__ import annotations

from functools import partial

from chatkit.integrations import ChangeAction, OutboundChange, PushResult

from ._client import _DIRECT_MAX, BATCH, _job_error, _job_result, _Outcome, _ZendeskClient
from ._mapping import user_fields
from ._zenpy import APIException, RecordNotFoundException, User


class _UsersPush(_ZendeskClient):
    """Contacts ⇄ end-users, outbound."""

    def _push_users(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Upserts by external id: ``create_or_update_many`` jobs of 100 (POST and polls).

        Two users or fewer are written one by one (one call each, and the
        answer carries the version); a job costs at least two calls.
        """
        upserts = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(self._delete_user(change))
            else:
                upserts.append(change)
        for start in range(0, len(upserts), BATCH):
            chunk = upserts[start : start + BATCH]
            if len(chunk) <= _DIRECT_MAX:
                for change in chunk:
                    outcome.set(self._upsert_user(change, outcome))
                continue
            users = [User(**user_fields(c)) for c in chunk]
            results = self._job(
                chunk,
                outcome,
                partial(self._client.users.create_or_update, users),
                idempotent=True,
            )
            for index, change in enumerate(chunk if results is not None else []):
                result = _job_result(results or [], index)
                if result is None:
                    outcome.set(PushResult.retryable(change, "the job reported nothing for it"))
                elif result.get("error"):
                    outcome.set(PushResult.permanent(change, _job_error(result)))
                else:
                    outcome.set(PushResult.ok(change, str(result["id"]), remote_type="user"))

    def _upsert_user(self, change: OutboundChange, outcome: _Outcome) -> PushResult:
        try:
            with self._writing(outcome, idempotent=True):
                user = self._client.users.create_or_update(User(**user_fields(change)))
        except APIException as exc:
            return self._record_error(change, exc)
        data = user.to_dict()
        updated = data.get("updated_at")
        return PushResult.ok(
            change,
            str(data["id"]),
            remote_type="user",
            remote_version=str(updated) if updated else None,
        )

    def _delete_user(self, change: OutboundChange) -> PushResult:
        if not change.remote_id:
            return PushResult.ok(change, None)  # never reached Zendesk
        try:
            self._client.users.delete(User(id=int(change.remote_id)))
        except RecordNotFoundException:
            pass  # already gone counts as done
        except APIException as exc:
            return self._record_error(change, exc)
        return PushResult.ok(change, None, remote_type="user")
