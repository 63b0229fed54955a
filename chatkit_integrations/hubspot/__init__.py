"""HubSpot CRM, synced with the vendor's client ``hubspot-api-client``.

Modules: `integration` (the ``hubspot`` integration: contacts, tickets and
notes), `emulator` (an emulator of the HubSpot CRM API for offline tests, needs
``chatkit[emulators]``) and `webhooks` (HubSpot's v3 webhook signatures).
Nothing is imported here, so the optional dependencies load only when used.
"""

from __future__ import annotations

__all__: list[str] = []
