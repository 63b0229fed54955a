"""The plugin contract for CRM and help-desk integrations.

An integration is a package that subclasses `Integration`, declares its
`Capabilities` and its `IntegrationConfig`, and registers the class under the
entry-point group ``chatkit.integrations``. chatkit itself ships none: the
first-party ones in ``chatkit_integrations`` use this contract exactly as a
third-party package does. `chatkit.sync` drives them.

Example:
    ```python
    from chatkit.integrations import integrations

    zendesk_class = integrations.load("zendesk")
    async with zendesk_class.from_env() as zendesk:   # CHATKIT_ZENDESK_...
        status = await zendesk.check()
    ```
"""

from __future__ import annotations

from .base import Integration
from .capabilities import Capabilities, Direction, ObjectSync, RateBudget, SyncObject
from .config import IntegrationConfig, env_prefix
from .loader import GROUP, INSTALL_HINTS, Installed, IntegrationLoader, integrations
from .records import (
    ChangeAction,
    HealthState,
    HealthStatus,
    InboundChange,
    OutboundChange,
    PullPage,
    PushResult,
    PushStatus,
)

__all__ = [
    "GROUP",
    "INSTALL_HINTS",
    "Capabilities",
    "ChangeAction",
    "Direction",
    "HealthState",
    "HealthStatus",
    "InboundChange",
    "Installed",
    "Integration",
    "IntegrationConfig",
    "IntegrationLoader",
    "ObjectSync",
    "OutboundChange",
    "PullPage",
    "PushResult",
    "PushStatus",
    "RateBudget",
    "SyncObject",
    "env_prefix",
    "integrations",
]
