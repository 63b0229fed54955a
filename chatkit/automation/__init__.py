"""Automation: reply templates, canned responses and declarative rules.

Everything here is pure data and pure functions: nothing is stored, sent or
scheduled. Parse templates and load rules when your application starts, so
mistakes surface then; evaluate rules on each event and carry out the
actions they return.
"""

from __future__ import annotations

from .templates import DEFAULT_ROOTS, CannedResponse, Template, suggest

__all__ = ["DEFAULT_ROOTS", "CannedResponse", "Template", "suggest"]
