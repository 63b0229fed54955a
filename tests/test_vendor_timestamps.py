"""Vendors' timestamps are read alike on every supported Python.

Zendesk's webhook ``time`` has nine fractional digits
(``2024-05-01T12:34:56.123456789Z``); Python 3.10's ``datetime.fromisoformat``
refuses it (and ``Z``, and any fraction but 3 or 6 digits).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatkit.integrations import SyncObject
from chatkit_integrations._time import parse_iso_datetime

NINE_DIGITS = "2024-05-01T12:34:56.123456789Z"
EXPECTED = datetime(2024, 5, 1, 12, 34, 56, 123456, tzinfo=UTC)
MODULE = Path(__file__).resolve().parents[1] / "chatkit_integrations" / "_time.py"

CASES = [
    (NINE_DIGITS, EXPECTED),
    ("2024-05-01T12:34:56.123456789+00:00", EXPECTED),
    ("2024-05-01T12:34:56.1234567Z", EXPECTED),
    ("2024-05-01T12:34:56.1Z", EXPECTED.replace(microsecond=100000)),
    ("2024-05-01T12:34:56,5-03", datetime(2024, 5, 1, 15, 34, 56, 500000, tzinfo=UTC)),
    ("2024-05-01T14:34:56.123+0200", EXPECTED.replace(microsecond=123000)),
    ("2024-05-01T12:34:56.000+0000", EXPECTED.replace(microsecond=0)),
    ("2024-05-01T12:34Z", datetime(2024, 5, 1, 12, 34, tzinfo=UTC)),
    (" 2024-05-01 12:34:56 ", datetime(2024, 5, 1, 12, 34, 56)),
    ("2024-05-01", datetime(2024, 5, 1)),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_iso_datetime_reads_vendor_shapes(text: str, expected: datetime) -> None:
    parsed = parse_iso_datetime(text)
    assert parsed == expected
    assert (parsed.tzinfo is None) == (expected.tzinfo is None)


@pytest.mark.parametrize(
    "text", ["", "soon", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "12:34:56Z"]
)
def test_parse_iso_datetime_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match=r"isoformat|must be in"):
        parse_iso_datetime(text)


def _python310() -> str | None:
    """A Python 3.10 that runs (a pyenv shim on PATH may name one it will not run)."""
    candidates = [shutil.which("python3.10")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for candidate in candidates:
        if candidate is None:
            continue
        done = subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=60)
        if done.returncode == 0:
            return candidate
    return None


def test_the_lowest_python_reads_the_same() -> None:
    """Run the parser under Python 3.10 (on PATH or in pyenv) and compare with this one."""
    python = _python310()
    if python is None:
        pytest.skip("no working python3.10 on PATH or in ~/.pyenv/versions")
    texts = [text for text, _ in CASES]
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('vendor_time', {str(MODULE)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        f"for text in {texts!r}:\n"
        "    print(module.parse_iso_datetime(text).isoformat())\n"
        "print(sys.version_info[:2])\n"
    )
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    *lines, version = done.stdout.splitlines()
    assert version == "(3, 10)"
    assert lines == [parse_iso_datetime(text).isoformat() for text in texts]


def test_zendesk_mapping_and_other_vendors_read_nine_digits() -> None:
    from chatkit_integrations.hubspot._mapping import hubspot_datetime
    from chatkit_integrations.hubspot._records import parse_datetime
    from chatkit_integrations.salesforce._records import parse_sf_datetime
    from chatkit_integrations.zendesk._mapping import parse_time

    assert parse_time(NINE_DIGITS) == EXPECTED
    assert hubspot_datetime(NINE_DIGITS) == EXPECTED
    assert parse_datetime(NINE_DIGITS) == int(EXPECTED.timestamp() * 1000)
    assert parse_sf_datetime("2024-05-01T12:34:56.123456789+0000") == EXPECTED


# -- a Zendesk webhook with Zendesk's documented nine-digit ``time`` -------------------

TOKEN = "zendesk-api-token"
SECRET = "zendesk-webhook-secret"
API_EMAIL = "sync@example.com"


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    pytest.importorskip("zenpy")
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from chatkit_integrations.zendesk.emulator import ZendeskEmulator

    with ZendeskEmulator(api_token=TOKEN, webhook_secret=SECRET) as emulator:
        for name, value in emulator.zenpy_env().items():
            monkeypatch.setenv(name, value)
        emulator.state.create_user({"name": "chatkit", "email": API_EMAIL, "role": "agent"})
        yield emulator


@pytest.fixture
async def integration(zendesk: object) -> AsyncIterator[object]:
    from chatkit_integrations.zendesk.integration import ZendeskConfig, ZendeskIntegration

    config = ZendeskConfig(
        subdomain="chatkit", email=API_EMAIL, api_token=TOKEN, webhook_secret=SECRET
    )
    async with ZendeskIntegration(config) as connected:
        yield connected


@pytest.mark.anyio
async def test_zendesk_webhook_with_nine_fractional_digits(
    zendesk: object, integration: object
) -> None:
    from chatkit_integrations.zendesk.emulator import ZendeskEmulator
    from chatkit_integrations.zendesk.integration import ZendeskIntegration

    assert isinstance(zendesk, ZendeskEmulator)
    assert isinstance(integration, ZendeskIntegration)
    event = {
        "type": "zen:event-type:ticket.comment_added",
        "account_id": 1,
        "id": "01HX0000000000000000000000",
        "time": NINE_DIGITS,
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:35",
        "detail": {
            "id": "35",
            "external_id": "conv_1",
            "subject": "Order 1 is late",
            "status": "OPEN",
            "priority": "HIGH",
            "tags": [],
            "requester_id": "6130907993200",
            "updated_at": "2024-05-01T12:34:56.987654321Z",
        },
        "event": {
            "comment": {
                "id": "6164039218999",
                "body": "Any news?",
                "is_public": True,
                "author": {"id": "6130907993200", "is_staff": False, "name": "Customer 1"},
            }
        },
    }
    delivery = zendesk.signed_webhook(event)
    ticket, comment = await integration.verify_webhook(delivery.headers, delivery.body)
    assert (ticket.object, comment.object) == (SyncObject.CONVERSATION, SyncObject.MESSAGE)
    assert ticket.changed_at == EXPECTED.replace(microsecond=987654)
    assert comment.changed_at == EXPECTED
    assert comment.changed_at - ticket.changed_at == timedelta(microseconds=123456 - 987654)
