"""Salesforce part: pull, one SOQL query per object on ``SystemModstamp``, with its cursor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from chatkit.errors import PermanentIntegrationError
from chatkit.integrations import ChangeAction, InboundChange, PullPage, SyncObject

from .._time import parse_iso_datetime
from ._client import NAME, _query_all, _SalesforceClient
from ._mapping import case_to_chatkit, contact_to_chatkit

_PULLED = ("Contact", "Case", "CaseComment")


class _Pull(_SalesforceClient):
    """Contacts, cases and case comments changed in Salesforce, inbound."""

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Contacts, cases and case comments changed after ``cursor``, oldest first."""
        return await self._run(self._pull, cursor, limit)

    def _pull(self, cursor: str | None, limit: int) -> PullPage:
        positions = _read_cursor(cursor)
        user = self._api_user()
        field = self.config.external_id_field
        selects = {
            "Contact": f"Id, Name, Email, Phone, MobilePhone, {field}, IsDeleted, SystemModstamp",
            "Case": f"Id, Subject, Status, Priority, ContactId, {field}, IsDeleted, SystemModstamp",
            "CaseComment": "Id, ParentId, CommentBody, IsPublished, CreatedById, CreatedBy.Name, "
            "IsDeleted, SystemModstamp",
        }
        rows: list[tuple[str, int, str, str, dict[str, Any]]] = []
        more = False
        for rank, sobject in enumerate(_PULLED):
            where, seen, stamp = "", frozenset[str](), None
            if sobject in positions:
                stamp, seen_ids = positions[sobject]
                seen = frozenset(seen_ids)
                where = f" WHERE SystemModstamp >= {_soql_datetime(stamp)}"
            soql = (
                f"SELECT {selects[sobject]} FROM {sobject}{where} "
                f"ORDER BY SystemModstamp, Id LIMIT {limit + len(seen) + 1}"
            )
            records = [
                record
                for record in self._call(_query_all(soql, include_deleted=True))["records"]
                if not (
                    str(record["Id"]) in seen
                    and stamp is not None
                    and _parse_datetime(str(record["SystemModstamp"])) == _parse_datetime(stamp)
                )
            ]
            more = more or len(records) > limit
            for record in records[:limit]:
                moment = _parse_datetime(str(record["SystemModstamp"]))
                rows.append((moment.isoformat(), rank, str(record["Id"]), sobject, record))
        rows.sort(key=lambda row: row[:3])
        taken, rest = rows[:limit], rows[limit:]
        for _, _, record_id, sobject, record in taken:
            record_stamp = str(record["SystemModstamp"])
            previous = positions.get(sobject)
            if previous is not None and _parse_datetime(previous[0]) == _parse_datetime(
                record_stamp
            ):
                positions[sobject] = (previous[0], [*previous[1], record_id])
            else:
                positions[sobject] = (record_stamp, [record_id])
        changes = tuple(self._inbound(sobject, record, user) for *_, sobject, record in taken)
        return PullPage(
            changes=changes,
            cursor=_write_cursor(positions) if positions else cursor,
            has_more=more or bool(rest),
        )

    def _inbound(self, sobject: str, record: dict[str, Any], user: str | None) -> InboundChange:
        action = ChangeAction.DELETE if record.get("IsDeleted") else ChangeAction.UPSERT
        common: dict[str, Any] = {
            "action": action,
            "remote_type": sobject,
            "remote_id": str(record["Id"]),
            "remote_version": str(record["SystemModstamp"]),
            "changed_at": _parse_datetime(str(record["SystemModstamp"])),
        }
        field = self.config.external_id_field
        if sobject == "Contact":
            return InboundChange(
                object=SyncObject.CONTACT,
                local_id=record.get(field) or None,
                data=contact_to_chatkit(record) if action is ChangeAction.UPSERT else {},
                **common,
            )
        if sobject == "Case":
            return InboundChange(
                object=SyncObject.CONVERSATION,
                local_id=record.get(field) or None,
                parent_remote_id=record.get("ContactId") or None,
                data=case_to_chatkit(record) if action is ChangeAction.UPSERT else {},
                **common,
            )
        author = record.get("CreatedBy")
        data: dict[str, JsonValue] = {}
        if action is ChangeAction.UPSERT:
            data = {
                "text": record.get("CommentBody") or "",
                "author_name": author.get("Name") if isinstance(author, dict) else None,
                "from_integration": user is not None and record.get("CreatedById") == user,
            }
        return InboundChange(
            object=SyncObject.MESSAGE if record.get("IsPublished") else SyncObject.NOTE,
            parent_remote_id=record.get("ParentId") or None,
            data=data,
            **common,
        )


def _parse_datetime(text: str) -> datetime:
    moment = parse_iso_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _soql_datetime(stamp: str) -> str:
    """``2026-03-01T09:15:00.000Z``: a SOQL datetime literal with milliseconds."""
    moment = _parse_datetime(stamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _read_cursor(cursor: str | None) -> dict[str, tuple[str, list[str]]]:
    if not cursor:
        return {}
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        return {
            str(sobject): (str(position[0]), [str(i) for i in position[1]])
            for sobject, position in raw.items()
            if sobject in _PULLED
        }
    except (ValueError, TypeError, IndexError, AttributeError):
        raise PermanentIntegrationError(
            "salesforce: the saved pull cursor is not one of ours", integration=NAME
        ) from None


def _write_cursor(positions: dict[str, tuple[str, list[str]]]) -> str:
    """Per object, the last SystemModstamp returned and the ids returned at it (base64 JSON).

    The next query asks for ``SystemModstamp >=`` that stamp and drops those
    ids: records sharing a stamp are neither skipped nor repeated, even one
    changed later within the same millisecond whatever its id.
    """
    raw = {sobject: list(positions[sobject]) for sobject in _PULLED if sobject in positions}
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()
