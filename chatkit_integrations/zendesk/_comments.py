"""Zendesk part: messages and notes pushed as ticket comments, transcripts as uploads.

Comments go in the fewest ``update_many`` jobs Zendesk allows (`_schedule`);
a retried change first looks for the comment it may have written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from io import BytesIO
from typing import Any

from chatkit.integrations import ChangeAction, OutboundChange, PushResult, PushStatus, SyncObject

from ._client import _DIRECT_MAX, BATCH, _job_error, _Outcome, _update_result, _ZendeskClient
from ._zenpy import APIException, Comment, RecordNotFoundException, Ticket


@dataclass
class _CommentWrite:
    """A comment to add to a ticket for one change."""

    change: OutboundChange
    ticket_id: int
    comment: dict[str, Any]
    remote_type: str


@dataclass
class _Found:
    """Comments read for the lookups of one push, and the ones already matched."""

    listed: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    taken: set[Any] = field(default_factory=set)


class _CommentsPush(_ZendeskClient):
    """Messages, notes and transcripts → ticket comments, outbound."""

    def _push_comments(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Messages and notes as ticket updates carrying a comment, in ``update_many`` jobs."""
        found = _Found()
        writes: list[_CommentWrite] = []
        for change in changes:
            public = change.object is SyncObject.MESSAGE
            remote_type = "comment" if public else "private_comment"
            if change.action is ChangeAction.DELETE:
                outcome.set(
                    PushResult.permanent(
                        change, "Zendesk comments cannot be deleted; redact them in Zendesk"
                    )
                )
                continue
            if change.remote_id:  # comments never change once written
                outcome.set(PushResult.ok(change, change.remote_id, remote_type=remote_type))
                continue
            ticket_id = _ticket_id(change)
            if ticket_id is None:
                outcome.set(PushResult.retryable(change, "its conversation is not in Zendesk yet"))
                continue
            text = str(change.data.get("text") or "").strip()
            if not text:
                outcome.set(PushResult.permanent(change, "an empty message"))
                continue
            if change.attempt > 1:
                comment = self._find_comment(
                    found, ticket_id, partial(_same_comment, text=text, public=public)
                )
                if comment is not None:
                    outcome.set(_comment_ok(change, comment, remote_type))
                    continue
            writes.append(
                _CommentWrite(change, ticket_id, {"body": text, "public": public}, remote_type)
            )
        self._write_comments(writes, outcome)

    def _push_transcripts(self, changes: list[OutboundChange], outcome: _Outcome) -> None:
        """Each transcript uploaded (``POST /uploads``), then private comments as for notes."""
        found = _Found()
        writes: list[_CommentWrite] = []
        for change in changes:
            if change.action is ChangeAction.DELETE:
                outcome.set(
                    PushResult.permanent(
                        change, "Zendesk attachments cannot be deleted here; redact in Zendesk"
                    )
                )
                continue
            if change.remote_id:
                outcome.set(PushResult.ok(change, change.remote_id, remote_type="upload"))
                continue
            ticket_id = _ticket_id(change)
            if ticket_id is None:
                outcome.set(PushResult.retryable(change, "its conversation is not in Zendesk yet"))
                continue
            filename = str(change.data.get("filename") or f"transcript-{change.local_id}.txt")
            if change.attempt > 1:
                comment = self._find_comment(
                    found, ticket_id, partial(_has_attachment, filename=filename)
                )
                if comment is not None:
                    outcome.set(_comment_ok(change, comment, "upload"))
                    continue
            content = str(change.data.get("text") or "").encode("utf-8")
            content_type = str(change.data.get("content_type") or "text/plain; charset=utf-8")
            try:
                with self._writing(outcome, idempotent=True):  # an unused upload expires
                    upload = self._client.attachments.upload(
                        BytesIO(content), target_name=filename, content_type=content_type
                    )
            except APIException as exc:
                outcome.set(self._record_error(change, exc))
                continue
            comment_fields = {
                "body": f"Transcript of the conversation: {filename}",
                "public": False,
                "uploads": [upload.token],
            }
            writes.append(_CommentWrite(change, ticket_id, comment_fields, "upload"))
        self._write_comments(writes, outcome)

    def _find_comment(
        self, found: _Found, ticket_id: int, matches: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        """Our first comment on ``ticket_id`` that ``matches`` and no other change took.

        The ticket's comments are read once per push (only retried changes
        need this).
        """
        if ticket_id not in found.listed:
            try:
                comments = self._client.tickets.comments(ticket=ticket_id)
                found.listed[ticket_id] = [c.to_dict() for c in comments]
            except RecordNotFoundException:
                found.listed[ticket_id] = []
        me = self._me_id()
        for comment in found.listed[ticket_id]:
            if comment.get("id") in found.taken or comment.get("author_id") != me:
                continue
            if matches(comment):
                found.taken.add(comment.get("id"))
                return comment
        return None

    def _write_comments(self, writes: list[_CommentWrite], outcome: _Outcome) -> None:
        """Write comments in as few ``update_many`` jobs as Zendesk allows.

        A job updates each ticket at most once and 100 tickets at most, so
        ``k`` comments on one ticket need ``k`` jobs: the jobs are
        ``max(k, ceil(n / 100))``, filled evenly (`_schedule`), one after
        the other so that a ticket's comments arrive in order. A job of two
        comments or fewer is made of plain ticket updates instead (one call
        each, and the answer names the comment). When a comment of a ticket
        is not confirmed, the ticket's later comments wait for the next try.
        The job results carry no comment ids: those results are OK without
        a remote id (a pull links them).
        """
        blocked: set[int] = set()
        for job in _schedule(writes):
            ready: list[_CommentWrite] = []
            for write in job:
                if write.ticket_id in blocked:
                    outcome.set(
                        PushResult.retryable(
                            write.change, "an earlier comment on its ticket is not confirmed yet"
                        )
                    )
                else:
                    ready.append(write)
            if len(ready) <= _DIRECT_MAX:
                for write in ready:
                    outcome.set(self._add_comment(write, outcome))
            else:
                self._comment_job(ready, outcome)
            for write in ready:
                if outcome.results[write.change.change_id].status is PushStatus.RETRYABLE:
                    blocked.add(write.ticket_id)

    def _comment_job(self, writes: list[_CommentWrite], outcome: _Outcome) -> None:
        tickets = [Ticket(id=w.ticket_id, comment=Comment(**w.comment)) for w in writes]
        changes = [w.change for w in writes]
        results = self._job(
            changes, outcome, lambda: self._client.tickets.update(tickets), idempotent=False
        )
        for index, write in enumerate(writes if results is not None else []):
            result = _update_result(results or [], index, write.ticket_id)
            if result is None:
                outcome.set(PushResult.retryable(write.change, "the job reported nothing for it"))
            elif result.get("error") or result.get("success") is False:
                outcome.set(PushResult.permanent(write.change, _job_error(result)))
            else:
                outcome.set(PushResult.ok(write.change, None, remote_type=write.remote_type))

    def _add_comment(self, write: _CommentWrite, outcome: _Outcome) -> PushResult:
        """One ticket update carrying the comment; the audit names the new comment's id."""
        change = write.change
        try:
            with self._writing(outcome, idempotent=False):
                audit = self._client.tickets.update(
                    Ticket(id=write.ticket_id, comment=Comment(**write.comment))
                )
        except APIException as exc:
            return self._record_error(change, exc)
        events = audit.audit.to_dict().get("events") or []
        made = next((e for e in events if e.get("type") == "Comment"), None)
        if made is None:
            return PushResult.retryable(change, "Zendesk recorded no comment")
        return PushResult.ok(
            change,
            str(made["id"]),
            remote_type=write.remote_type,
            remote_version=audit.audit.created_at,
        )


def _schedule(writes: list[_CommentWrite]) -> list[list[_CommentWrite]]:
    """Comments spread over the fewest jobs: each ticket at most once per job, 100 per job.

    With ``n`` comments and at most ``k`` on one ticket, that is
    ``m = max(k, ceil(n / 100))`` jobs. Going round the jobs, each ticket
    takes the next ``k_i`` of them (distinct, as ``k_i <= m``), and its
    comments go to those jobs in ascending order, so they are written in
    order; every job gets ``floor(n / m)`` or ``ceil(n / m) <= 100`` comments.
    """
    if not writes:
        return []
    by_ticket: dict[int, list[_CommentWrite]] = {}
    for write in writes:
        by_ticket.setdefault(write.ticket_id, []).append(write)
    count = max(max(len(group) for group in by_ticket.values()), -(-len(writes) // BATCH))
    jobs: list[list[_CommentWrite]] = [[] for _ in range(count)]
    position = 0
    for group in by_ticket.values():
        slots = sorted((position + offset) % count for offset in range(len(group)))
        for slot, write in zip(slots, group, strict=True):
            jobs[slot].append(write)
        position = (position + len(group)) % count
    return jobs


def _comment_ok(change: OutboundChange, comment: Mapping[str, Any], remote_type: str) -> PushResult:
    created = comment.get("created_at")
    return PushResult.ok(
        change,
        str(comment["id"]),
        remote_type=remote_type,
        remote_version=str(created) if created else None,
    )


def _ticket_id(change: OutboundChange) -> int | None:
    parent = change.parent_remote_id
    return int(parent) if parent and parent.isdigit() else None


def _same_comment(comment: Mapping[str, Any], text: str, public: bool) -> bool:
    body = str(comment.get("plain_body") or comment.get("body") or "").strip()
    return body == text and bool(comment.get("public")) is public


def _has_attachment(comment: Mapping[str, Any], filename: str) -> bool:
    attachments = comment.get("attachments") or []
    return comment.get("public") is False and any(
        isinstance(a, dict) and a.get("file_name") == filename for a in attachments
    )
