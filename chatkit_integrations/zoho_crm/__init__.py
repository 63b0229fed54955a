"""Zoho CRM: contacts, cases and notes, both ways (REST API v7, over httpx)."""

from __future__ import annotations

__all__: list[str] = []
