"""The uploads of the emulated Zendesk account: upload tokens, attachments and their bytes."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from ._records import Record, attachment_record, invalid, iso, not_found


class _UploadState:
    """Uploads and attachments of `ZendeskState`."""

    base_url: str
    clock: Callable[[], datetime]
    lock: threading.RLock
    uploads: dict[str, list[int]]
    attachments: dict[int, tuple[Record, bytes]]
    _attachment_ids: itertools.count[int]

    def create_upload(
        self, filename: str, content: bytes, *, content_type: str, token: str | None = None
    ) -> Record:
        """Store a file as ``POST /api/v2/uploads.json`` does; returns the ``upload`` record.

        Passing the ``token`` of an earlier upload adds the file to it. A
        comment that names the token in ``uploads`` gets the files attached.
        """
        with self.lock:
            if not filename:
                raise invalid("filename", "Filename: cannot be blank", "BlankValue")
            if token is not None and token not in self.uploads:
                raise not_found()
            token = token or secrets.token_urlsafe(18)
            attachment_id = next(self._attachment_ids)
            attachment = attachment_record(
                attachment_id,
                base_url=self.base_url,
                token=token,
                filename=filename,
                content_type=content_type,
                size=len(content),
            )
            self.attachments[attachment_id] = (attachment, bytes(content))
            self.uploads.setdefault(token, []).append(attachment_id)
            attachments = [copy.deepcopy(self.attachments[i][0]) for i in self.uploads[token]]
            expires = self.clock() + timedelta(days=3)
            return {
                "token": token,
                "expires_at": iso(expires),
                "attachments": attachments,
                "attachment": copy.deepcopy(attachment),
            }

    def get_attachment(self, attachment_id: int) -> Record:
        """The attachment ``attachment_id``; raises a 404 `ZendeskAPIError` when missing."""
        with self.lock:
            if attachment_id not in self.attachments:
                raise not_found()
            return copy.deepcopy(self.attachments[attachment_id][0])

    def attachment_content(self, attachment_id: int) -> bytes:
        """The bytes of an uploaded file."""
        with self.lock:
            if attachment_id not in self.attachments:
                raise not_found()
            return self.attachments[attachment_id][1]
