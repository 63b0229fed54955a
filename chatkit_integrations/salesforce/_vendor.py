"""simple-salesforce and requests, imported once for every part of the integration
(with the install hint when the ``salesforce`` extra is missing)."""

from __future__ import annotations

from chatkit._optional import missing

try:
    import requests
    from requests.adapters import HTTPAdapter
    from simple_salesforce.api import Salesforce, SFType
    from simple_salesforce.exceptions import (
        SalesforceAuthenticationFailed,
        SalesforceError,
        SalesforceExpiredSession,
        SalesforceRefusedRequest,
    )
    from simple_salesforce.login import SalesforceLogin
except ImportError as exc:
    raise missing("simple_salesforce", "the Salesforce integration", exc) from exc

__all__ = [
    "HTTPAdapter",
    "Salesforce",
    "SalesforceAuthenticationFailed",
    "SalesforceError",
    "SalesforceExpiredSession",
    "SalesforceLogin",
    "SalesforceRefusedRequest",
    "SFType",
    "requests",
]
