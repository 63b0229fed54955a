"""The third-party imports of the web app, in one place (``chatkit[web]``)."""

from __future__ import annotations

from chatkit._optional import missing

try:
    from fastapi import APIRouter, Depends, FastAPI, Header, Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import HTTPConnection, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:
    raise missing("fastapi", "the web app (chatkit.web)", exc) from exc

__all__ = [
    "APIRouter",
    "ASGIApp",
    "Depends",
    "FastAPI",
    "HTTPConnection",
    "HTTPException",
    "Header",
    "JSONResponse",
    "Message",
    "Query",
    "Receive",
    "Request",
    "RequestValidationError",
    "Response",
    "Scope",
    "Send",
    "StreamingResponse",
]
