"""Websites: the sites whose visitors chat through the web app (`chatkit.web`)."""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidInputError, NotFoundError
from ..models import WebSession, Website, WidgetSettings
from ..models._base import new_id, utcnow
from ..stores.base import Delete, Insert, Lt, Update
from ._core import UNSET, Unset, changed, check_names, checked
from .contacts import Service

__all__ = ["Websites"]

_MAX_WEBSITES = 10_000


def _public_key() -> str:
    return f"wk_{secrets.token_urlsafe(24)}"


def _identity_secret() -> str:
    return secrets.token_urlsafe(32)


def _widget(value: object) -> WidgetSettings:
    if isinstance(value, WidgetSettings):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError("widget must be WidgetSettings or a mapping", field="widget")
    try:
        return WidgetSettings.model_validate(dict(value))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInputError(
            f"widget.{where}: {first.get('msg', 'invalid')}"[:300], field=f"widget.{where}"[:200]
        ) from None


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{field} must be true or false", field=field)
    return value


class Websites(Service):
    """Websites (and apps) whose visitors reach the customer API of the web app.

    Each has a public key its widget sends, the browser origins allowed to
    call (matched exactly), and an identity secret for the identity hash of
    signed-in users. They live in the store, so every process serving the
    web app sees the same configuration.

    Example:
        ```python
        site = await kit.websites.create("Shop", origins=["https://shop.example"])
        print(site.public_key)  # goes into the widget's snippet
        ```
    """

    async def create(
        self,
        name: str,
        *,
        origins: Sequence[str] = (),
        require_identity: bool = False,
        typing_previews: bool = False,
        analytics_consent_required: bool = True,
        widget: WidgetSettings | Mapping[str, Any] | None = None,
    ) -> Website:
        """Add a website with a fresh public key and identity secret.

        Args:
            name: A label for people.
            origins: Browser origins allowed to call the customer API
                (``https://shop.example``, ``http://localhost:3000``); no
                wildcards.
            require_identity: Refuse anonymous visitors.
            typing_previews: Pass visitors' typing previews on to agents.
            analytics_consent_required: Send chat events to web analytics
                only for visitors who consented (see `Website`).
            widget: How its chat widget looks (`WidgetSettings`, or a mapping of its fields).

        Raises:
            InvalidInputError: A bad name, origin or widget setting.
        """
        site = checked(
            Website,
            id=new_id("site"),
            name=name,
            public_key=_public_key(),
            origins=check_names(origins, "origins"),
            identity_secret=_identity_secret(),
            require_identity=_flag(require_identity, "require_identity"),
            typing_previews=_flag(typing_previews, "typing_previews"),
            analytics_consent_required=_flag(
                analytics_consent_required, "analytics_consent_required"
            ),
            widget=_widget(widget) if widget is not None else WidgetSettings(),
        )
        await self._core.commit([Insert(site)])
        return site

    async def get(self, website_id: str) -> Website:
        """The website with this id.

        Raises:
            NotFoundError: No such website.
        """
        return await self._load(Website, website_id, "website")

    async def by_key(self, public_key: str) -> Website:
        """The website whose public key is ``public_key``.

        Raises:
            NotFoundError: No website has that key.
        """
        if (
            not isinstance(public_key, str)
            or not 0 < len(public_key) <= 100
            or not public_key.isascii()  # keys are ASCII; a lone surrogate no store can look up
        ):
            raise NotFoundError("website", "?")
        store = await self._core.ready()
        found = await store.find(Website, {"public_key": public_key}, limit=1)
        if not found:
            raise NotFoundError("website", "?")  # never echo a key back
        return found[0]

    async def list(self) -> builtins.list[Website]:
        """Every website, oldest first."""
        store = await self._core.ready()
        sites = await store.find(Website, {}, limit=_MAX_WEBSITES)
        return sorted(sites, key=lambda s: (s.created_at, s.id))

    async def update(
        self,
        website_id: str,
        *,
        name: str | Unset = UNSET,
        origins: Sequence[str] | Unset = UNSET,
        require_identity: bool | Unset = UNSET,
        typing_previews: bool | Unset = UNSET,
        analytics_consent_required: bool | Unset = UNSET,
        widget: WidgetSettings | Mapping[str, Any] | Unset = UNSET,
    ) -> Website:
        """Change a website's name, origins, switches or widget settings (its key and secret stay).

        ``widget`` replaces the whole `WidgetSettings` (a mapping is read as one).

        Raises:
            NotFoundError: No such website.
            InvalidInputError: A bad value; nothing changed.
        """
        updates: dict[str, Any] = {}
        if not isinstance(name, Unset):
            updates["name"] = name
        if not isinstance(origins, Unset):
            updates["origins"] = check_names(origins, "origins")
        if not isinstance(require_identity, Unset):
            updates["require_identity"] = _flag(require_identity, "require_identity")
        if not isinstance(typing_previews, Unset):
            updates["typing_previews"] = _flag(typing_previews, "typing_previews")
        if not isinstance(analytics_consent_required, Unset):
            updates["analytics_consent_required"] = _flag(
                analytics_consent_required, "analytics_consent_required"
            )
        if not isinstance(widget, Unset):
            updates["widget"] = _widget(widget)

        async def attempt() -> Website:
            site = await self.get(website_id)
            new = changed(site, **updates)
            if new.model_dump(exclude={"version", "updated_at"}) == site.model_dump(
                exclude={"version", "updated_at"}
            ):
                return site
            await self._core.commit([Update(new)])
            return new

        return await self._core.retry(attempt)

    async def rotate_identity_secret(self, website_id: str) -> Website:
        """Give the website a new identity secret; hashes made with the old one stop working.

        Raises:
            NotFoundError: No such website.
        """

        async def attempt() -> Website:
            site = await self.get(website_id)
            new = changed(site, identity_secret=_identity_secret())
            await self._core.commit([Update(new)])
            return new

        return await self._core.retry(attempt)

    async def rotate_public_key(self, website_id: str) -> Website:
        """Give the website a new public key; widgets with the old one can no longer start sessions.

        Raises:
            NotFoundError: No such website.
        """

        async def attempt() -> Website:
            site = await self.get(website_id)
            new = changed(site, public_key=_public_key())
            await self._core.commit([Update(new)])
            return new

        return await self._core.retry(attempt)

    async def purge_sessions(self, *, before: datetime | None = None, batch_size: int = 500) -> int:
        """Delete customer sessions that expired (or were ended) before ``before`` (default: now).

        Their tokens stopped working already; this only reclaims the rows.
        The worker's built-in ``purge_web_sessions`` job runs it every hour.

        Returns:
            How many sessions were deleted.

        Raises:
            InvalidInputError: A naive ``before`` or a bad batch size.
        """
        if before is not None and (not isinstance(before, datetime) or before.tzinfo is None):
            raise InvalidInputError("before must be a timezone-aware datetime", field="before")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError("batch_size must be a positive integer", field="batch_size")
        cutoff = before or utcnow()
        store = await self._core.ready()
        deleted = 0
        while True:
            expired = await store.find(
                WebSession, {"expires_at": Lt(cutoff)}, order_by="expires_at", limit=batch_size
            )
            if not expired:
                return deleted
            await self._core.commit([Delete(WebSession, s.id) for s in expired])
            deleted += len(expired)

    async def delete(self, website_id: str) -> None:
        """Remove a website; its sessions stop working at their next request.

        Raises:
            NotFoundError: No such website.
        """
        site = await self.get(website_id)
        await self._core.commit([Delete(Website, site.id)])
