"""The HTTP API reference renders the web app's whole OpenAPI document.

``docs/reference/http-api.md`` is generated when the docs are built: the
``docs_hooks/openapi.py`` hook asks the real app for its document and the
``neoteroi.mkdocsoad`` plugin renders it. These tests prove that the rendered
page lists every operation the app serves (so a new route cannot be missing),
under its tag, with its error responses, and that ``mkdocs build --strict``
builds the page and offers the raw document.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, WebSocket
from fastapi.responses import StreamingResponse

from chatkit import AsyncChatKit
from chatkit.web import WebSettings, create_app

from .webserver import serve

ROOT = Path(__file__).resolve().parent.parent
HOOK_PATH = ROOT / "docs_hooks" / "openapi.py"
MKDOCS = Path(sys.executable).with_name("mkdocs")

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
TAG_HEADING = re.compile(r'^## <span class="api-tag">(?P<tag>[^<]+)</span>\s*$')
OPERATION_HEADING = re.compile(
    r'^### <span class="http-(?P<css>\w+)">(?P<method>\w+)</span> (?P<path>.+?)\s*$'
)
HTML_OPERATION = re.compile(
    r'<h3 id="[^"]*"><span class="http-(?P<css>\w+)">(?P<method>\w+)</span> (?P<path>.*?)'
    r'<a class="headerlink"'
)
PARAMETER_ROW = re.compile(
    r'<td class="parameter-name"><code>(?P<name>[^<]+)</code></td>\s*'
    r"<td>(?P<where>\w+)</td>\s*<td>(?P<type>[^<]*)</td>"
)
TAGS = re.compile(r"<[^>]+>")
"""Path parameters are shown in spans: ``/v1/x/<span class="route-param">{id}</span>``."""


def _load_hook() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("chatkit_docs_openapi_hook", HOOK_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hook() -> types.ModuleType:
    return _load_hook()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(METHOD, path) of every operation of ``document``, with its tags."""
    found: dict[tuple[str, str], list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                found[(method.upper(), path)] = list(operation.get("tags", []))
    return found


def render(hook: types.ModuleType, app: Any, tmp_path: Path) -> str:
    """The page's Markdown as the build makes it: the hook, the plugin, the hook again."""
    from neoteroi.mkdocs.oad import MkDocsOpenAPIDocumentationPlugin

    document = hook.openapi_document(app)
    source = tmp_path / "openapi.json"
    source.write_text(hook.document_text(hook.for_rendering(document)), encoding="utf-8")
    markdown = (ROOT / "docs" / hook.PAGE).read_text(encoding="utf-8")
    markdown = hook.point_tag(markdown, source)
    plugin = MkDocsOpenAPIDocumentationPlugin()
    errors, warnings = plugin.load_config({"use_pymdownx": True})
    assert not errors
    assert not warnings
    page = types.SimpleNamespace(
        file=types.SimpleNamespace(src_dir=str(ROOT / "docs"), src_path=hook.PAGE)
    )
    rendered: str = plugin.on_page_markdown(markdown, page)
    section = hook.websocket_markdown(hook.websocket_routes(app))
    return str(hook.add_websockets(hook.drop_generated_heading(rendered), section))


def everything(hook: types.ModuleType, app: Any) -> set[tuple[str, str]]:
    """What the page must list: every operation and every WebSocket route of ``app``."""
    found = set(operations(hook.openapi_document(app)))
    return found | {("WEBSOCKET", path) for path, _ in hook.websocket_routes(app)}


def rendered_sections(markdown: str) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(METHOD, path) of every operation heading of the page: its tag section and its text."""
    found: dict[tuple[str, str], tuple[str | None, str]] = {}
    tag: str | None = None
    current: tuple[str, str] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            found[current] = (found[current][0], "\n".join(lines))

    for line in markdown.splitlines():
        if line.startswith("## "):
            close()
            current, lines = None, []
            match = TAG_HEADING.match(line)
            tag = match["tag"] if match else None
        elif match := OPERATION_HEADING.match(line):
            close()
            assert match["css"] == match["method"].lower(), line
            current, lines = (match["method"], TAGS.sub("", match["path"])), []
            assert current not in found, f"{current} rendered twice"
            found[current] = (tag, "")
        else:
            lines.append(line)
    close()
    return found


def rendered_operations(markdown: str) -> dict[tuple[str, str], str | None]:
    """(METHOD, path) of every operation heading of the page, with the tag section it is in."""
    return {key: tag for key, (tag, _) in rendered_sections(markdown).items()}


@pytest.fixture
def extra_router(monkeypatch: pytest.MonkeyPatch) -> None:
    """The web app with one more router, as a new module would add one to ``ROUTERS``."""
    from chatkit.web import app as web_app

    router = APIRouter(tags=["realtime"])

    @router.get(
        "/v1/docs-probe/{stream_id}",
        summary="Docs probe",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "A stream"}},
    )
    async def docs_probe(stream_id: str, after: int | None = None) -> StreamingResponse:
        """A Server-Sent Events route the docs have never heard of."""
        return StreamingResponse(iter([b""]), media_type="text/event-stream")

    @router.websocket("/v1/docs-probe-socket")
    async def docs_probe_socket(websocket: WebSocket) -> None:
        """A WebSocket the docs have never heard of."""
        await websocket.close()

    monkeypatch.setattr(web_app, "ROUTERS", (*web_app.ROUTERS, router))


@pytest.mark.anyio
async def test_the_hook_generates_what_the_app_serves(hook: types.ModuleType) -> None:
    """The generated document is the one a real server answers at /openapi.json."""
    generated = hook.openapi_document()
    async with AsyncChatKit("memory://") as kit:
        app = create_app(kit, WebSettings(rate_limit_secret="x" * 32))
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
            response = await http.get("/openapi.json")
    assert response.status_code == 200
    assert generated == response.json()
    assert generated["openapi"].startswith("3.1")
    assert len(operations(generated)) > 20


def test_the_page_lists_every_operation_under_its_tag(
    hook: types.ModuleType, tmp_path: Path
) -> None:
    app = hook.web_app()
    expected = operations(hook.openapi_document(app))
    markdown = render(hook, app, tmp_path)
    listed = rendered_operations(markdown)
    assert set(listed) == everything(hook, app)
    for key, tags in expected.items():
        assert tags, f"{key} has no tag: the page groups operations by tag"
        assert listed[key] == tags[0], f"{key} is not in its {tags[0]!r} section"
    assert {"customer", "agent"} <= {tags[0] for tags in expected.values()}
    # The page keeps its own title; the plugin's is dropped.
    assert markdown.count("\n# ") + markdown.startswith("# ") == 1
    assert markdown.startswith("# HTTP API\n")
    assert "[OAD(" not in markdown


def test_the_page_shows_summaries_parameters_bodies_and_errors(
    hook: types.ModuleType, tmp_path: Path
) -> None:
    app = hook.web_app()
    document = hook.openapi_document(app)
    markdown = render(hook, app, tmp_path)
    sections = rendered_sections(markdown)
    for (method, path), item in [
        ((m.upper(), p), op) for p, ops in document["paths"].items() for m, op in ops.items()
    ]:
        if method.lower() not in METHODS:
            continue
        text = sections[(method, path)][1]
        assert item["summary"] in text, (method, path)
        rows = {(m["name"], m["where"]): m["type"] for m in PARAMETER_ROW.finditer(text)}
        for parameter in item.get("parameters", []):
            shown = rows[(parameter["name"], parameter["in"])]
            assert shown.strip(), f"{method} {path}: {parameter['name']} shows no type"
        if "requestBody" in item:
            assert "Request body" in text, (method, path)
        for status in item["responses"]:
            assert f'=== "{status} ' in text, (method, path, status)
        # Every operation documents the error shape and the 429 headers.
        assert '"429 Too Many Requests"' in text, (method, path)
        for header in ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            assert f"`{header}`" in text, (method, path, header)
        assert '"request_id"' in text, (method, path)

    sessions = sections[("POST", "/v1/sessions")][1]
    assert '"website_key"' in sessions  # the request body's schema
    assert "identity hash" in sessions  # the description
    assert "### ErrorResponse" in markdown  # the error shape in the Schemas section


def test_optional_parameters_show_their_types(hook: types.ModuleType) -> None:
    document = {
        "paths": {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "a", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                        {"name": "b", "schema": {"anyOf": [{"$ref": "#/components/schemas/C"}]}},
                        {"name": "c", "schema": {"anyOf": [{"$ref": "#/components/schemas/D"}]}},
                        {"name": "d", "schema": {"type": "integer"}},
                    ]
                }
            }
        },
        "components": {"schemas": {"C": {"type": "string", "enum": ["x"]}, "D": {}}},
    }
    rendered = hook.for_rendering(document)
    schemas = [p["schema"] for p in rendered["paths"]["/x"]["get"]["parameters"]]
    assert schemas[0]["type"] == ["string", "null"]
    assert schemas[1]["type"] == ["string"]
    assert "type" not in schemas[2]  # unknown: left as it is
    assert schemas[3] == {"type": "integer"}
    # The document itself is unchanged (the site offers it as the app serves it).
    assert "type" not in document["paths"]["/x"]["get"]["parameters"][0]["schema"]


def test_a_new_route_appears_without_touching_the_docs(
    hook: types.ModuleType, tmp_path: Path, extra_router: None
) -> None:
    app = hook.web_app()
    assert ("GET", "/v1/docs-probe/{stream_id}") in operations(hook.openapi_document(app))
    sections = rendered_sections(render(hook, app, tmp_path))
    assert set(sections) == everything(hook, app)
    tag, text = sections[("GET", "/v1/docs-probe/{stream_id}")]
    assert tag == "realtime"
    assert "Server-Sent Events route the docs have never heard of" in text
    assert "text/event-stream" in text
    tag, text = sections[("WEBSOCKET", "/v1/docs-probe-socket")]
    assert tag is None  # in the WebSockets section, after the tagged operations
    assert "A WebSocket the docs have never heard of." in text


def test_the_tag_must_be_on_the_page(hook: types.ModuleType) -> None:
    """A page that lost its tag fails the build instead of silently showing nothing."""
    with pytest.raises(ValueError, match=r"OAD\(openapi\.json\)"):
        hook.point_tag("# HTTP API\n\nNothing here.\n", Path("/tmp/openapi.json"))


def test_strict_build_renders_the_page_and_offers_the_document(
    hook: types.ModuleType, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]

    document = hook.openapi_document()
    offered = json.loads((site / hook.DOCUMENT).read_text(encoding="utf-8"))
    assert offered == document

    html = (site / "reference" / "http-api" / "index.html").read_text(encoding="utf-8")
    listed = {(m["method"], TAGS.sub("", m["path"])) for m in HTML_OPERATION.finditer(html)}
    assert listed == everything(hook, hook.web_app())
    assert 'href="../openapi.json"' in html  # the download link
    # The plugin's tabs and collapsible blocks are rendered, not left as text.
    assert "<details" in html
    assert "tabbed-set" in html
    assert "??? " not in html
    assert '=== "' not in html
    # Nothing is loaded from the network to show it.
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    # It is in the navigation, under the API reference.
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "reference/http-api/" in index
