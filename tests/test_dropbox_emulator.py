"""The Dropbox emulator's wire format, read with plain HTTP: what the SDK relies on."""

from __future__ import annotations

import importlib.util
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

if importlib.util.find_spec("dropbox") is None:  # not importorskip: dropbox reads its host
    pytest.skip("needs chatkit[dropbox]", allow_module_level=True)
pytest.importorskip("starlette")

from .dropbox_box import box  # noqa: I001 - before dropbox is imported: it reads its host

import httpx
from typer.testing import CliRunner

from chatkit.cli import app
from chatkit_integrations.dropbox._paths import content_hash
from chatkit_integrations.dropbox.emulator import DropboxEmulator


@pytest.fixture
def dbx() -> Iterator[DropboxEmulator]:
    emulator = box()
    yield emulator
    emulator.reset()


@pytest.fixture
def http(dbx: DropboxEmulator) -> Iterator[httpx.Client]:
    trusted = ssl.create_default_context(cafile=dbx.ca_pem)
    with httpx.Client(base_url=dbx.url, verify=trusted, trust_env=False) as client:
        yield client


def token(http: httpx.Client, dbx: DropboxEmulator) -> str:
    answer = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": dbx.state.refresh_token,
            "client_id": dbx.state.app_key,
            "client_secret": dbx.state.app_secret,
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 14400
    assert body["access_token"].startswith("sl.")
    return str(body["access_token"])


def rpc(http: httpx.Client, auth: str, route: str, arg: Any) -> httpx.Response:
    return http.post(
        f"/2/{route}",
        content=json.dumps(arg),
        headers={"Authorization": f"Bearer {auth}", "Content-Type": "application/json"},
    )


def upload(http: httpx.Client, auth: str, route: str, arg: Any, data: bytes) -> httpx.Response:
    return http.post(
        f"/2/{route}",
        content=data,
        headers={
            "Authorization": f"Bearer {auth}",
            "Content-Type": "application/octet-stream",
            "Dropbox-API-Arg": json.dumps(arg),
        },
    )


def test_the_content_hash_is_dropboxs() -> None:
    # The example of Dropbox's content-hash page: blocks of 4 MiB, hashed, then hashed together.
    import hashlib

    data = bytes(range(256)) * (9 * 4096 + 7)  # a little over 9 MiB: three blocks
    blocks = [data[i : i + 4 * 1024 * 1024] for i in range(0, len(data), 4 * 1024 * 1024)]
    expected = hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blocks)).hexdigest()
    assert len(blocks) == 3
    assert content_hash(data) == expected
    from dropbox.content_hash import content_hash as sdk_hash

    assert content_hash(data) == sdk_hash(data)


def test_a_revoked_refresh_token_is_invalid_grant(http: httpx.Client, dbx: DropboxEmulator) -> None:
    dbx.state.revoke()
    answer = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "old",
            "client_id": "chatkit-app-key",
        },
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_errors_have_dropboxs_bodies(http: httpx.Client, dbx: DropboxEmulator) -> None:
    auth = token(http, dbx)
    missing = rpc(http, auth, "files/get_metadata", {"path": "/nowhere.txt"})
    assert missing.status_code == 409
    assert missing.headers["content-type"] == "application/json"
    assert missing.json() == {
        "error_summary": "path/not_found/..",
        "error": {".tag": "path", "path": {".tag": "not_found"}},
    }
    first = upload(http, auth, "files/upload", {"path": "/a.txt", "mode": "add"}, b"one")
    assert first.status_code == 200
    conflict = upload(http, auth, "files/upload", {"path": "/a.txt", "mode": "add"}, b"two")
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["error_summary"] == "path/conflict/file/.."
    assert body["error"][".tag"] == "path"
    assert body["error"]["reason"] == {".tag": "conflict", "conflict": {".tag": "file"}}
    assert body["error"]["upload_session_id"].startswith("pid_upload_session:")
    bad_hash = upload(
        http, auth, "files/upload", {"path": "/b.txt", "content_hash": "0" * 64}, b"three"
    )
    assert bad_hash.json()["error_summary"] == "content_hash_mismatch/.."
    unauthorized = rpc(http, "sl.nope", "users/get_current_account", None)
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"] == {".tag": "invalid_access_token"}
    dbx.state.expire_access_tokens()
    expired = rpc(http, auth, "users/get_current_account", None)
    assert expired.json()["error_summary"] == "expired_access_token/.."


def test_write_modes_follow_the_documentation(http: httpx.Client, dbx: DropboxEmulator) -> None:
    auth = token(http, dbx)
    first = upload(http, auth, "files/upload", {"path": "/Notes/A.txt"}, b"same").json()
    assert first["path_lower"] == "/notes/a.txt"
    assert first["content_hash"] == content_hash(b"same")
    # Identical content is no conflict (nothing is written), unless strict_conflict.
    again = upload(http, auth, "files/upload", {"path": "/notes/a.txt"}, b"same").json()
    assert again["rev"] == first["rev"]
    strict = upload(
        http, auth, "files/upload", {"path": "/notes/a.txt", "strict_conflict": True}, b"same"
    )
    assert strict.status_code == 409
    renamed = upload(http, auth, "files/upload", {"path": "/Notes/A.txt", "autorename": True}, b"x")
    assert renamed.json()["path_display"] == "/Notes/A (1).txt"
    stale = {"path": "/Notes/A.txt", "mode": {".tag": "update", "update": "0000000000"}}
    assert upload(http, auth, "files/upload", stale, b"y").status_code == 409
    fresh = {"path": "/Notes/A.txt", "mode": {".tag": "update", "update": first["rev"]}}
    updated = upload(http, auth, "files/upload", fresh, b"y").json()
    assert updated["id"] == first["id"]
    assert updated["rev"] != first["rev"]
    assert dbx.state.read("/notes/a.txt") == b"y"


def test_sessions_and_the_batch_commit(http: httpx.Client, dbx: DropboxEmulator) -> None:
    auth = token(http, dbx)
    started = upload(http, auth, "files/upload_session/start", {"close": False}, b"abc").json()
    cursor = {"session_id": started["session_id"], "offset": 3}
    wrong = upload(
        http, auth, "files/upload_session/append_v2", {"cursor": {**cursor, "offset": 1}}, b"d"
    )
    assert wrong.json()["error"] == {".tag": "incorrect_offset", "correct_offset": 3}
    appended = upload(
        http, auth, "files/upload_session/append_v2", {"cursor": cursor, "close": True}, b"de"
    )
    assert appended.status_code == 200
    assert appended.text == "null"
    other = upload(http, auth, "files/upload_session/start", {"close": True}, b"z").json()
    entries = [
        {"cursor": {**cursor, "offset": 5}, "commit": {"path": "/s/one.txt"}},
        {"cursor": {"session_id": other["session_id"], "offset": 1}, "commit": {"path": "/s"}},
        {
            "cursor": {"session_id": "pid_upload_session:gone", "offset": 0},
            "commit": {"path": "/x"},
        },
    ]
    result = rpc(http, auth, "files/upload_session/finish_batch_v2", {"entries": entries}).json()
    one, folder, gone = result["entries"]
    assert one[".tag"] == "success"
    assert one["name"] == "one.txt"
    assert one["size"] == 5
    assert folder == {
        ".tag": "failure",
        "failure": {".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "folder"}}},
    }
    assert gone["failure"] == {".tag": "lookup_failed", "lookup_failed": {".tag": "not_found"}}
    too_many = rpc(
        http, auth, "files/upload_session/finish_batch_v2", {"entries": [entries[0]] * 1001}
    )
    assert too_many.status_code == 400
    launched = rpc(http, auth, "files/upload_session/finish_batch", {"entries": []}).json()
    assert launched[".tag"] == "async_job_id"
    checked = rpc(http, auth, "files/upload_session/finish_batch/check", launched).json()
    assert checked == {".tag": "complete", "entries": []}


def test_429_and_5xx_on_demand(http: httpx.Client, dbx: DropboxEmulator) -> None:
    auth = token(http, dbx)
    dbx.fail_next(429, retry_after=7)
    throttled = rpc(http, auth, "users/get_current_account", None)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json() == {
        "error_summary": "too_many_requests/..",
        "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 7},
    }
    dbx.fail_next(503, route="users/get_space_usage")
    assert rpc(http, auth, "users/get_current_account", None).status_code == 200
    assert rpc(http, auth, "users/get_space_usage", None).status_code == 503
    usage = rpc(http, auth, "users/get_space_usage", None).json()
    assert usage == {"used": 0, "allocation": {".tag": "individual", "allocated": 2 * 1024**3}}
    assert [c.status for c in dbx.state.calls][-4:] == [429, 200, 503, 200]


def test_chatkit_emulate_dropbox() -> None:
    result = CliRunner().invoke(app, ["emulate", "dropbox", "--help"])
    assert "Emulate the Dropbox API v2 locally" in result.output
    assert "--allocated" in result.output
    listed = CliRunner().invoke(app, ["emulate", "nowhere"])
    assert "dropbox" in listed.output


def test_the_emulator_serves_on_the_port_asked() -> None:
    with DropboxEmulator(port=0) as other:
        assert other.url.startswith("https://127.0.0.1:")
        assert other.environ()["DROPBOX_API_HOST"] == other.host
        assert other.host != box().host
