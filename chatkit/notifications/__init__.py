"""Ticket notifications: e-mail to customers and agents, and a notifier contract for the rest.

`chatkit.services.Notifications` reads ticket events from the outbox and
hands each recipient's `Notification` to every `Notifier` that can reach
them: the built-in `EmailNotifier` (SMTP), a `MemoryNotifier` for tests,
or your own (Slack, SMS, push), registered in code or published under the
``chatkit.notifiers`` entry-point group.
"""

from __future__ import annotations

from .base import (
    MemoryNotifier,
    Notification,
    NotificationError,
    NotificationKind,
    Notifier,
    PermanentNotificationError,
    Recipient,
    RecipientKind,
    RetryableNotificationError,
    notifiers,
)
from .email import EmailNotifier, message_id
from .settings import NotificationSettings
from .templates import DEFAULT_TEMPLATES, NotificationTemplate, choose_template

__all__ = [
    "DEFAULT_TEMPLATES",
    "EmailNotifier",
    "MemoryNotifier",
    "Notification",
    "NotificationError",
    "NotificationKind",
    "NotificationSettings",
    "NotificationTemplate",
    "Notifier",
    "PermanentNotificationError",
    "Recipient",
    "RecipientKind",
    "RetryableNotificationError",
    "choose_template",
    "message_id",
    "notifiers",
]
