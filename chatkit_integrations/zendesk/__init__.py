"""Zendesk Support, synced with the vendor's client ``zenpy``.

Modules: `integration` (`ZendeskIntegration` and `ZendeskConfig`, the entry
point ``zendesk``; needs ``chatkit[zendesk]``), `emulator` (an emulator of the
Zendesk API for offline tests, needs ``chatkit[emulators]``) and `webhooks`
(Zendesk's webhook signatures). Nothing is imported here, so the optional
dependencies load only when used.
"""

from __future__ import annotations

__all__: list[str] = []
