"""Attachments in an S3-compatible bucket, downloaded by signed URL. Needs chatkit[s3].

With ``CHATKIT_BLOBS_URL`` set (``s3://bucket/prefix?region=...``, the
credentials in ``CHATKIT_S3_ACCESS_KEY_ID``/``CHATKIT_S3_SECRET_ACCESS_KEY``
or botocore's usual places) it uses that bucket. Without it, it starts
moto's S3 server on 127.0.0.1 as a stand-in (``pip install 'moto[server]'``)
and makes a bucket there.

A customer uploads a receipt; the bytes stream into the bucket in parts with
SHA-256 checksums; a short-lived signed URL downloads them straight from the
bucket (what the web app's download route redirects to); a retention purge
deletes the object.

Run it: ``python examples/s3_attachments.py``
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx

from chatkit import AsyncChatKit, Author
from chatkit.errors import MissingDependencyError
from chatkit.models._base import utcnow

try:
    from chatkit.blobs.s3 import S3BlobStore
except MissingDependencyError as exc:  # no aiobotocore: say what to install, in one line
    sys.exit(str(exc))


@contextmanager
def stand_in() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (a free port), with a bucket; yields the blob store URL."""
    try:
        import moto  # noqa: F401
    except ImportError:
        sys.exit("set CHATKIT_BLOBS_URL to your bucket, or pip install 'moto[server]' to try it")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    keys = {"AWS_ACCESS_KEY_ID": "example", "AWS_SECRET_ACCESS_KEY": "example"}
    os.environ.update(keys)
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.put(f"{endpoint}/support-files").raise_for_status()  # CreateBucket
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield f"s3://support-files/chat?endpoint={endpoint}&region=us-east-1&path_style=true"
    finally:
        server.terminate()
        server.wait(10)


async def main(url: str) -> None:
    blobs = S3BlobStore.from_url(url)
    async with AsyncChatKit("memory://", blobs=blobs) as kit:
        inbound = await kit.messages.receive(channel="web", sender="visitor-7", text="My receipt")
        customer = Author.customer(inbound.contact.id)
        receipt = b"".join(b"line %05d: 1 x parcel, 4.99 EUR\n" % n for n in range(200_000))
        attachment = await kit.attachments.upload(
            inbound.conversation.id, receipt, name="receipt.txt", author=customer
        )
        print(f"uploaded {attachment.name}: {attachment.size:,} bytes, {attachment.mime_type}")

        url = await kit.attachments.signed_url(attachment.id, expires_in=60)
        assert url is not None
        async with httpx.AsyncClient() as browser:
            download = await browser.get(url)
        same = download.content == receipt
        print(
            f"signed URL for 60 s: {download.status_code}, {len(download.content):,} bytes "
            f"({'the same' if same else 'DIFFERENT'}), {download.headers['content-disposition']}"
        )

        report = await kit.retention.purge(now=utcnow() + timedelta(days=400))
        left = await blobs.exists(attachment.blob_key)
        print(f"purged {report.attachments} attachment(s): object still there? {left}")


if __name__ == "__main__":
    configured = os.environ.get("CHATKIT_BLOBS_URL")
    if configured:
        asyncio.run(main(configured))
    else:
        with stand_in() as url:
            asyncio.run(main(url))
