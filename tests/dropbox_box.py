"""One Dropbox emulator per test process: the SDK reads its host when first imported.

Importing this module starts it on a free port and points the ``DROPBOX_API_*``
variables at it, so import it before anything imports ``dropbox``; tests
share it through `box`, which resets it.
"""

from __future__ import annotations

import atexit
import os

from chatkit_integrations.dropbox.emulator import DropboxEmulator

BOX = DropboxEmulator().start()
os.environ.update(BOX.environ())
atexit.register(BOX.stop)


def box() -> DropboxEmulator:
    """The process's emulator, reset (no files, no failures, new tokens)."""
    BOX.reset()
    return BOX
