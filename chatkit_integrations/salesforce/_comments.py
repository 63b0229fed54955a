"""Salesforce part: messages and notes as CaseComments, transcripts as ContentVersions."""

from __future__ import annotations

import base64
from typing import Any

from chatkit.errors import PermanentIntegrationError
from chatkit.integrations import OutboundChange, PushResult, SyncObject

from ._client import (
    _chunks,
    _create_version,
    _Outcome,
    _query_all,
    _quote,
    _SalesforceClient,
    _version_document,
)
from ._mapping import comment_body


class _CommentsPush(_SalesforceClient):
    """Case comments and transcripts, outbound; a retried one finds what an earlier try wrote."""

    def _upsert_comments(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        ready: list[OutboundChange] = []
        for change in batch:
            if change.remote_id or change.parent_remote_id:
                ready.append(change)
            else:  # the case is not in Salesforce yet: the engine pushes it first
                outcome.results[change.change_id] = PushResult.retryable(
                    change, "the conversation's case is not in Salesforce yet"
                )
        found = self._find_comments([c for c in ready if c.attempt > 1 and not c.remote_id])
        updates = [c for c in ready if c.remote_id or c.change_id in found]
        creates = [c for c in ready if c not in updates]
        for chunk in _chunks(updates):
            records = [
                {
                    "attributes": {"type": "CaseComment"},
                    "id": change.remote_id or found[change.change_id],
                    "CommentBody": comment_body(change.data.get("text")),
                    "IsPublished": change.object is SyncObject.MESSAGE,
                }
                for change in chunk
            ]
            self._apply(
                chunk,
                self._collection("PATCH", "composite/sobjects", records),
                outcome,
                "CaseComment",
            )
        for chunk in _chunks(creates):
            records = [
                {
                    "attributes": {"type": "CaseComment"},
                    "ParentId": change.parent_remote_id,
                    "CommentBody": comment_body(change.data.get("text")),
                    "IsPublished": change.object is SyncObject.MESSAGE,
                }
                for change in chunk
            ]
            self._apply(
                chunk,
                self._collection("POST", "composite/sobjects", records),
                outcome,
                "CaseComment",
            )

    def _find_comments(self, retried: list[OutboundChange]) -> dict[str, str]:
        """For retried comments, the comment an earlier try created: ``{change_id: id}``.

        CommentBody cannot be filtered in SOQL: the cases' comments by our API
        user are read and compared here. Each comment answers one change.
        """
        if not retried:
            return {}
        user = self._api_user()
        found: dict[str, str] = {}
        taken: set[str] = set()
        parents = sorted({str(c.parent_remote_id) for c in retried})
        for chunk in _chunks(parents):
            where = f"ParentId IN ({', '.join(_quote(p) for p in chunk)})"
            if user:
                where += f" AND CreatedById = {_quote(user)}"
            soql = (
                "SELECT Id, ParentId, CommentBody, IsPublished FROM CaseComment "
                f"WHERE {where} ORDER BY CreatedDate, Id"
            )
            rows = self._call(_query_all(soql))["records"]
            for change in retried:
                body = comment_body(change.data.get("text"))
                public = change.object is SyncObject.MESSAGE
                for row in rows:
                    if (
                        row["Id"] not in taken
                        and row["ParentId"] == change.parent_remote_id
                        and row["CommentBody"] == body
                        and bool(row["IsPublished"]) == public
                    ):
                        found[change.change_id] = row["Id"]
                        taken.add(row["Id"])
                        break
        return found

    def _upsert_transcripts(self, batch: list[OutboundChange], outcome: _Outcome) -> None:
        for change in batch:
            if not change.parent_remote_id:
                outcome.results[change.change_id] = PushResult.retryable(
                    change, "the conversation's case is not in Salesforce yet"
                )
                continue
            filename = str(change.data.get("filename") or f"{change.local_id}.txt")
            document_id = change.remote_id
            if document_id is None and change.attempt > 1:
                document_id = self._find_transcript(change.parent_remote_id, filename)
            record: dict[str, Any] = {
                "Title": filename,
                "PathOnClient": filename,
                "VersionData": base64.b64encode(
                    str(change.data.get("text") or "").encode("utf-8")
                ).decode("ascii"),
            }
            if document_id:
                record["ContentDocumentId"] = document_id
            else:
                record["FirstPublishLocationId"] = change.parent_remote_id
            try:
                created = self._call(_create_version(record))
            except PermanentIntegrationError as exc:
                outcome.results[change.change_id] = PushResult.permanent(change, str(exc))
                continue
            outcome.wrote = True
            version_id = str(created["id"])
            if not document_id:
                version = self._call(_version_document(version_id))
                document_id = str(version["ContentDocumentId"])
            outcome.results[change.change_id] = PushResult.ok(
                change, document_id, remote_type="ContentDocument", remote_version=version_id
            )

    def _find_transcript(self, case_id: str, title: str) -> str | None:
        soql = (
            "SELECT ContentDocumentId FROM ContentVersion WHERE "
            f"FirstPublishLocationId = {_quote(case_id)} AND Title = {_quote(title)} "
            "AND IsLatest = true ORDER BY CreatedDate DESC LIMIT 1"
        )
        rows = self._call(_query_all(soql))["records"]
        return str(rows[0]["ContentDocumentId"]) if rows else None
