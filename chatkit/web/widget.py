"""The chat widget: its static files under ``/widget/...`` and the few routes only it needs.

The widget is plain ES modules and CSS shipped inside the package
(``chatkit/web/static/widget/``): no build step, no Node.js to install,
nothing fetched from a third party. A website pastes one snippet::

    <script src="https://chat.example/widget/loader.js" data-website-key="KEY" async></script>

``loader.js`` draws the launcher and, on the first click (or when the
visitor already has a conversation), loads ``frame.html`` in an iframe. The
frame page's ``Content-Security-Policy`` lets only the website's origins
frame it (``frame-ancestors``, from `page_csp`), and allows nothing but this
server's own scripts, styles, images and connections.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConflictError, NotFoundError
from ..models import Agent, Website, WidgetSettings
from ._deps import APIRouter, Depends, Query, Request, Response
from .auth import CustomerPrincipal, current_customer, web_context
from .context import WebContext
from .customer import _closed_until, _owned
from .middleware import page_csp

__all__ = [
    "STATIC_DIR",
    "AgentBadge",
    "TranscriptReceipt",
    "TranscriptRequest",
    "WidgetConfig",
    "router",
    "widget_csp",
]

router = APIRouter(tags=["widget"])

Web = Annotated[WebContext, Depends(web_context)]
Customer = Annotated[CustomerPrincipal, Depends(current_customer)]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static" / "widget"
"""Where the widget's files live inside the installed package."""

_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
_FILES: Final = ("loader.js", "frame.js", "frame.css", "i18n/ko.json", "i18n/tr.json")
_SHORT_CACHE: Final = "public, max-age=300"
"""``loader.js`` and unversioned files: a site's snippet names a fixed URL, so a
new release reaches visitors within five minutes."""
_LONG_CACHE: Final = "public, max-age=31536000, immutable"
"""Files asked for with ``?v=<their hash>`` (as ``frame.html`` does): cached for good."""


@lru_cache(maxsize=16)
def _read(name: str) -> tuple[bytes, str]:
    """The bytes of a widget file and their short hash (read once per process)."""
    data = (STATIC_DIR / name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


def widget_csp(origins: list[str]) -> str:
    """The Content-Security-Policy of ``frame.html``: framed only by ``origins``.

    Built on `page_csp` (which writes ``frame-ancestors``); adds what the chat
    needs: ``blob:`` images and videos (previews of uploads and downloaded
    attachments) and ``'self'`` connections (the API and the WebSocket);
    no inline script or style, no form posts elsewhere.
    """
    base = page_csp(origins).replace("img-src 'self' data:", "img-src 'self' data: blob:")
    return (
        f"{base}; script-src 'self'; style-src 'self'; media-src 'self' blob:; "
        "connect-src 'self'; form-action 'none'"
    )


def _static(request: Request, name: str) -> Response:
    data, digest = _read(name)
    etag = f'"{digest}"'
    cache = _LONG_CACHE if request.query_params.get("v") == digest else _SHORT_CACHE
    headers = {"Cache-Control": cache, "ETag": etag, "Access-Control-Allow-Origin": "*"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    suffix = Path(name).suffix
    return Response(data, media_type=_TYPES[suffix], headers=headers)


@router.get("/widget/loader.js", include_in_schema=False)
async def loader_js(request: Request) -> Response:
    """The snippet's script: the launcher, the command queue, the iframe."""
    return _static(request, "loader.js")


@router.get("/widget/frame.js", include_in_schema=False)
async def frame_js(request: Request) -> Response:
    """The chat UI inside the iframe."""
    return _static(request, "frame.js")


@router.get("/widget/frame.css", include_in_schema=False)
async def frame_css(request: Request) -> Response:
    """The chat UI's styles."""
    return _static(request, "frame.css")


@router.get("/widget/i18n/{lang}.json", include_in_schema=False)
async def strings(request: Request, lang: str) -> Response:
    """The widget's texts in one language (``ko``, ``tr``; English is built into frame.js)."""
    name = f"i18n/{lang}.json"
    if name not in _FILES:
        raise NotFoundError("language", lang[:20])
    return _static(request, name)


@router.get("/widget/frame.html", include_in_schema=False)
async def frame_html(
    web: Web, key: Annotated[str, Query(min_length=1, max_length=100)] = "?"
) -> Response:
    """The iframe's page; only the website's own origins may frame it (``frame-ancestors``)."""
    try:
        site: Website = await web.call(web.kit.websites.by_key, key)
        origins = site.origins
    except NotFoundError:
        origins = []
    page, _ = _read("frame.html")
    html = page.decode()
    for name in ("frame.js", "frame.css"):
        html = html.replace(f"{name}?v=0", f"{name}?v={_read(name)[1]}")
    return Response(
        html.encode(),
        media_type=_TYPES[".html"],
        headers={
            "Content-Security-Policy": widget_csp(origins),
            "Cache-Control": "no-cache",
            "Cross-Origin-Opener-Policy": "same-origin",
        },
    )


class WidgetConfig(BaseModel):
    """What the widget needs to draw itself for a website (all of it public)."""

    name: str
    origins: list[str] = Field(description="Embedding origins the frame talks to (canonical).")
    widget: WidgetSettings
    require_identity: bool
    typing_previews: bool
    open_now: bool = Field(description="Whether a team is within its business hours now.")
    opens_at: datetime | None = None
    transcripts: bool = Field(description="Whether transcripts can be e-mailed (SMTP is set).")


@router.get("/widget/config", response_model=WidgetConfig, include_in_schema=False)
async def config(
    web: Web, key: Annotated[str, Query(min_length=1, max_length=100)]
) -> WidgetConfig:
    """The look, texts and switches of the website whose public key is ``key``."""
    site: Website = await web.call(web.kit.websites.by_key, key)
    closed, opens_at = await web.call(_closed, web)
    return WidgetConfig(
        name=site.name,
        origins=[_browser_origin(o) for o in site.origins],
        widget=site.widget,
        require_identity=site.require_identity,
        typing_previews=site.typing_previews,
        open_now=not closed,
        opens_at=opens_at,
        transcripts=web.settings.smtp is not None and site.widget.transcript,
    )


async def _closed(web: WebContext) -> tuple[bool, datetime | None]:
    """Whether every team is outside its hours (and when one opens); no team means open."""
    if not (await web.kit.teams.list(limit=1)).items:
        return False, None
    return await _closed_until(web, None)


def _browser_origin(origin: str) -> str:
    """``https://shop.example:443`` as a browser writes it (``event.origin``): no default port."""
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.rpartition(":")
    if (scheme, port) in (("https", "443"), ("http", "80")):
        return f"{scheme}://{host}"
    return origin


class AgentBadge(BaseModel):
    """Who is answering: the assigned agent's display name (no e-mail, nothing internal)."""

    name: str
    initials: str


@router.get("/v1/conversations/{conversation_id}/agent", response_model=AgentBadge | None)
async def assigned_agent(conversation_id: str, customer: Customer, web: Web) -> AgentBadge | None:
    """The name of the agent answering this conversation (null while nobody is assigned)."""
    conversation = await _owned(web, customer, conversation_id)
    if conversation.assignee_id is None:
        return None
    try:
        agent: Agent = await web.call(web.kit.agents.get, conversation.assignee_id)
    except NotFoundError:
        return None
    words = [w for w in agent.name.split() if w[:1].isalnum()]
    initials = "".join(w[0] for w in words[:2]).upper() or "?"
    return AgentBadge(name=agent.name, initials=initials)


class TranscriptRequest(BaseModel):
    """Where to e-mail the conversation; default: the identified visitor's verified e-mail."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TranscriptReceipt(BaseModel):
    """The transcript was handed to the mail server."""

    sent_to: str


@router.post(
    "/v1/conversations/{conversation_id}/transcript",
    status_code=202,
    response_model=TranscriptReceipt,
)
async def email_transcript(
    conversation_id: str,
    body: TranscriptRequest,
    request: Request,
    customer: Customer,
    web: Web,
) -> TranscriptReceipt:
    """E-mail the conversation's transcript (never a private note) to the visitor.

    Needs `WebSettings.smtp` and the website's ``widget.transcript`` (409
    otherwise). An identified visitor gets it at their verified e-mail unless
    they name another address; an anonymous one names the address. Counted
    against the ``offline_message`` limit per client IP (every such request
    sends an e-mail).
    """
    smtp = web.settings.smtp
    site: Website = await web.call(web.kit.websites.get, customer.website_id)
    conversation = await _owned(web, customer, conversation_id)
    if smtp is None or not site.widget.transcript:
        raise ConflictError("this website does not e-mail transcripts")
    await web.hit("offline_message", web.client_ip(request))
    sent: str = await web.call(
        web.kit.transcripts.email,
        conversation.id,
        smtp=smtp,
        to=body.email,
        subject=f"Your conversation with {site.name}"[:200],
    )
    return TranscriptReceipt(sent_to=sent)
