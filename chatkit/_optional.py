"""Optional dependencies: import what an extra provides, or fail with the install hint.

Every import of a package that is not a core dependency goes through here,
either as ``import_optional("yaml", "reading rules from YAML")`` or, for
``from ... import`` at the top of a module, as::

    try:
        from starlette.applications import Starlette
    except ImportError as exc:
        raise missing("starlette", "the Zendesk emulator", exc) from exc

Either way the caller gets a `MissingDependencyError` whose one-line message
names the package and the extra (``pip install 'chatkit[yaml]'``). `EXTRAS`
says which extra provides which module; a test checks it against
``pyproject.toml`` and that every optional import in the code base is listed.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

from .errors import MissingDependencyError

__all__ = ["EXTRAS", "PACKAGES", "extra_for", "import_optional", "missing"]

EXTRAS: Final[dict[str, str]] = {
    "yaml": "yaml",
    "psycopg": "postgres",
    "psycopg_pool": "postgres",
    "redis": "redis",
    "vaderSentiment": "vader",
    "starlette": "emulators",
    "uvicorn": "emulators",
    "trustme": "emulators",
    "zenpy": "zendesk",
    "simple_salesforce": "salesforce",
    "hubspot": "hubspot",
    "dropbox": "dropbox",
    "fastapi": "web",
    "websockets": "web",
    "aiobotocore": "s3",
    "matplotlib": "reports",
    "pyarrow": "reports",
    "twilio": "twilio",
    "phonenumbers": "twilio",
}
"""Top-level module -> the chatkit extra (``pyproject.toml``) that installs it."""

PACKAGES: Final[dict[str, str]] = {
    "yaml": "PyYAML",
    "psycopg": "psycopg",
    "psycopg_pool": "psycopg[pool]",
    "redis": "redis",
    "vaderSentiment": "vaderSentiment",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "trustme": "trustme",
    "zenpy": "zenpy",
    "simple_salesforce": "simple-salesforce",
    "hubspot": "hubspot-api-client",
    "dropbox": "dropbox",
    "fastapi": "fastapi",
    "websockets": "websockets",
    "aiobotocore": "aiobotocore",
    "matplotlib": "matplotlib",
    "pyarrow": "pyarrow",
    "twilio": "twilio",
    "phonenumbers": "phonenumbers",
}
"""Top-level module -> the distribution name that provides it (what the message names)."""


def extra_for(module: str) -> str:
    """The extra that installs ``module`` (dotted names count by their top level).

    Raises:
        KeyError: ``module`` is not an optional dependency of chatkit.
    """
    return EXTRAS[module.partition(".")[0]]


def missing(module: str, feature: str, error: ImportError | None = None) -> MissingDependencyError:
    """The error to raise when importing an optional ``module`` for ``feature`` failed.

    When ``error`` names another registered module (a ``try`` block importing
    several), the message is about that one.
    """
    top = module.partition(".")[0]
    failed = ((error.name if error is not None else None) or "").partition(".")[0]
    if failed in EXTRAS:
        top = failed
    return MissingDependencyError(
        feature=feature, module=top, package=PACKAGES[top], extra=EXTRAS[top]
    )


def import_optional(module: str, feature: str) -> ModuleType:
    """Import ``module`` (from an extra) for ``feature``.

    Raises:
        MissingDependencyError: It is not installed; the message says what to
            ``pip install``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing(module, feature, exc) from exc
