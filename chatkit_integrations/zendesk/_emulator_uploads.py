"""The Zendesk emulator's upload routes: uploads, attachments and their content URLs."""

from __future__ import annotations

from chatkit._optional import missing

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:
    raise missing("starlette", "the Zendesk emulator", exc) from exc

from ._records import Record
from ._state import ZendeskState


class _UploadRoutes:
    """The ``/api/v2/uploads`` and attachment endpoints of `ZendeskEmulator`."""

    state: ZendeskState

    async def _upload(self, request: Request) -> tuple[int, Record]:
        filename = request.query_params.get("filename", "")
        content_type = request.headers.get("content-type") or "application/octet-stream"
        upload = self.state.create_upload(
            filename,
            await request.body(),
            content_type=content_type.split(";")[0].strip(),
            token=request.query_params.get("token"),
        )
        return 201, {"upload": upload}

    async def _show_attachment(self, request: Request) -> tuple[int, Record]:
        return 200, {"attachment": self.state.get_attachment(request.path_params["attachment_id"])}

    async def _attachment_content(self, request: Request) -> Response:
        token = request.path_params["token"]
        name = request.query_params.get("name")
        with self.state.lock:
            for attachment, content in self.state.attachments.values():
                if f"/attachments/token/{token}/" in attachment["content_url"] and (
                    name is None or attachment["file_name"] == name
                ):
                    return Response(content, 200, media_type=attachment["content_type"])
        return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, 404)
