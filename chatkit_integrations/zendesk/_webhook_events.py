"""Zendesk part: webhook deliveries verified (signature, age) and mapped to changes.

The signatures themselves are computed in ``webhooks.py`` (which the
emulator uses too, without zenpy).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatkit.errors import WebhookVerificationError
from chatkit.integrations import InboundChange
from chatkit.webhooks import read_webhook_json

from ._client import _ZendeskClient
from ._mapping import comment_change, parse_time, ticket_change, user_change
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook


class _Webhooks(_ZendeskClient):
    """Zendesk webhook events, inbound."""

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        """Check a Zendesk webhook's signature and age, and map its event.

        Signature: ``X-Zendesk-Webhook-Signature`` is
        ``base64(HMAC-SHA256(webhook_secret, timestamp + body))`` with the
        timestamp from ``X-Zendesk-Webhook-Signature-Timestamp``; it is
        compared in constant time, and deliveries signed more than
        ``webhook_replay_seconds`` away from now are refused.

        Payload: a Zendesk event (``type``, ``detail``, ``event``, ``time``), as
        webhooks subscribed to events send them and as a trigger's webhook
        should be configured to send them:

        - ``zen:event-type:ticket.*``: ``detail`` is the ticket (``id``,
          ``external_id``, ``subject``, ``status``, ``priority``, ``tags``,
          ``requester_id``, ``updated_at``; ids may be strings and status and
          priority upper case); gives a conversation change. With
          ``ticket.comment_added``, ``event.comment`` (``id``, ``body``,
          ``is_public``, ``author`` with ``id`` and ``name``) also gives a
          message or note. ``ticket.soft_deleted`` and
          ``ticket.permanently_deleted`` give a delete.
        - ``zen:event-type:user.*``: ``detail`` is the user (``id``, ``name``,
          ``email``, ``phone``, ``external_id``, ``role``, ``updated_at``);
          gives a contact change for end users. ``user.deleted`` gives a delete.

        Other event types give no change.

        Raises:
            WebhookVerificationError: No secret configured, missing or bad
                signature, outside the replay window, or not a JSON event.
        """
        secret = self.config.webhook_secret
        if secret is None:
            raise WebhookVerificationError(
                "no webhook_secret is configured for zendesk", integration=self.name
            )
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = lowered.get(SIGNATURE_HEADER.lower())
        stamp = lowered.get(TIMESTAMP_HEADER.lower())
        if not signature or not stamp:
            raise WebhookVerificationError(
                "the Zendesk signature headers are missing", integration=self.name
            )
        expected = sign_webhook(body, secret=secret.get_secret_value(), timestamp=stamp)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WebhookVerificationError("bad webhook signature", integration=self.name)
        try:
            signed_at = parse_time(stamp)
        except ValueError:
            raise WebhookVerificationError(
                "the signature timestamp is not a time", integration=self.name
            ) from None
        age = abs((datetime.now(UTC) - signed_at).total_seconds())
        if age > self.config.webhook_replay_seconds:
            raise WebhookVerificationError(
                f"the delivery was signed {age:.0f}s away from now "
                f"(window {self.config.webhook_replay_seconds:g}s)",
                integration=self.name,
            )
        payload = read_webhook_json(body, integration=self.name)
        try:
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            event_type = str(payload.get("type") or "")
            needs_me = event_type.endswith("ticket.comment_added")
            me = (await self._run(self._me_id)) if needs_me else self._me
            return _webhook_changes(payload, event_type, me)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError(
                f"not a Zendesk event payload: {type(exc).__name__}", integration=self.name
            ) from None


def _webhook_changes(
    payload: Mapping[str, Any], event_type: str, me: int | None
) -> list[InboundChange]:
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        raise ValueError("no detail")
    kind = event_type.removeprefix("zen:event-type:")
    when = detail.get("updated_at") or payload.get("time")
    if kind.startswith("user."):
        user = {**detail, "updated_at": when}
        if kind == "user.deleted":
            user["active"] = False
        change = user_change(user)
        return [change] if change is not None else []
    if not kind.startswith("ticket."):
        return []
    ticket = {**detail, "updated_at": when}
    if kind in ("ticket.soft_deleted", "ticket.permanently_deleted"):
        ticket["status"] = "deleted"
    changes = [ticket_change(ticket)]
    event = payload.get("event")
    comment = event.get("comment") if isinstance(event, dict) else None
    if kind == "ticket.comment_added" and isinstance(comment, dict):
        found = comment.get("author")
        author: dict[str, Any] = found if isinstance(found, dict) else {}
        changes.append(
            comment_change(
                {
                    "id": comment["id"],
                    "body": comment.get("body") or "",
                    "public": comment.get("is_public", True),
                    "author_id": author.get("id"),
                    "created_at": payload.get("time") or when,
                },
                ticket_id=detail["id"],
                our_user_id=me,
                author_name=author.get("name"),
                from_customer=author.get("is_staff") is False,
            )
        )
    return changes
