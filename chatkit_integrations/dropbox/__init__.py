"""Dropbox, the transcript archive, on the vendor's SDK ``dropbox``.

Modules: `integration` (`DropboxIntegration` and `DropboxConfig`, the entry
point ``dropbox``; needs ``chatkit[dropbox]``) and `emulator` (an emulator of
the Dropbox API v2 for offline tests, needs ``chatkit[emulators]``). Nothing
is imported here, so the optional dependencies load only when used.
"""

from __future__ import annotations

__all__: list[str] = []
