"""Salesforce (Service Cloud), synced with the vendor's client ``simple-salesforce``.

Modules: `integration` (the `chatkit.integrations.Integration` for contacts,
cases, case comments and transcript files, needs ``chatkit[salesforce]``) and
`emulator` (an HTTPS emulator of the Salesforce REST API for offline tests,
needs ``chatkit[emulators]``). Nothing is imported here, so the optional
dependencies load only when used.
"""

from __future__ import annotations

__all__: list[str] = []
