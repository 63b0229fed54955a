"""First-party chatkit integrations, one vendor per sub-package.

Each vendor package is shaped alike: a client, the mapping between chatkit and
vendor records, the `chatkit.integrations.Integration` subclass, and an
emulator of the vendor API (an ASGI app) so the vendor's real Python client can
be tested offline. These packages use only chatkit's public contract, exactly
as a third-party package would; ``chatkit`` never imports them.

Nothing is imported here: a vendor package and its optional dependencies
(``chatkit[zendesk]``, ``chatkit[emulators]``) load only when used.
"""

from __future__ import annotations

__all__: list[str] = []
