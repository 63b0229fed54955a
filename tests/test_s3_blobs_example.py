"""examples/s3_attachments.py, run as a user would (moto's S3 server as the stand-in bucket)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "s3_attachments.py"


def test_s3_attachments_example_uploads_signs_and_purges() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHATKIT_BLOBS_URL"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "uploaded receipt.txt: 6,700,000 bytes, text/plain"
    assert lines[1].startswith("signed URL for 60 s: 200, 6,700,000 bytes (the same), attachment;")
    assert lines[2] == "purged 1 attachment(s): object still there? False"
    assert EXAMPLE.name == "s3_attachments.py"
