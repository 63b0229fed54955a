"""Provider webhooks of messaging channels: ``/channels/<name>/...`` (`chatkit.channels`).

Each channel account added with ``kit.channels.add`` answers here: Twilio's
incoming messages at ``/channels/twilio/messages`` and its status callbacks
at ``/channels/twilio/status``. The raw body, headers and URL go to the
account's adapter, which verifies the provider's signature; a refused
request is answered 403 (signature), 413 (too large) or 400 (malformed) and
writes nothing. What is accepted is recorded durably and answered at once;
the worker writes it into conversations.
"""

from __future__ import annotations

import logging

from ..channels.base import ChannelRequest
from ..errors import ChannelWebhookError, NotFoundError
from ._deps import APIRouter, Request, Response
from .context import WebContext
from .middleware import request_id

__all__ = ["router"]

logger = logging.getLogger("chatkit.channels")

router = APIRouter(tags=["channels"], include_in_schema=False)
"""Not in the OpenAPI document: providers call these, not API clients (see the Twilio page)."""


async def _handle(request: Request, name: str, path: str) -> Response:
    web: WebContext = request.app.state.chatkit
    body = await request.body()
    channel_request = ChannelRequest(
        method=request.method,
        url=str(request.url),
        path=path,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )
    try:
        answer = await web.call(web.kit.channels.handle_webhook, name, channel_request)
    except NotFoundError:
        return Response(b"", status_code=404)
    except ChannelWebhookError as exc:
        logger.warning(
            "channel %s: webhook refused (%s), request %s",
            exc.channel[:60],
            exc.reason,
            request_id(request.scope),
        )
        return Response(
            exc.reason.encode("ascii", "replace"),
            status_code=exc.status_code,
            media_type="text/plain",
        )
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


@router.post(
    "/channels/{name}/{path:path}",
    summary="A messaging provider's webhook (incoming messages, status callbacks)",
    response_class=Response,
)
async def channel_webhook(request: Request, name: str, path: str) -> Response:
    """Verify and record a provider's delivery; the provider's expected answer (Twilio: TwiML)."""
    return await _handle(request, name, path)


@router.get(
    "/channels/{name}/{path:path}",
    summary="A messaging provider's verification handshake (Meta's hub.challenge)",
    response_class=Response,
)
async def channel_handshake(request: Request, name: str, path: str) -> Response:
    """Answer a provider's GET handshake; providers without one get 405."""
    return await _handle(request, name, path)
