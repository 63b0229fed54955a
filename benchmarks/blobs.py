"""Blob store throughput: chatkit's S3 store against the raw aiobotocore client, on moto's server.

Run ``python benchmarks/blobs.py --quick`` (about a minute on 2 cores) or
without ``--quick`` for more sizes and rounds. Needs ``chatkit[s3]`` and
``moto[server]`` (both in the ``test`` extra). Progress goes to stderr; the
last line on stdout is one JSON object.

**Server.** moto's S3 server (``python -m moto.server``) in its own process
on 127.0.0.1, a free port: real HTTP, the same for both sides.

**chatkit.** `chatkit.blobs.s3.S3BlobStore` with its defaults (SHA-256
checksums on every request, 8 MiB parts): ``put`` streams the blob from an
async iterator of 64 KiB chunks (as an upload arrives from the web app) and
also computes the whole blob's SHA-256 for the attachment record; ``open``
reads it back in 64 KiB chunks, checked against the stored checksums (a
multipart object part by part).

**Baseline.** The same library (aiobotocore), the same client settings and
the same server, doing what a program would do by hand with the bytes in
memory: one ``PutObject`` below the part size, else ``CreateMultipartUpload``,
``UploadPart`` per 8 MiB slice and ``CompleteMultipartUpload``, each with
``ChecksumAlgorithm=SHA256`` (botocore computes it); ``GetObject`` with
``ChecksumMode=ENABLED`` read in 64 KiB chunks.

**What is timed.** Per round, every size is written by both sides back to
back (which side goes first alternates), then read likewise three times, so both see the
same load on a shared machine; a round's throughput is its bytes over its
time, in MB/s (10^6 bytes), and its ratio chatkit's throughput over the
baseline's. The figures are medians over the rounds: ``upload_ratio`` and
``download_ratio`` (goal: at least 0.8 each) are the medians of the rounds'
ratios.

**For information.** ``verified_download_ratio``: the same reads with
``S3Settings(verify_multipart=True)``, which also checks a multipart
object's composite checksum (one more SHA-256 pass over its bytes) where
botocore, and so the baseline, checks none.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
CHUNK = 64 * 1024
READS = 3
"""Times each object is read per round (reads are fast: more of them steady the figure)."""
REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a subprocess on 127.0.0.1; yields its URL."""
    import httpx

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **KEYS},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("moto's server did not start (pip install 'moto[server]')")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _data(size: int) -> bytes:
    block = hashlib.sha256(str(size).encode()).digest() * (CHUNK // 32)
    return (block * (size // len(block) + 1))[:size]


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


async def raw_put(client: Any, bucket: str, key: str, data: bytes, part_size: int) -> None:
    if len(data) < part_size:
        await client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
        return
    created = await client.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256"
    )
    upload_id, parts = created["UploadId"], []
    for number, start in enumerate(range(0, len(data), part_size), start=1):
        sent = await client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data[start : start + part_size],
            ChecksumAlgorithm="SHA256",
        )
        parts.append(
            {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sent["ChecksumSHA256"]}
        )
    await client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


async def raw_get(client: Any, bucket: str, key: str) -> int:
    response = await client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    size = 0
    body = response["Body"]
    try:
        async for chunk in body.iter_chunks(CHUNK):
            size += len(chunk)
    finally:
        body.close()
    return size


async def run(endpoint: str, sizes: list[int], rounds: int) -> dict[str, Any]:
    from aiobotocore.session import get_session

    from chatkit.blobs.s3 import S3BlobStore, S3Settings

    bucket = "bench-blobs"
    settings = S3Settings(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        path_style=True,
        access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    store = S3BlobStore(settings)
    verifying = S3BlobStore(settings.model_copy(update={"verify_multipart": True}))
    part_size = settings.part_size
    # The raw client: the store's own client settings, used directly.
    raw_cm = get_session().create_client("s3", **store._client_args(endpoint))
    datas = {size: _data(size) for size in sizes}
    total = sum(sizes)
    figures: dict[str, list[float]] = {
        "chatkit_upload": [],
        "raw_upload": [],
        "chatkit_download": [],
        "raw_download": [],
        "verified_download": [],
    }
    ratios: dict[str, list[float]] = {"upload": [], "download": [], "verified_download": []}
    async with raw_cm as raw:
        await raw.create_bucket(Bucket=bucket)

        async def chatkit_put(key: str, data: bytes) -> None:
            info = await store.put(key, _chunks(data))
            assert info.size == len(data)

        async def chatkit_get(key: str, size: int, blobs: S3BlobStore = store) -> None:
            got = 0
            async for chunk in blobs.open(key, chunk_size=CHUNK):
                got += len(chunk)
            assert got == size

        async def raw_get_checked(key: str, size: int) -> None:
            assert await raw_get(raw, bucket, key) == size

        async def timed(work: Any) -> float:
            started = time.perf_counter()
            await work
            return time.perf_counter() - started

        for size, data in datas.items():  # warm-up: connections, code paths
            await chatkit_put(f"warm/c/{size}", data)
            await raw_put(raw, bucket, f"warm/r/{size}", data, part_size)
            await chatkit_get(f"warm/c/{size}", size)
            await raw_get_checked(f"warm/r/{size}", size)
        for number in range(rounds):
            tag = f"r{number}"
            spent = dict.fromkeys(figures, 0.0)
            # Each size is written (then read) by both sides back to back, the
            # first side alternating, so both see the same load on the machine.
            for step, (size, data) in enumerate(datas.items()):
                pair = [
                    ("chatkit_upload", chatkit_put(f"c/{tag}/{size}", data)),
                    ("raw_upload", raw_put(raw, bucket, f"r/{tag}/{size}", data, part_size)),
                ]
                for name, work in pair if (number + step) % 2 else pair[::-1]:
                    spent[name] += await timed(work)
            for step, size in enumerate(sizes * READS):
                trio = [
                    ("chatkit_download", chatkit_get(f"c/{tag}/{size}", size)),
                    ("raw_download", raw_get_checked(f"r/{tag}/{size}", size)),
                    ("verified_download", chatkit_get(f"c/{tag}/{size}", size, verifying)),
                ]
                turn = (number + step) % 3
                for name, work in trio[turn:] + trio[:turn]:
                    spent[name] += await timed(work)
            for name, seconds in spent.items():
                moved = total * (READS if name.endswith("download") else 1)
                figures[name].append(moved / seconds / 1e6)
            for kind in ("upload", "download"):
                ratios[kind].append(spent[f"raw_{kind}"] / spent[f"chatkit_{kind}"])
            ratios["verified_download"].append(spent["raw_download"] / spent["verified_download"])
            await store.delete_many([f"c/{tag}/{size}" for size in sizes])
            await raw.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": f"r/{tag}/{size}"} for size in sizes]},
            )
            log(
                f"round {number + 1}/{rounds}: upload chatkit "
                f"{figures['chatkit_upload'][-1]:.0f} MB/s, raw {figures['raw_upload'][-1]:.0f}"
                f" MB/s (ratio {ratios['upload'][-1]:.2f}); download chatkit "
                f"{figures['chatkit_download'][-1]:.0f} MB/s, raw "
                f"{figures['raw_download'][-1]:.0f} MB/s (ratio {ratios['download'][-1]:.2f})"
            )
    await store.close()
    await verifying.close()
    medians = {name: round(statistics.median(values), 1) for name, values in figures.items()}
    return {
        "benchmark": "blobs",
        "sizes": sizes,
        "rounds": rounds,
        "part_size": part_size,
        "upload_mb_s": medians["chatkit_upload"],
        "baseline_upload_mb_s": medians["raw_upload"],
        "upload_ratio": round(statistics.median(ratios["upload"]), 3),
        "download_mb_s": medians["chatkit_download"],
        "baseline_download_mb_s": medians["raw_download"],
        "download_ratio": round(statistics.median(ratios["download"]), 3),
        "verified_download_mb_s": medians["verified_download"],
        "verified_download_ratio": round(statistics.median(ratios["verified_download"]), 3),
        "goal": "upload_ratio >= 0.8 and download_ratio >= 0.8",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="sizes 256 KiB, 4 MiB and 20 MiB; 9 rounds"
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 9 quick, 15 full)")
    args = parser.parse_args()
    if args.quick:
        sizes = [256 * 1024, 4 * MiB, 20 * MiB]
    else:
        sizes = [64 * 1024, 1 * MiB, 4 * MiB, 16 * MiB, 40 * MiB]
    rounds = args.rounds or (9 if args.quick else 15)
    with moto_server() as endpoint:
        log(f"moto's S3 server at {endpoint}; sizes {sizes}, {rounds} rounds")
        summary = asyncio.run(run(endpoint, sizes, rounds))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
