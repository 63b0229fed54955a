"""The Dropbox transcript archive: the official SDK against the emulator, over HTTPS."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("dropbox") is None:  # not importorskip: dropbox reads its host
    pytest.skip("needs chatkit[dropbox]", allow_module_level=True)
pytest.importorskip("starlette")

from .dropbox_box import box  # noqa: I001 - before dropbox is imported: it reads its host

from chatkit import AsyncChatKit, Author
from chatkit.errors import ConflictError, IntegrationConfigError
from chatkit.integrations import (
    ChangeAction,
    HealthState,
    OutboundChange,
    PushStatus,
    SyncObject,
)
from chatkit.models import utcnow
from chatkit.testing import IntegrationContract
from chatkit_integrations.dropbox._paths import content_hash
from chatkit_integrations.dropbox.emulator import DropboxEmulator
from chatkit_integrations.dropbox.integration import (
    DropboxConfig,
    DropboxIntegration,
    DropboxSpaceError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def dbx() -> Iterator[DropboxEmulator]:
    emulator = box()
    yield emulator
    emulator.reset()


def config(emulator: DropboxEmulator, **extra: Any) -> DropboxConfig:
    return DropboxConfig.create(
        {
            "app_key": emulator.state.app_key,
            "app_secret": emulator.state.app_secret,
            "refresh_token": emulator.state.refresh_token,
            "ca_bundle": emulator.ca_pem,
            **extra,
        },
        name="dropbox",
    )


@pytest.fixture
async def archive(dbx: DropboxEmulator) -> AsyncIterator[DropboxIntegration]:
    async with DropboxIntegration(config(dbx)) as integration:
        yield integration


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[AsyncChatKit]:
    async with AsyncChatKit(f"sqlite:///{tmp_path / 'archive.db'}") as kit:
        yield kit


def transcript(
    conversation_id: str, *, base: str | None, text: str = "Hello", attempt: int = 1, **data: Any
) -> OutboundChange:
    return OutboundChange(
        change_id=f"{conversation_id}#transcript:{attempt}",
        object=SyncObject.TRANSCRIPT,
        local_id=f"{conversation_id}#transcript",
        parent_local_id=conversation_id,
        parent_remote_id=base,
        data={
            "text": text,
            "html": f"<p>{text}</p>",
            "json": json.dumps({"text": text}),
            **data,
        },
        attempt=attempt,
    )


async def resolved(kit: AsyncChatKit, n: int, *, team: str | None = None) -> list[str]:
    ids = []
    for i in range(n):
        contact = await kit.contacts.create(name=f"Customer {i}")
        conversation = await kit.conversations.create(contact_id=contact.id, subject=f"Order {i}")
        await kit.messages.send(
            conversation.id, f"Where is order {i}?", author=Author.customer(contact.id)
        )
        if team is not None:
            with contextlib.suppress(ConflictError):
                await kit.teams.create(team)
            await kit.routing.transfer(conversation.id, to_team=team)
        await kit.conversations.resolve(conversation.id)
        ids.append(conversation.id)
    return ids


def archived(dbx: DropboxEmulator, conversation_id: str) -> list[str]:
    return [p for p in dbx.state.paths() if conversation_id in p]


# -- the plugin contract -------------------------------------------------------------


class TestDropboxContract(IntegrationContract):
    @pytest.fixture
    async def integration(self, dbx: DropboxEmulator) -> AsyncIterator[DropboxIntegration]:
        async with DropboxIntegration(config(dbx)) as integration:
            yield integration


def test_it_is_outbound_only_and_registered() -> None:
    from chatkit.integrations import Direction
    from chatkit.integrations.loader import IntegrationLoader

    caps = DropboxIntegration.capabilities
    assert caps.outbound
    assert not caps.inbound
    assert not caps.webhooks
    assert caps.supports("transcript", Direction.OUTBOUND)
    assert not caps.supports("transcript", Direction.INBOUND)
    assert IntegrationLoader().load("dropbox") is DropboxIntegration


# -- configuration -----------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "chatkit/{conversation_id}",
        "/chatkit/{year}/{team}",
        "/chatkit/{secret}/{conversation_id}",
        "/chatkit/../{conversation_id}",
        "/chatkit/{conversation_id}.{ext}/more",
        "/chatkit/{conversation_id!r}",
    ],
)
def test_a_bad_template_is_a_typed_error(dbx: DropboxEmulator, template: str) -> None:
    with pytest.raises(IntegrationConfigError) as caught:
        config(dbx, path_template=template)
    assert caught.value.fields == ("path_template",)


def test_credentials_are_required_and_stay_secret(dbx: DropboxEmulator) -> None:
    with pytest.raises(IntegrationConfigError):
        DropboxConfig.create({"app_key": "k"}, name="dropbox")
    with pytest.raises(IntegrationConfigError):
        DropboxConfig.create({"refresh_token": "r"}, name="dropbox")
    settings = config(dbx)
    assert dbx.state.refresh_token not in repr(settings)


# -- archiving -----------------------------------------------------------------------


async def test_a_resolved_conversation_is_archived_end_to_end(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    [conversation_id] = await resolved(kit, 1, team="Billing")
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        report = await engine.run_once()
    assert report.dead == 0
    conversation = await kit.conversations.get(conversation_id)
    month = f"{conversation.created_at.year:04d}/{conversation.created_at.month:02d}"
    base = f"/chatkit/{month}/Billing/{conversation_id}"
    assert archived(dbx, conversation_id) == [f"{base}.html", f"{base}.json"]
    page = dbx.state.read(f"{base}.html").decode()
    assert "Where is order 0?" in page
    assert page.startswith("<!DOCTYPE html>")
    data = json.loads(dbx.state.read(f"{base}.json"))
    assert data["conversation"]["id"] == conversation_id
    assert data["conversation"]["status"] == "resolved"
    link = await kit.sync.link("dropbox", conversation_id + "#transcript")
    assert link is not None
    assert link.remote_id == base
    # The upload went through sessions and one batch commit, after one token refresh.
    routes = [call.route for call in dbx.state.calls]
    assert routes.count("files/upload_session/start") == 2
    assert routes.count("files/upload_session/finish_batch_v2") == 1
    assert routes.count("oauth2/token") == 1
    assert "files/upload" not in routes


async def test_open_conversations_cost_no_call(kit: AsyncChatKit, dbx: DropboxEmulator) -> None:
    contact = await kit.contacts.create(name="Open")
    conversation = await kit.conversations.create(contact_id=contact.id)
    await kit.messages.send(conversation.id, "Hi", author=Author.customer(contact.id))
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        await engine.run_once()
    assert dbx.state.paths() == []
    assert [c.route for c in dbx.state.calls] == []


async def test_text_and_attachments_by_policy(kit: AsyncChatKit, dbx: DropboxEmulator) -> None:
    contact = await kit.contacts.create(name="Files")
    conversation = await kit.conversations.create(contact_id=contact.id)
    upload = await kit.attachments.upload(
        conversation.id,
        b"secret-ish bytes",
        name="../../etc/pass:wd.txt",
        author=Author.customer(contact.id),
    )
    await kit.messages.send(
        conversation.id, "See file", author=Author.customer(contact.id), attachments=[upload.id]
    )
    await kit.conversations.resolve(conversation.id)
    settings = config(dbx, formats=["json", "html", "text"], attachments=True)
    async with kit.sync.engine(DropboxIntegration(settings)) as engine:
        await engine.run_once()
    paths = archived(dbx, conversation.id)
    [attachment] = [p for p in paths if ".attachments/" in p]
    paths.remove(attachment)
    assert [p.rsplit(".", 1)[-1] for p in paths] == ["html", "json", "txt"]
    name = attachment.rsplit("/", 1)[-1]
    assert name.startswith(upload.id)
    assert ".." not in name
    assert ":" not in name
    assert dbx.state.read(attachment) == b"secret-ish bytes"
    assert "See file" in dbx.state.read(paths[2]).decode()


async def test_many_transcripts_cost_few_calls(kit: AsyncChatKit, dbx: DropboxEmulator) -> None:
    ids = await resolved(kit, 30)
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        await engine.collect()
        dbx.state.reset_calls()
        report = await engine.push()
    assert report.dead == 0
    assert report.pushed == 60
    assert len(dbx.state.paths()) == 60
    # 60 files: 60 session starts and one commit (plus the token refresh).
    assert dbx.state.call_count() == 60 + 1 + 1
    assert all(len(archived(dbx, cid)) == 2 for cid in ids)


async def test_a_large_file_goes_in_pieces(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    small = DropboxIntegration(config(dbx, chunk_bytes=1000))
    async with small:
        text = "x" * 4500
        [result] = await small.push([transcript("conv_big", base="/a/conv_big", text=text)])
    assert result.status is PushStatus.OK
    assert dbx.state.read("/a/conv_big.html") == f"<p>{text}</p>".encode()
    assert dbx.state.call_count("files/upload_session/append_v2") == 8  # 2 files, 4 pieces each


# -- idempotence and conflicts --------------------------------------------------------


async def test_a_retried_upload_does_not_duplicate(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    change = transcript("conv_1", base="/a/conv_1")
    [first] = await archive.push([change])
    [again] = await archive.push([transcript("conv_1", base="/a/conv_1", attempt=2)])
    assert first.status is again.status is PushStatus.OK
    assert first.remote_id == again.remote_id == "/a/conv_1"
    assert first.remote_version == again.remote_version  # the same file revision
    assert dbx.state.paths() == ["/a/conv_1.html", "/a/conv_1.json"]


async def test_a_different_file_in_the_way_is_replaced_by_rev(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    old = dbx.state.put("/a/conv_2.json", b"an older transcript")
    [result] = await archive.push([transcript("conv_2", base="/a/conv_2", text="Newer")])
    assert result.status is PushStatus.OK
    assert json.loads(dbx.state.read("/a/conv_2.json")) == {"text": "Newer"}
    stored = dbx.state.get("/a/conv_2.json")
    assert stored is not None
    assert stored.rev != old.rev
    assert stored.id == old.id
    assert dbx.state.paths() == ["/a/conv_2.html", "/a/conv_2.json"]  # no "(1)" copies
    assert dbx.state.call_count("files/get_metadata") == 1
    assert dbx.state.call_count("files/upload_session/finish") == 1


async def test_a_folder_in_the_way_is_a_permanent_refusal(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    dbx.state.put("/a/conv_3.json/inside.txt", b"x")
    [result] = await archive.push([transcript("conv_3", base="/a/conv_3")])
    assert result.status is PushStatus.PERMANENT
    assert "folder" in (result.error or "")


async def test_a_hash_mismatch_is_retried_and_repaired(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    dbx.state.corrupt_next(1)
    [first] = await archive.push([transcript("conv_4", base="/a/conv_4")])
    assert first.status is PushStatus.RETRYABLE
    assert "content hash mismatch" in (first.error or "")
    [again] = await archive.push([transcript("conv_4", base="/a/conv_4", attempt=2)])
    assert again.status is PushStatus.OK
    stored = dbx.state.read("/a/conv_4.json")
    assert stored == json.dumps({"text": "Hello"}).encode()
    assert dbx.state.get("/a/conv_4.json").metadata()["content_hash"] == content_hash(stored)


# -- unsafe names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "team",
    ["../../etc", "a/b", "tab\tnew\nline", "x" * 300, "..", "{ext}"],
)
async def test_unsafe_team_names_stay_inside_and_unique(
    archive: DropboxIntegration, dbx: DropboxEmulator, team: str
) -> None:
    conversation = {"id": "conv_5", "created_at": "2026-03-04T05:06:07+00:00", "team": team}
    change = OutboundChange(
        change_id="c1", object=SyncObject.CONVERSATION, local_id="conv_5", data=conversation
    )
    other = OutboundChange(
        change_id="c2",
        object=SyncObject.CONVERSATION,
        local_id="conv_6",
        data={**conversation, "id": "conv_6", "team": team.replace("/", ":")},
    )
    [result, second] = await archive.push([change, other])
    base = result.remote_id
    assert base is not None
    assert base.startswith("/chatkit/2026/03/")
    parts = base.split("/")
    assert len(parts) == 6
    assert parts[-1] == "conv_5"
    assert all(p not in ("", ".", "..") and len(p) <= 120 for p in parts[1:])
    assert all(ord(ch) >= 32 for ch in base)
    if "/" in team:
        assert parts[4] != second.remote_id.split("/")[4]  # a/b and a:b stay apart
    [written] = await archive.push([transcript("conv_5", base=base)])
    assert written.status is PushStatus.OK
    assert dbx.state.paths() == [f"{base}.html", f"{base}.json"]


# -- failures ------------------------------------------------------------------------


async def test_a_429_is_honoured(kit: AsyncChatKit, dbx: DropboxEmulator) -> None:
    ids = await resolved(kit, 3)
    dbx.fail_next(429, retry_after=1, route="files/upload_session/finish_batch_v2")
    async with kit.sync.engine(
        DropboxIntegration(config(dbx)), retry_delay=0.05, max_wait=5
    ) as engine:
        await engine.collect()
        started = utcnow()
        report = await engine.push()
        waited = (utcnow() - started).total_seconds()
    assert report.dead == 0
    assert waited >= 1.0  # the engine waited what Dropbox said
    assert all(len(archived(dbx, cid)) == 2 for cid in ids)
    assert len(dbx.state.paths()) == 6
    statuses = [c.status for c in dbx.state.calls if "finish_batch" in c.route]
    assert statuses == [429, 200]


async def test_5xx_mid_upload_loses_and_duplicates_nothing(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    ids = await resolved(kit, 4)
    dbx.fail_next(503, times=1, route="files/upload_session/start", after=3)
    dbx.fail_next(500, times=1, route="files/upload_session/finish_batch_v2")
    async with kit.sync.engine(
        DropboxIntegration(config(dbx)), retry_delay=0.01, max_wait=1
    ) as engine:
        for _ in range(10):
            await engine.run_once()
            if len(dbx.state.paths()) == 8:
                break
    assert sorted(len(archived(dbx, cid)) for cid in ids) == [2, 2, 2, 2]
    assert len(dbx.state.paths()) == 8
    statuses = [c.status for c in dbx.state.calls]
    assert 503 in statuses
    assert 500 in statuses


async def test_insufficient_space_is_typed_and_retryable(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    [conversation_id] = await resolved(kit, 1)
    dbx.state.allocated = 100  # nearly nothing left
    integration = DropboxIntegration(config(dbx))
    async with integration:
        with pytest.raises(DropboxSpaceError) as caught:
            await integration.push([transcript("conv_7", base="/a/conv_7", text="y" * 500)])
        assert caught.value.retry_after == 3600
    assert dbx.state.paths() == []
    before = await kit.conversations.get(conversation_id)
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        report = await engine.run_once()
        assert report.parked == "quota_exhausted"
        status = await kit.sync.status("dropbox")
        assert status.parked == "quota_exhausted"
        assert "full" in (status.parked_detail or "")
        after = await kit.conversations.get(conversation_id)
        assert after == before  # the conversation is untouched
        assert status.dead == 0
        assert status.pending >= 1
        dbx.state.allocated = 10**9  # space freed
        await kit.sync.resume("dropbox")
        report = await engine.run_once()
    assert report.parked is None
    assert len(archived(dbx, conversation_id)) == 2


async def test_a_revoked_token_parks_with_a_clear_status(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    [conversation_id] = await resolved(kit, 1)
    integration = DropboxIntegration(config(dbx))
    assert (await integration.check()).state is HealthState.OK
    dbx.state.revoke()
    health = await integration.check()
    assert health.state is HealthState.AUTH_FAILED
    assert "refresh token" in health.detail
    async with kit.sync.engine(integration) as engine:
        report = await engine.run_once()
    assert report.parked == "auth_failed"
    status = await kit.sync.status("dropbox")
    assert status.parked == "auth_failed"
    assert "connect the app again" in (status.parked_detail or "")
    assert dbx.state.paths() == []
    assert (await kit.sync.link("dropbox", conversation_id + "#transcript")) is not None


async def test_an_expired_access_token_is_refreshed(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    [first] = await archive.push([transcript("conv_8", base="/a/conv_8")])
    dbx.state.expire_access_tokens()
    [second] = await archive.push([transcript("conv_9", base="/a/conv_9")])
    assert first.status is second.status is PushStatus.OK
    assert dbx.state.call_count("oauth2/token") == 2
    assert [c.status for c in dbx.state.calls].count(401) == 1


# -- retention ----------------------------------------------------------------------


async def test_a_purge_deletes_the_archive_unless_held(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    kept, purged = await resolved(kit, 2)
    await kit.retention.hold(conversation_id=kept, reason="case 2026-114")
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        await engine.run_once()
        assert len(archived(dbx, kept)) == len(archived(dbx, purged)) == 2
        dbx.state.reset_calls()
        await kit.retention.purge(now=utcnow() + timedelta(days=3650))
        report = await engine.run_once()
    assert report.dead == 0
    assert archived(dbx, purged) == []
    assert len(archived(dbx, kept)) == 2  # the legal hold keeps it
    assert dbx.state.call_count("files/delete_batch") == 1
    assert dbx.state.call_count("files/delete_batch/check") >= 1
    assert await kit.sync.link("dropbox", purged) is None


async def test_a_purge_of_many_is_one_batch_delete(dbx: DropboxEmulator) -> None:
    dbx.state.job_polls = 2
    async with DropboxIntegration(config(dbx)) as archive:
        bases = [f"/p/conv_{i}" for i in range(300)]
        for base in bases[:5]:
            dbx.state.put(base + ".json", b"{}")
        deletes = [
            OutboundChange(
                change_id=f"d{i}",
                object=SyncObject.CONVERSATION,
                action=ChangeAction.DELETE,
                local_id=f"conv_{i}",
                remote_id=base,
            )
            for i, base in enumerate(bases)
        ]
        results = await archive.push(deletes)
    assert {r.status for r in results} == {PushStatus.OK}
    assert dbx.state.paths() == []
    # 300 archives with 4 possible paths each = 1,200 entries: two batches, each polled thrice.
    assert dbx.state.call_count("files/delete_batch") == 2
    assert dbx.state.call_count("files/delete_batch/check") == 6


async def test_a_conversation_resolved_again_replaces_its_files(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    [conversation_id] = await resolved(kit, 1)
    async with kit.sync.engine(DropboxIntegration(config(dbx))) as engine:
        await engine.run_once()
        [first_json] = [p for p in archived(dbx, conversation_id) if p.endswith(".json")]
        first = dbx.state.get(first_json)
        assert first is not None
        await kit.conversations.reopen(conversation_id)
        await kit.messages.send(conversation_id, "One more thing", author=Author.system())
        await kit.conversations.resolve(conversation_id)
        report = await engine.run_once()
    assert report.dead == 0
    paths = archived(dbx, conversation_id)
    assert len(paths) == 2  # the same two files, no copies
    again = dbx.state.get(first_json)
    assert again is not None
    assert again.rev != first.rev
    assert again.id == first.id
    assert "One more thing" in dbx.state.read(first_json).decode()


async def test_a_moved_archive_leaves_no_old_copy(
    archive: DropboxIntegration, dbx: DropboxEmulator
) -> None:
    [old] = await archive.push([transcript("conv_m", base="/a/Sales/conv_m")])
    assert old.status is PushStatus.OK
    moved = transcript("conv_m", base="/a/Billing/conv_m", attempt=2).model_copy(
        update={"remote_id": old.remote_id}
    )
    [result] = await archive.push([moved])
    assert result.status is PushStatus.OK
    assert result.remote_id == "/a/Billing/conv_m"
    assert dbx.state.paths() == ["/a/Billing/conv_m.html", "/a/Billing/conv_m.json"]


async def test_an_expired_token_that_cannot_be_renewed_parks(
    kit: AsyncChatKit, dbx: DropboxEmulator
) -> None:
    await resolved(kit, 1)
    settings = DropboxConfig.create(
        {"access_token": dbx.state.issue_access_token(), "ca_bundle": dbx.ca_pem}, name="dropbox"
    )
    dbx.state.expire_access_tokens()
    async with kit.sync.engine(DropboxIntegration(settings)) as engine:
        report = await engine.run_once()
    assert report.parked == "auth_failed"
    status = await kit.sync.status("dropbox")
    assert "the access token expired and could not be renewed" in (status.parked_detail or "")
    assert dbx.state.paths() == []


def test_configuration_from_the_environment() -> None:
    environ = {
        "CHATKIT_DROPBOX_APP_KEY": "key",
        "CHATKIT_DROPBOX_APP_SECRET": "secret",
        "CHATKIT_DROPBOX_REFRESH_TOKEN": "sl-refresh-value",
        "CHATKIT_DROPBOX_FORMATS": '["json", "html", "text"]',
        "CHATKIT_DROPBOX_PATH_TEMPLATE": "/Archive/{team}/{year}-{month}/{conversation_id}",
        "CHATKIT_DROPBOX_ATTACHMENTS": "true",
    }
    settings = DropboxConfig.from_env("dropbox", environ=environ)
    assert settings.extensions == ["json", "html", "txt"]
    assert settings.attachments is True
    assert "sl-refresh-value" not in repr(settings)
    with pytest.raises(IntegrationConfigError) as caught:
        DropboxConfig.from_env(
            "dropbox", environ={**environ, "CHATKIT_DROPBOX_FORMATS": '["json", "pdf"]'}
        )
    assert caught.value.fields[0].startswith("formats")
