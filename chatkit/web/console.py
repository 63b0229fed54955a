"""The agent console: a static web app (plain ES modules and CSS) served at ``/console/``.

The files live in ``chatkit/web/static/console/`` inside the package, so
``pip install 'chatkit[web]'`` ships them and nothing runs Node.js. They
hold no secrets and no data: every piece of data comes from the agent API
(``/v1/agent/...``) and the real-time WebSocket, which authenticate the
agent (the host's ``authenticate`` hook, or an agent API token the agent
pastes on the sign-in screen). Pages get a strict Content-Security-Policy
(`CONSOLE_CSP`): scripts and styles only from these files, never inline.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Final

from ..errors import NotFoundError
from ._deps import APIRouter, Response

__all__ = ["CONSOLE_CSP", "console_file", "router"]

router = APIRouter(include_in_schema=False)

CONSOLE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of the console's files: nothing inline, nothing foreign.

``connect-src 'self'`` covers the agent API and the same-origin WebSocket;
``blob:`` images are attachments the console fetched with the agent's token."""

_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(?:html|js|css|svg)")


@cache
def console_file(name: str) -> bytes:
    """The bytes of one of the console's files (``index.html``, ``app.js``...).

    Raises:
        NotFoundError: No such file (names outside ``[a-z0-9_-].(html|js|css|svg)`` never are).
    """
    if not _NAME.fullmatch(name):
        raise NotFoundError("file", name[:100])
    found = resources.files("chatkit.web").joinpath("static", "console", name)
    if not found.is_file():
        raise NotFoundError("file", name[:100])
    return found.read_bytes()


def _serve(name: str) -> Response:
    body = console_file(name)
    suffix = name[name.rindex(".") :]
    return Response(
        body,
        media_type=_TYPES[suffix],
        headers={
            "Content-Security-Policy": CONSOLE_CSP,
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        },
    )


@router.get("/console")
async def console_redirect() -> Response:
    """``/console`` without the slash: the relative URLs of the page need it."""
    return Response(status_code=308, headers={"Location": "console/"})


@router.get("/console/")
async def console_index() -> Response:
    """The console's page; it signs the agent in and loads ``app.js``."""
    return _serve("index.html")


@router.get("/console/{name}")
async def console_asset(name: str) -> Response:
    """One of the console's scripts, style sheets or icons."""
    return _serve(name)
