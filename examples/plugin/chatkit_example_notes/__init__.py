"""Example chatkit integration: conversations as signed JSON files in a folder."""

from __future__ import annotations

from .integration import NotesConfig, NotesIntegration, verify

__all__ = ["NotesConfig", "NotesIntegration", "verify"]
