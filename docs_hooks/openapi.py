"""MkDocs hook: the web app's OpenAPI document, generated when the docs are built.

The HTTP API reference (``docs/reference/http-api.md``) is rendered from the
document the real app serves at ``/openapi.json``: this hook builds the app of
`chatkit.web.create_app` on a ``memory://`` kit and asks it for its OpenAPI
document, so a route added to the app appears in the docs without anyone
copying anything. Then:

- ``on_config`` writes the document (as `for_rendering` adapts it) to a
  temporary file (removed after the build), which the ``neoteroi.mkdocsoad``
  plugin renders into Markdown;
- ``on_page_markdown`` (before the plugin) points the page's ``[OAD(openapi.json)]``
  tag at that file, and (after the plugin) drops the heading the plugin
  writes, since the page has its own, and adds the app's WebSocket routes,
  which OpenAPI cannot describe;
- ``on_files`` adds the document to the site as ``reference/openapi.json``,
  for download.

Nothing is fetched from the network: the plugin renders plain Markdown
(tabs and collapsible blocks of pymdownx), with no script.
"""

from __future__ import annotations

import copy as copy_module
import inspect
import json
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import CombinedEvent, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

PAGE = "reference/http-api.md"
"""The page that renders the document (its path under ``docs/``)."""

DOCUMENT = "reference/openapi.json"
"""Where the built site offers the raw document."""

TAG = "[OAD(openapi.json)]"
"""What the page writes where the reference goes."""

_GENERATED_HEADING = re.compile(r"^# [^\n]*<span class=\"api-version\">[^\n]*\n", re.MULTILINE)

_state: dict[str, Any] = {}


def web_app() -> Any:
    """The web app as `chatkit.web.create_app` makes it, on a ``memory://`` kit.

    Default settings (with a random rate-limit secret, which nothing shows);
    the kit is never opened, since describing the app touches no store.
    """
    from chatkit import AsyncChatKit
    from chatkit.web import WebSettings, create_app

    kit = AsyncChatKit("memory://")
    return create_app(kit, WebSettings(rate_limit_secret=secrets.token_hex(16)))


def openapi_document(app: Any = None) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (`web_app` by default), as ``/openapi.json`` serves it."""
    document: dict[str, Any] = (app if app is not None else web_app()).openapi()
    return document


def websocket_routes(app: Any = None) -> list[tuple[str, str]]:
    """``(path, description)`` of every WebSocket route of the app, in its order.

    OpenAPI has no way to describe a WebSocket, so the document leaves them
    out; the page lists them from the app's routes instead.
    """
    from fastapi import routing
    from starlette.routing import WebSocketRoute

    routes = (app if app is not None else web_app()).routes
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:  # older FastAPI: included routers' routes are in app.routes
        found = [(route, route.path, route.endpoint) for route in routes]
    else:  # newer FastAPI keeps included routers whole (what get_openapi walks too)
        found = [(c.original_route, c.path, c.endpoint) for c in iterate(routes)]
    return [
        (path, inspect.getdoc(endpoint) or "")
        for route, path, endpoint in found
        if isinstance(route, WebSocketRoute)
    ]


def websocket_markdown(routes: list[tuple[str, str]]) -> str:
    """The page's section on the WebSocket routes (empty without any)."""
    if not routes:
        return ""
    parts = [
        "## WebSockets\n",
        "OpenAPI does not describe WebSockets, so these routes are not in "
        "`openapi.json`; see [Real time](../concepts/web-app.md#real-time) for their frames.\n",
    ]
    for path, description in routes:
        parts.append('<hr class="operation-separator" />\n')
        parts.append(f'### <span class="http-websocket">WEBSOCKET</span> {path}\n')
        if description:
            parts.append(description + "\n")
    return "\n".join(parts) + "\n"


def add_websockets(markdown: str, section: str) -> str:
    """``markdown`` with ``section`` before the Schemas section (or at the end)."""
    if not section:
        return markdown
    at = markdown.find("\n## Schemas")
    if at < 0:
        return markdown.rstrip("\n") + "\n\n" + section
    return markdown[: at + 1] + section + "\n" + markdown[at + 1 :]


def for_rendering(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose optional parameters show their type in the page.

    FastAPI writes an optional parameter as ``anyOf: [<schema>, {"type": "null"}]``;
    the plugin's parameter table reads only ``type``, and would leave the
    column empty. In the copy, such a schema also gets the OpenAPI 3.1 form of
    the same thing, ``type: [<type>, "null"]`` (the type of a ``$ref``'d schema
    is looked up). The site offers the unchanged document.
    """
    copy: dict[str, Any] = copy_module.deepcopy(document)
    schemas: dict[str, Any] = copy.get("components", {}).get("schemas", {})
    for item in copy.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema")
                if isinstance(schema, dict) and "type" not in schema:
                    types = _branch_types(schema.get("anyOf", []), schemas)
                    if types:
                        schema["type"] = types
    return copy


def _branch_types(branches: list[Any], schemas: dict[str, Any]) -> list[str]:
    """The types the ``anyOf`` branches allow, in order (empty when one is unknown)."""
    found: list[str] = []
    for branch in branches:
        if not isinstance(branch, dict):
            return []
        ref = branch.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            branch = schemas.get(ref.rsplit("/", 1)[1], {})
        kind = branch.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or not all(isinstance(k, str) for k in kinds):
            return []
        found.extend(k for k in kinds if k not in found)
    return found


def document_text(document: dict[str, Any]) -> str:
    """The document as the site offers it: indented JSON, in the app's order."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def point_tag(markdown: str, path: Path) -> str:
    """``markdown`` with the page's `TAG` naming the generated file at ``path``."""
    if TAG not in markdown:
        raise ValueError(f"{PAGE} must contain {TAG} where the reference goes")
    return markdown.replace(TAG, f"[OAD({path.as_posix()})]")


def drop_generated_heading(markdown: str) -> str:
    """``markdown`` without the title heading the plugin writes (the page has its own)."""
    return _GENERATED_HEADING.sub("", markdown, count=1)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Generate the document and write it where the plugin will read it."""
    directory = Path(tempfile.mkdtemp(prefix="chatkit-openapi-"))
    app = web_app()
    document = openapi_document(app)
    text = document_text(document)
    path = directory / "openapi.json"
    path.write_text(document_text(for_rendering(document)), encoding="utf-8")
    _state.update(
        directory=directory,
        path=path,
        text=text,
        websockets=websocket_markdown(websocket_routes(app)),
    )
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Offer the document for download in the built site."""
    files.append(File.generated(config, DOCUMENT, content=_state["text"]))
    return files


@event_priority(100)  # before neoteroi.mkdocsoad (priority 0) reads the tag
def _before_render(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return point_tag(markdown, _state["path"])


@event_priority(-100)  # after neoteroi.mkdocsoad has rendered the document
def _after_render(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return add_websockets(drop_generated_heading(markdown), _state["websockets"])


on_page_markdown = CombinedEvent(_before_render, _after_render)
"""Point the page's tag at the generated document; then drop the plugin's heading."""


def _cleanup() -> None:
    directory = _state.pop("directory", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def on_post_build(config: MkDocsConfig) -> None:
    """Remove the temporary document."""
    _cleanup()


def on_build_error(error: Exception) -> None:
    """Remove the temporary document after a failed build too."""
    _cleanup()
