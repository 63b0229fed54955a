"""The S3 blob store against moto's S3 server on 127.0.0.1 (real HTTP, the real client)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from chatkit import AsyncChatKit, Author
from chatkit.blobs import BlobStore, open_blob_store
from chatkit.blobs.s3 import S3BlobStore, S3Settings
from chatkit.errors import (
    BlobAccessError,
    BlobIntegrityError,
    BlobStoreError,
    ConfigurationError,
    InvalidInputError,
    StoreError,
)
from chatkit.models import Attachment, Conversation
from chatkit.models._base import utcnow
from chatkit.testing import BlobStoreContract
from chatkit.testing.blob_contract import pattern

from .s3server import CREDENTIALS, REGION, moto_server

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _raw(endpoint: str, **credentials: str) -> Any:
    keys = credentials or {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **keys)


def _bucket(endpoint: str) -> str:
    name = f"chat-{secrets.token_hex(6)}"
    _raw(endpoint).create_bucket(Bucket=name)
    return name


def _settings(endpoint: str, bucket: str, **options: Any) -> S3Settings:
    values: dict[str, Any] = {
        "bucket": bucket,
        "prefix": "chat",
        "endpoint_url": endpoint,
        "region": REGION,
        "path_style": True,
        "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "part_size": 5 * MiB,
        **options,
    }
    return S3Settings(**values)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class TestS3BlobStore(BlobStoreContract):
    signs_urls = True
    boundary = 5 * MiB  # the part size: one PutObject below it, a multipart upload above
    large = 32 * MiB
    max_memory = 3 * 5 * MiB  # a part gathered and joined, and the reader's chunks

    @pytest.fixture(autouse=True)
    def _moto(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.bucket = _bucket(endpoint)

    def make_blob_store(self, location: Path) -> BlobStore:
        return S3BlobStore(_settings(self.endpoint, self.bucket, verify_multipart=True))


class TestS3BlobStoreFromURL(BlobStoreContract):
    """Selected by URL, credentials from the environment, keys at the bucket's root."""

    signs_urls = True
    boundary = 5 * MiB
    large = 6 * MiB
    max_memory = 3 * 5 * MiB

    @pytest.fixture(autouse=True)
    def _moto(self, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.endpoint = endpoint
        self.bucket = _bucket(endpoint)
        monkeypatch.setenv("CHATKIT_S3_ACCESS_KEY_ID", CREDENTIALS["AWS_ACCESS_KEY_ID"])
        monkeypatch.setenv("CHATKIT_S3_SECRET_ACCESS_KEY", CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def make_blob_store(self, location: Path) -> BlobStore:
        return open_blob_store(
            f"s3://{self.bucket}?endpoint={self.endpoint}&region={REGION}"
            f"&path_style=true&part_size={5 * MiB}"
        )


# -- settings and URLs ----------------------------------------------------------------


def test_a_url_names_every_setting_and_secrets_never_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATKIT_S3_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("CHATKIT_S3_SECRET_ACCESS_KEY", "very-secret-key-value")
    monkeypatch.setenv("CHATKIT_S3_SESSION_TOKEN", "very-secret-session-token")
    store = open_blob_store(
        "s3://files/support/chat/?endpoint=http://127.0.0.1:9000/&region=eu-west-1"
        "&path_style=1&part_size=10485760&url_expires=60&public_endpoint=https://files.example"
        "&verify_multipart=true"
    )
    assert isinstance(store, S3BlobStore)
    s = store.settings
    assert (s.bucket, s.prefix, s.region) == ("files", "support/chat/", "eu-west-1")
    assert (s.endpoint_url, s.public_endpoint_url) == (
        "http://127.0.0.1:9000",
        "https://files.example",
    )
    assert (s.path_style, s.part_size, s.url_expires) == (True, 10 * MiB, 60.0)
    assert s.verify_multipart is True
    assert s.access_key_id == "AKIAEXAMPLE"
    assert s.secret_access_key is not None
    assert s.secret_access_key.get_secret_value() == "very-secret-key-value"
    for text in (repr(store), repr(s), str(s), json.dumps(s.model_dump(mode="json"))):
        assert "very-secret" not in text
    assert "files" in repr(store)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("s3://KEY:hunter2secret@files/chat", "no credentials"),
        ("s3:///chat", "looks like s3://bucket/prefix"),
        ("s3://No_Such..Bucket/x", "bucket"),
        ("s3://files/../etc", "prefix"),
        ("s3://files?part_size=1024", "part_size"),
        ("s3://files?endpoint=ftp://host", "endpoint"),
        ("s3://files?endpoint=http://user:pw@host", "credentials"),
        ("s3://files?color=blue", "unknown S3 blob store URL parameter 'color'"),
        ("s3://files?url_expires=9999999", "url_expires"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        open_blob_store(url)
    assert "hunter2" not in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_bad_settings_are_configuration_errors_without_their_values() -> None:
    with pytest.raises(ConfigurationError, match="part_size") as caught:
        S3BlobStore("files", part_size=1024, secret_access_key="hunter2-very-secret")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="secret_access_key"):
        S3Settings(bucket="files", secret_access_key=12345)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="either S3Settings or keyword"):
        S3BlobStore(S3Settings(bucket="files"), region="eu-west-1")


def test_the_kit_takes_a_blob_store_url(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_BLOBS_URL", f"s3://chat-env?endpoint={endpoint}&path_style=1")
    kit = AsyncChatKit("memory://")
    assert isinstance(kit.blobs, S3BlobStore)
    assert kit.blobs.settings.bucket == "chat-env"
    kit = AsyncChatKit("memory://", blobs=f"s3://chat-arg?endpoint={endpoint}")
    assert isinstance(kit.blobs, S3BlobStore)
    assert kit.blobs.settings.bucket == "chat-arg"


# -- checksums ------------------------------------------------------------------------


async def test_objects_carry_the_sha256_of_their_bytes_and_parts(endpoint: str) -> None:
    bucket = _bucket(endpoint)
    store = S3BlobStore(_settings(endpoint, bucket))
    raw = _raw(endpoint)
    try:
        small = pattern(1000, seed=1)
        await store.put("sum/small", _chunks(small))
        head = raw.head_object(Bucket=bucket, Key="chat/sum/small", ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(small).digest()).decode()

        big = pattern(11 * MiB, seed=2)
        info = await store.put(
            "sum/big", _chunks(*(big[i : i + MiB] for i in range(0, len(big), MiB)))
        )
        assert info.sha256 == hashlib.sha256(big).hexdigest()
        head = raw.get_object(Bucket=bucket, Key="chat/sum/big", ChecksumMode="ENABLED")
        head["Body"].close()
        # Parts of 5 MiB, 5 MiB and 1 MiB: the object's checksum is of the parts' checksums.
        parts = [big[: 5 * MiB], big[5 * MiB : 10 * MiB], big[10 * MiB :]]
        composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
        assert head["ChecksumSHA256"] == f"{base64.b64encode(composite).decode()}-3"
        assert head["ContentLength"] == len(big)
        assert b"".join([c async for c in store.open("sum/big")]) == big
    finally:
        await store.close()


async def test_bytes_that_do_not_match_their_checksum_are_refused_on_download(
    endpoint: str,
) -> None:
    bucket = _bucket(endpoint)
    store = S3BlobStore(_settings(endpoint, bucket, verify_multipart=True))
    raw = _raw(endpoint)
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    # moto keeps the checksum it is given: the stored bytes no longer match it,
    # as after a corruption at rest.
    raw.put_object(
        Bucket=bucket,
        Key="chat/rot/one",
        Body=b"stored bytes",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=wrong,
    )
    try:
        with pytest.raises(BlobIntegrityError, match="do not match"):
            [c async for c in store.open("rot/one")]
        # A multipart object whose parts are not where its metadata says: the
        # parts' checksums (moto computes them from the bytes) do not add up.
        created = raw.create_multipart_upload(
            Bucket=bucket,
            Key="chat/rot/multi",
            ChecksumAlgorithm="SHA256",
            Metadata={"chatkit-part-size": str(5 * MiB)},
        )
        upload, first, second = created["UploadId"], pattern(6 * MiB, 1), b"tail"
        parts = []
        for number, body in enumerate([first, second], start=1):
            sent = raw.upload_part(
                Bucket=bucket,
                Key="chat/rot/multi",
                UploadId=upload,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm="SHA256",
            )
            parts.append(
                {
                    "PartNumber": number,
                    "ETag": sent["ETag"],
                    "ChecksumSHA256": sent["ChecksumSHA256"],
                }
            )
        raw.complete_multipart_upload(
            Bucket=bucket, Key="chat/rot/multi", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        received = bytearray()

        async def read() -> None:
            async for chunk in store.open("rot/multi"):
                received.extend(chunk)

        with pytest.raises(BlobIntegrityError, match="do not match"):
            await read()
        assert bytes(received) == first + second  # noticed at the end of the stream
        unchecked = S3BlobStore(_settings(endpoint, bucket))  # verify_multipart off
        try:
            assert b"".join([c async for c in unchecked.open("rot/multi")]) == first + second
        finally:
            await unchecked.close()

        # The store's own multipart objects read back whole, checked.
        data = pattern(11 * MiB, seed=9)
        await store.put("whole/multi", _chunks(data))
        assert b"".join([c async for c in store.open("whole/multi")]) == data
    finally:
        await store.close()


def test_the_composite_check_finds_a_changed_part() -> None:
    from chatkit.blobs.s3 import _Composite

    parts = [pattern(5 * MiB, 1), pattern(5 * MiB, 2), b"last part"]
    whole = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    response = {
        "ChecksumSHA256": f"{base64.b64encode(whole).decode()}-3",
        "Metadata": {"chatkit-part-size": str(5 * MiB)},
    }
    for data, expected in [
        (b"".join(parts), True),
        (b"".join(parts)[:-1] + b"T", False),  # one byte changed
        (b"".join(parts)[:-1], False),  # one byte short
        (b"".join(parts[:2]), False),  # a part missing
    ]:
        check = _Composite.of(response)
        assert check is not None
        for start in range(0, len(data), 100_003):  # chunks across part boundaries
            check.update(data[start : start + 100_003])
        assert check.matches() is expected
    assert _Composite.of({"ChecksumSHA256": "abc-3", "Metadata": {}}) is None  # not ours
    assert _Composite.of({"ChecksumSHA256": "abc=", "Metadata": {"chatkit-part-size": "9"}}) is None


async def test_a_failed_multipart_upload_is_aborted(endpoint: str) -> None:
    bucket = _bucket(endpoint)
    store = S3BlobStore(_settings(endpoint, bucket))

    async def broken() -> AsyncIterator[bytes]:
        yield pattern(6 * MiB)
        raise ConnectionResetError("the client went away")

    try:
        with pytest.raises(ConnectionResetError):
            await store.put("half/one", broken())
    finally:
        await store.close()
    listed = _raw(endpoint).list_multipart_uploads(Bucket=bucket)
    assert listed.get("Uploads", []) == []


async def test_purge_deletes_in_batches_of_a_thousand(endpoint: str) -> None:
    bucket = _bucket(endpoint)
    store = S3BlobStore(_settings(endpoint, bucket))
    calls: list[int] = []
    try:
        client = await store._client()
        client.meta.events.register(
            "before-call.s3.DeleteObjects",
            lambda params, **_: calls.append(len(params["body"]) if params.get("body") else 0),
        )
        keys = [f"p/{i:04d}" for i in range(2001)]
        raw = _raw(endpoint)
        for key in keys[::400]:
            raw.put_object(Bucket=bucket, Key=f"chat/{key}", Body=key.encode())
        await store.delete_many(keys)
        assert len(calls) == 3  # 1,000 + 1,000 + 1
        assert raw.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    finally:
        await store.close()


# -- a refused bucket -------------------------------------------------------------------


async def test_a_missing_bucket_is_a_typed_error_and_the_conversation_is_untouched(
    endpoint: str,
) -> None:
    store = S3BlobStore(_settings(endpoint, "no-such-bucket-here"))
    async with AsyncChatKit("memory://", blobs=store) as kit:
        inbound = await kit.messages.receive(channel="web", sender="visitor-1", text="hi")
        conv, customer = inbound.conversation, Author.customer(inbound.contact.id)
        before = await kit.store.get(Conversation, conv.id)
        events = (await kit.events.list(limit=1000)).items
        for size in (10, 6 * MiB):  # one PutObject; a multipart upload
            with pytest.raises(BlobAccessError) as caught:
                await kit.attachments.upload(
                    conv.id, (b"hello world\n" * size)[:size], name="a.txt", author=customer
                )
            assert caught.value.reason == "NoSuchBucket"
            assert isinstance(caught.value, StoreError)
            assert "no-such-bucket-here" in str(caught.value)
        assert await kit.store.get(Conversation, conv.id) == before
        assert await kit.store.count(Attachment, {}) == 0
        assert (await kit.events.list(limit=1000)).items == events
        with pytest.raises(BlobAccessError):
            await store.delete("x")
        with pytest.raises(BlobAccessError):
            await store.delete_many(["x", "y"])


@pytest.fixture(scope="module")
def guarded() -> Iterator[dict[str, str]]:
    """A second moto server that checks IAM: a user may use one bucket only."""
    with moto_server() as url:
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        iam.create_user(UserName="chat")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::chat-allowed", "arn:aws:s3:::chat-allowed/*"],
                }
            ],
        }
        iam.put_user_policy(UserName="chat", PolicyName="one", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="chat")["AccessKey"]
        raw = _raw(url)
        raw.create_bucket(Bucket="chat-allowed")
        raw.create_bucket(Bucket="chat-forbidden")
        httpx.post(f"{url}/moto-api/reset-auth", content=b"0").raise_for_status()
        yield {
            "endpoint": url,
            "key": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
        }


async def test_access_denied_is_a_typed_error_and_nothing_is_recorded(
    guarded: dict[str, str],
) -> None:
    def store(bucket: str, secret: str | None = None) -> S3BlobStore:
        return S3BlobStore(
            _settings(
                guarded["endpoint"],
                bucket,
                access_key_id=guarded["key"],
                secret_access_key=secret or guarded["secret"],
            )
        )

    allowed, forbidden = store("chat-allowed"), store("chat-forbidden")
    wrong_key = store("chat-allowed", secret="not-the-secret-at-all")
    try:
        info = await allowed.put("ok/one", _chunks(b"fine"))  # the user's own bucket works
        assert info.size == 4
        assert b"".join([c async for c in allowed.open("ok/one")]) == b"fine"
        async with AsyncChatKit("memory://", blobs=forbidden) as kit:
            inbound = await kit.messages.receive(channel="web", sender="visitor-2", text="hi")
            before = await kit.store.get(Conversation, inbound.conversation.id)
            with pytest.raises(BlobAccessError) as caught:
                await kit.attachments.upload(
                    inbound.conversation.id,
                    b"hello",
                    name="a.txt",
                    author=Author.customer(inbound.contact.id),
                )
            assert caught.value.reason == "AccessDenied"
            assert await kit.store.get(Conversation, inbound.conversation.id) == before
            assert await kit.store.count(Attachment, {}) == 0
        with pytest.raises(BlobAccessError) as bad_secret:
            await wrong_key.put("ok/two", _chunks(b"x"))
        assert bad_secret.value.reason == "SignatureDoesNotMatch"
        assert "not-the-secret" not in str(bad_secret.value)
    finally:
        for each in (allowed, forbidden, wrong_key):
            await each.close()


async def test_an_unreachable_service_is_a_store_error() -> None:
    from .s3server import _free_port

    store = S3BlobStore(_settings(f"http://127.0.0.1:{_free_port()}", "chat-gone", max_attempts=1))
    try:
        with pytest.raises(BlobStoreError) as caught:
            await store.put("a/b", _chunks(b"x"))
        assert not isinstance(caught.value, BlobAccessError)
    finally:
        await store.close()


async def test_signed_url_lifetimes_are_checked(endpoint: str) -> None:
    store = S3BlobStore(_settings(endpoint, _bucket(endpoint), url_expires=42))
    try:
        url = await store.signed_url("a/b", name="a.txt", mime_type="text/plain")
        assert "X-Amz-Expires=42" in url
        assert "Signature=" in url
        with pytest.raises(InvalidInputError):
            await store.signed_url("a/b", name="a.txt", mime_type="text/plain", expires_in=0)
    finally:
        await store.close()


async def test_public_endpoint_signs_urls_for_browsers(endpoint: str) -> None:
    store = S3BlobStore(
        _settings(endpoint, _bucket(endpoint), public_endpoint_url="https://files.example")
    )
    try:
        url = await store.signed_url("a/b", name="a.txt", mime_type="text/plain")
        assert url.startswith("https://files.example/")
        assert httpx.URL(url).path.endswith("/chat/a/b")
    finally:
        await store.close()


# -- through the kit and the web app ------------------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\x00\xff\x00"))
        + chunk(b"IEND", b"")
    )


async def test_the_web_app_redirects_downloads_to_a_presigned_url(endpoint: str) -> None:
    pytest.importorskip("fastapi")
    from chatkit.web import WebSettings

    from .webserver import serve

    shop = "https://shop.example"
    bucket = _bucket(endpoint)
    store = S3BlobStore(_settings(endpoint, bucket))
    async with AsyncChatKit("memory://", blobs=store) as kit:
        site = await kit.websites.create("Shop", origins=[shop])
        async with (
            serve(kit.asgi(WebSettings())) as url,
            httpx.AsyncClient(base_url=url, headers={"origin": shop}) as http,
        ):
            session = await http.post("/v1/sessions", json={"website_key": site.public_key})
            assert session.status_code == 201, session.text
            http.headers["authorization"] = f"Bearer {session.json()['token']}"
            sent = await http.post("/v1/messages", json={"text": "the label"})
            conv = sent.json()["conversation_id"]
            uploaded = await http.post(
                f"/v1/conversations/{conv}/attachments?name=label.png", content=_png()
            )
            assert uploaded.status_code == 201, uploaded.text
            attachment_id = uploaded.json()["id"]
            record = await kit.attachments.get(attachment_id)
            stored = _raw(endpoint).get_object(Bucket=bucket, Key=f"chat/{record.blob_key}")
            assert stored["Body"].read() == _png()  # the bytes went to the bucket

            answer = await http.get(f"/v1/conversations/{conv}/attachments/{attachment_id}")
            assert answer.status_code == 307, answer.text
            assert answer.headers["cache-control"] == "no-store"
            location = answer.headers["location"]
            assert location.startswith(f"{endpoint}/{bucket}/chat/att/")
            assert "X-Amz-Signature=" in location
            async with httpx.AsyncClient() as browser:
                download = await browser.get(location)
            assert download.status_code == 200, download.text
            assert download.content == _png()
            assert download.headers["content-type"] == "image/png"
            assert download.headers["content-disposition"].startswith('attachment; filename="')
            assert "label.png" in download.headers["content-disposition"]

            # Another customer's session gets no URL at all.
            other = await http.post(
                "/v1/sessions", json={"website_key": site.public_key}, headers={"authorization": ""}
            )
            stranger = await http.get(
                f"/v1/conversations/{conv}/attachments/{attachment_id}",
                headers={"authorization": f"Bearer {other.json()['token']}"},
            )
            assert stranger.status_code == 404
            assert "location" not in stranger.headers


async def test_a_purge_deletes_the_objects(endpoint: str) -> None:
    bucket = _bucket(endpoint)
    raw = _raw(endpoint)
    async with AsyncChatKit("memory://", blobs=S3BlobStore(_settings(endpoint, bucket))) as kit:
        for n in range(3):
            inbound = await kit.messages.receive(channel="web", sender=f"v{n}", text="hi")
            await kit.attachments.upload(
                inbound.conversation.id,
                b"note %d\n" % n,
                name="n.txt",
                author=Author.customer(inbound.contact.id),
            )
        assert raw.list_objects_v2(Bucket=bucket)["KeyCount"] == 3
        report = await kit.retention.purge(now=utcnow() + timedelta(days=40))
        assert report.attachments == 3
        assert raw.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
