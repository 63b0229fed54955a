"""Records of the web app (`chatkit.web`): websites and customer sessions."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._base import Record, SafeText, UTCDateTime

__all__ = [
    "ANALYTICS_CLIENT_ID",
    "AnalyticsConsent",
    "WebSession",
    "Website",
    "WidgetSettings",
    "normalize_origin",
]

ANALYTICS_CLIENT_ID = re.compile(r"^[0-9]{1,20}\.[0-9]{1,20}$")
"""The form of a web analytics client id: ``<random>.<first visit, Unix seconds>``, as
Google Analytics keeps it in its ``_ga`` cookie (``GA1.1.<client id>``) and
``gtag('get', ..., 'client_id')`` returns it."""


class AnalyticsConsent(BaseModel):
    """What a web visitor agreed to for analytics, as their website's consent banner says.

    ``None`` means the visitor was not asked (or did not answer): with a website
    that requires consent (`Website.analytics_consent_required`), that is a no.

    Attributes:
        analytics: Measuring their visit (Google's ``analytics_storage``).
        ad_user_data: Sending their data to Google for advertising.
        ad_personalization: Personalised advertising.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    analytics: bool | None = None
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def normalize_origin(value: str) -> str:
    """The canonical ``scheme://host:port`` of a browser origin, e.g. ``https://shop.example:443``.

    Origins are compared exactly after this: the scheme and host lower-cased,
    the port always written (the scheme's default when absent). Only
    ``http`` and ``https`` origins of a plain host name or IP address are
    accepted: no path, query, fragment, user name or wildcard, and never
    ``null``.

    Raises:
        ValueError: ``value`` is not such an origin.
    """
    if not isinstance(value, str) or not value or value.strip() != value:
        raise ValueError("an origin is written scheme://host[:port], e.g. https://shop.example")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"not an origin: {value[:100]!r}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "*" in value
    ):
        raise ValueError(
            f"not an origin: {value[:100]!r} (write scheme://host[:port], "
            "http or https, no path and no wildcard)"
        )
    if ":" in host:  # IPv6 literal
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError(f"not an origin: {value[:100]!r}") from None
    elif not set(host) <= _HOST_CHARS or ".." in host or host.startswith((".", "-")):
        raise ValueError(f"not an origin: {value[:100]!r} (the host must be ASCII, IDNA-encoded)")
    return f"{scheme}://{host}:{port if port is not None else _DEFAULT_PORTS[scheme]}"


class WidgetSettings(BaseModel):
    """How a website's chat widget looks and what it says (``Website.widget``).

    Texts left ``None`` come from the widget's language files (English,
    Korean, Turkish built in), in the visitor's browser language.

    Attributes:
        color: The accent colour (launcher, header, the visitor's bubbles),
            ``#rrggbb``. White text is drawn on it, so pick a colour dark
            enough for it (WCAG AA wants a contrast of 4.5:1; the default
            ``#1f5fbf`` has 6.1:1).
        position: Which bottom corner the launcher sits in.
        title: The header's title (default: the website's name).
        greeting: The first line a visitor sees before writing.
        reply_time: What to expect, e.g. ``"We usually reply in a few minutes"``.
        offline_text: Shown above the offline form while the team is closed.
        sound: Play a short tone (WebAudio) when a reply arrives.
        survey_scale: How the satisfaction survey's scale questions are
            drawn: ``"numbers"`` (1 to 5) or ``"stars"``. Star questions are
            always stars and agreement questions always go from "strongly
            disagree" to "strongly agree" (the survey form says which is which).
        transcript: Offer "e-mail me this conversation" (needs
            `WebSettings.smtp`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    color: str = Field(default="#1f5fbf")
    position: Literal["right", "left"] = "right"
    title: SafeText | None = Field(default=None, max_length=100)
    greeting: SafeText | None = Field(default=None, max_length=500)
    reply_time: SafeText | None = Field(default=None, max_length=200)
    offline_text: SafeText | None = Field(default=None, max_length=500)
    sound: bool = True
    survey_scale: Literal["numbers", "stars"] = "numbers"
    transcript: bool = True

    @field_validator("color")
    @classmethod
    def _hex_color(cls, value: str) -> str:
        if not _COLOR.fullmatch(value):
            raise ValueError("a colour is written #rrggbb, e.g. #1f5fbf")
        return value.lower()


class Website(Record):
    """A website (or app) whose visitors chat through the web app's customer API.

    Attributes:
        name: A label for people, e.g. ``"Shop"``.
        public_key: What the widget sends to start a session (``X-Website-Key``);
            public, it identifies the site, it proves nothing.
        origins: The browser origins allowed to call the customer API for
            this site, canonical (`normalize_origin`); matched exactly.
        identity_secret: The key of the identity hash
            (HMAC-SHA256(secret, user id or e-mail), hex) the site's server
            computes for signed-in users. Keep it on that server only.
        require_identity: Refuse anonymous sessions: every visitor must come
            with a valid identity hash.
        typing_previews: Whether visitors' typing previews are sent to agents.
        analytics_consent_required: Whether chat events go to web analytics
            (Google Analytics) only for visitors who consented to analytics
            (`WebSession.analytics_consent`). On by default; turn it off
            only where no consent is needed.
        widget: How the chat widget looks and what it says (`WidgetSettings`).
    """

    table: ClassVar[str] = "websites"
    columns: ClassVar[tuple[str, ...]] = ("public_key",)
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("public_key",),)

    name: SafeText = Field(min_length=1, max_length=200)
    public_key: str = Field(min_length=16, max_length=100)
    origins: list[str] = Field(default_factory=list, max_length=100)
    identity_secret: str = Field(min_length=16, max_length=200)
    require_identity: bool = False
    typing_previews: bool = False
    analytics_consent_required: bool = True
    widget: WidgetSettings = Field(default_factory=WidgetSettings)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a website needs a name")
        return value

    @field_validator("origins")
    @classmethod
    def _canonical_origins(cls, value: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for origin in value:
            seen.setdefault(normalize_origin(origin), None)
        return list(seen)

    def allows(self, origin: str) -> bool:
        """Whether the browser origin ``origin`` (an ``Origin`` header) may call for this site."""
        try:
            return normalize_origin(origin) in self.origins
        except ValueError:
            return False


class WebSession(Record):
    """A customer's session with the web app, held by a bearer token.

    Only the SHA-256 of the token is stored; the token itself is shown once,
    when the session starts.

    Attributes:
        token_hash: SHA-256 of the session token, hex.
        website_id: The website the session was started for.
        contact_id: The contact the session speaks for.
        visitor_id: The random web visitor id of an anonymous session
            (its identity is ``("web", visitor_id)``); ``None`` when identified.
        identity: The verified identity key of an identified session
            (``"email:ada@example.com"``, ``"external:u-42"``).
        expires_at: When the token stops working (ending a session moves it to then).
        revoked_at: When it was revoked (ended), if it was.
        analytics_client_id: The visitor's web analytics client id (see
            `ANALYTICS_CLIENT_ID`), when the widget passed it: chat events
            sent to analytics are attributed to it.
        analytics_consent: What the visitor agreed to for analytics, when
            the widget passed it.
    """

    table: ClassVar[str] = "web_sessions"
    columns: ClassVar[tuple[str, ...]] = ("token_hash", "contact_id", "expires_at")
    unique: ClassVar[tuple[tuple[str, ...], ...]] = (("token_hash",),)

    token_hash: str = Field(min_length=64, max_length=64)
    website_id: str
    contact_id: str
    visitor_id: str | None = None
    identity: str | None = None
    expires_at: UTCDateTime
    revoked_at: UTCDateTime | None = None
    analytics_client_id: str | None = Field(default=None, pattern=ANALYTICS_CLIENT_ID.pattern)
    analytics_consent: AnalyticsConsent | None = None
