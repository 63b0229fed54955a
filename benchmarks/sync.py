"""Two-way CRM sync against each vendor's emulator: API calls, quiet re-syncs, fault runs.

For each vendor (Zendesk, Salesforce, HubSpot, Zoho CRM), through ``kit.sync`` and the
vendor's real Python client talking HTTP to its emulator:

1. **First sync.** N conversations, each with its own contact and M
   messages, are pushed. ``calls_used`` counts the vendor API calls of the
   push; ``calls_minimum`` is the fewest the vendor's batch endpoints allow
   for those records (the baseline, computed from the batch limits, see
   `Harness.minimum`); ``calls_ratio`` = used ÷ minimum (goal ≤ 1.1).
2. **Quiet re-sync.** Every record is queued again (``engine.resync()``) with
   nothing changed, and a full cycle runs: ``resync_write_calls`` counts the
   vendor write calls it made (goal 0).
3. **Fault run.** A fresh store and emulator (60 conversations with
   ``--quick``, else the same N); the emulator answers some calls
   with 429 (with ``Retry-After``) and 5xx, and the sync worker, a separate
   process, is killed with SIGKILL in the middle of its run, then started
   again until done. ``lost`` counts local records without their vendor
   twin, ``duplicated`` vendor records beyond one per local record (goals 0
   and 0).

4. **GA4** (``vendors.ga4``, see `measure_ga4`): chat events instead of
   records, requests against ⌈events / 25⌉, the same fault run.

For the Dropbox transcript archive (when the ``dropbox`` SDK is installed)
every conversation is resolved first and its transcript is the record: two
files (JSON and HTML) per conversation. ``calls_minimum`` is one upload per
file plus one ``finish_batch_v2`` per 1,000 files; ``lost`` counts
transcript files missing or not holding their conversation, ``duplicated``
extra copies (an autorenamed ``conv_… (1).json``).

The last line printed is one JSON object with the figures per vendor.

    python benchmarks/sync.py --quick        # 150 conversations, 3 messages each
    python benchmarks/sync.py                # 600 conversations, 4 messages each
    python benchmarks/sync.py --quick --vendor dropbox   # one vendor only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from chatkit import AsyncChatKit, Author, ChatKitSettings
from chatkit.settings import UnderstandingSettings
from chatkit.sync import SyncReport

HERE = Path(__file__).resolve()


@dataclass
class Local:
    """What the store holds: the records the vendor should hold once each."""

    contacts: list[str] = field(default_factory=list)
    conversations: list[str] = field(default_factory=list)
    messages: dict[str, list[str]] = field(default_factory=dict)  # conversation → texts


async def make_data(url: str, n: int, m: int) -> Local:
    """``n`` conversations, each with its own contact and ``m`` customer messages.

    Written once (message analysis off: it is not what is measured) and copied
    for each run.
    """
    local = Local()
    settings = ChatKitSettings(understanding=UnderstandingSettings(enabled=False))
    async with AsyncChatKit(url, settings=settings) as kit:
        for i in range(n):
            contact = await kit.contacts.create(
                name=f"Customer {i}", identities=[("email", f"customer{i}@example.com")]
            )
            conversation = await kit.conversations.create(contact_id=contact.id)
            texts = []
            for j in range(m):
                text = f"Message {j} from customer {i}: where is order {1000 + i}?"
                await kit.messages.send(conversation.id, text, author=Author.customer(contact.id))
                texts.append(text)
            local.contacts.append(contact.id)
            local.conversations.append(conversation.id)
            local.messages[conversation.id] = texts
    return local


def _quiet(report: SyncReport) -> bool:
    return not (report.events or report.pushed or report.retried or report.dead or report.pulled)


async def sync_until_done(url: str, name: str, *, rounds: int = 400) -> SyncReport:
    """Run cycles until one has nothing to do (what a worker process does)."""
    total = SyncReport()
    async with (
        AsyncChatKit(url) as kit,
        kit.sync.engine(name, retry_delay=0.05, max_wait=5, claim_seconds=1) as engine,
    ):
        for _ in range(rounds):
            report = await engine.run_once()
            total.add(report)
            status = await kit.sync.status(name)
            if _quiet(report) and status.pending == 0:
                break
            if status.pending and not report.pushed:
                await asyncio.sleep(0.1)  # records waiting: backoff, or a dead worker's claim
    return total


class Harness(ABC):
    """One vendor: its emulator, its settings, its call counts and its records."""

    name: str

    @abstractmethod
    def start(self, stack: ExitStack) -> dict[str, str]:
        """Start a fresh emulator; the environment that points the integration at it."""

    @abstractmethod
    def calls(self) -> int:
        """API calls served since the last `reset`."""

    @abstractmethod
    def writes(self) -> int:
        """Write calls served since the last `reset`."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the call log."""

    @abstractmethod
    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        """The fewest calls the vendor's batch endpoints allow to create these records."""

    @abstractmethod
    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        """Vendor records per contact id, per conversation id, per (conversation, text)."""

    @abstractmethod
    def inject(self) -> int:
        """Make the emulator answer some calls with 429 (Retry-After) and 5xx; how many."""

    async def prepare(self, url: str, local: Local) -> None:  # noqa: B027 - an optional hook
        """Bring a copy of the data to what this vendor syncs (default: as it is)."""

    def judge(self, local: Local) -> tuple[int, int]:
        """``(lost, duplicated)``: local records without a twin, twins beyond one each."""
        people, cases, comments = self.twins(local)
        wanted: list[tuple[Counter[Any], Any]] = [(people, c) for c in local.contacts]
        wanted += [(cases, c) for c in local.conversations]
        wanted += [(comments, (c, t)) for c, texts in local.messages.items() for t in texts]
        lost = sum(1 for counter, key in wanted if counter[key] == 0)
        duplicated = sum(max(0, counter[key] - 1) for counter, key in wanted)
        return lost, duplicated

    def extra(self, used: int, local: Local) -> dict[str, Any]:
        """Figures of this vendor only."""
        return {}


class ZendeskHarness(Harness):
    name = "zendesk"

    def start(self, stack: ExitStack) -> dict[str, str]:
        from chatkit_integrations.zendesk.emulator import ZendeskEmulator

        self.emulator = stack.enter_context(ZendeskEmulator(api_token="bench-token", job_polls=0))
        self.emulator.state.create_user(
            {"name": "chatkit", "email": "sync@example.com", "role": "agent"}
        )
        return {
            **self.emulator.zenpy_env(),
            "CHATKIT_ZENDESK_SUBDOMAIN": "bench",
            "CHATKIT_ZENDESK_EMAIL": "sync@example.com",
            "CHATKIT_ZENDESK_API_TOKEN": "bench-token",
            "CHATKIT_ZENDESK_JOB_POLL_INTERVAL": "0.01",
        }

    def calls(self) -> int:
        return len(self.emulator.state.requests)

    def writes(self) -> int:
        return sum(1 for method, _ in self.emulator.state.requests if method != "GET")

    def reset(self) -> None:
        self.emulator.state.requests.clear()

    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        # Bulk jobs take 100 records and cost the POST plus at least one status
        # poll. Comments go through tickets/update_many: 100 tickets a job and
        # one comment per ticket per job, so the comments need at least
        # ceil(all comments / 100) jobs, and at least M (the comments of one ticket).
        jobs = math.ceil(contacts / 100) + math.ceil(conversations / 100)
        jobs += max(math.ceil(conversations * per_conversation / 100), per_conversation)
        return 2 * jobs

    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        state = self.emulator.state
        people = Counter(u["external_id"] for u in state.users.values() if u["external_id"])
        cases: Counter[str] = Counter()
        comments: Counter[tuple[str, str]] = Counter()
        for ticket in state.tickets.values():
            if ticket.get("status") == "deleted" or not ticket.get("external_id"):
                continue
            cases[ticket["external_id"]] += 1
            for comment in state.comments.get(ticket["id"], []):
                comments[(ticket["external_id"], comment["body"])] += 1
        return people, cases, comments

    def inject(self) -> int:
        self.emulator.fail_next(429, times=2, retry_after=1)
        self.emulator.fail_next(500, times=2, after=6)
        self.emulator.fail_next(503, times=1, after=15)
        return 5


class HubSpotHarness(Harness):
    name = "hubspot"

    def start(self, stack: ExitStack) -> dict[str, str]:
        from chatkit_integrations.hubspot.emulator import HubSpotEmulator

        self.emulator = stack.enter_context(HubSpotEmulator(access_token="bench-token"))
        return {
            "CHATKIT_HUBSPOT_ACCESS_TOKEN": "bench-token",
            "CHATKIT_HUBSPOT_HOST": self.emulator.url,
        }

    def calls(self) -> int:
        return self.emulator.calls()

    def writes(self) -> int:
        return self.emulator.write_calls()

    def reset(self) -> None:
        self.emulator.reset_calls()

    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        # Batch upserts take 100 inputs. Upserts carry no associations, so each
        # batch of tickets needs one batch call to associate them with their
        # contacts; notes are batch-created with their association inline.
        notes = conversations * per_conversation
        return (
            math.ceil(contacts / 100) + 2 * math.ceil(conversations / 100) + math.ceil(notes / 100)
        )

    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        state = self.emulator.state
        people = Counter(
            c["properties"].get("chatkit_id")
            for c in state.all("contacts")
            if c["properties"].get("chatkit_id")
        )
        cases: Counter[str] = Counter()
        ticket_ids: dict[str, str] = {}
        for ticket in state.all("tickets"):
            ours = ticket["properties"].get("chatkit_id")
            if ours:
                cases[ours] += 1
                ticket_ids[str(ticket["id"])] = ours
        comments: Counter[tuple[str, str]] = Counter()
        for note in state.all("notes"):
            body = str(note["properties"].get("hs_note_body") or "")
            for association in state.associated("notes", note["id"], "tickets"):
                conversation = ticket_ids.get(str(association["toObjectId"]))
                if conversation is None:
                    continue
                for text in local.messages.get(conversation, []):
                    if text in body:
                        comments[(conversation, text)] += 1
        return people, cases, comments

    def inject(self) -> int:
        self.emulator.fail_next(429, times=2, retry_after=1)
        self.emulator.fail_next(502, times=2, after=4)
        return 4


def harnesses() -> list[Harness]:
    found: list[Harness] = [
        ZendeskHarness(),
        SalesforceHarness(),
        HubSpotHarness(),
        ZohoCRMHarness(),
    ]
    if importlib.util.find_spec("dropbox") is not None:
        found.append(DropboxHarness())
    return found


class SalesforceHarness(Harness):
    name = "salesforce"

    def start(self, stack: ExitStack) -> dict[str, str]:
        from chatkit_integrations.salesforce.emulator import SalesforceEmulator

        self.emulator = stack.enter_context(SalesforceEmulator())
        self.emulator.close_connections = False  # keep-alive, as a long-running worker would
        return {
            "CHATKIT_SALESFORCE_INSTANCE_URL": self.emulator.url,
            "CHATKIT_SALESFORCE_SESSION_ID": self.emulator.session_id,
            "CHATKIT_SALESFORCE_CA_BUNDLE": self.emulator.ca_pem,
            "CHATKIT_SALESFORCE_API_USER_ID": self.emulator.state.api_user_id,
        }

    def calls(self) -> int:
        return self.emulator.state.call_count()

    def writes(self) -> int:
        return self.emulator.state.write_count()

    def reset(self) -> None:
        self.emulator.state.reset_calls()

    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        # sObject Collections take 200 records per call: Contacts and Cases by
        # external-id upsert, CaseComments by create.
        comments = conversations * per_conversation
        return (
            math.ceil(contacts / 200) + math.ceil(conversations / 200) + math.ceil(comments / 200)
        )

    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        state = self.emulator.state
        people = Counter(
            c.get("Chatkit_Id__c") for c in state.all("Contact") if c.get("Chatkit_Id__c")
        )
        cases: Counter[str] = Counter()
        case_of: dict[str, str] = {}
        for case in state.all("Case"):
            ours = case.get("Chatkit_Id__c")
            if ours:
                cases[ours] += 1
                case_of[case["Id"]] = ours
        comments: Counter[tuple[str, str]] = Counter()
        for comment in state.all("CaseComment"):
            conversation = case_of.get(comment.get("ParentId", ""))
            if conversation is not None:
                comments[(conversation, comment.get("CommentBody") or "")] += 1
        return people, cases, comments

    def inject(self) -> int:
        self.emulator.fail_next(503, times=2, retry_after=1)
        self.emulator.fail_next(500, times=1)
        return 3


class DropboxHarness(Harness):
    """The transcript archive: every conversation resolved, two files each (JSON, HTML)."""

    name = "dropbox"
    emulator: Any = None

    def start(self, stack: ExitStack) -> dict[str, str]:
        from chatkit_integrations.dropbox.emulator import DropboxEmulator

        # The SDK reads its host once per process: one emulator, reset for each phase.
        if self.emulator is None:
            self.emulator = DropboxEmulator().start()
            os.environ.update(self.emulator.environ())
        else:
            self.emulator.reset()
        state = self.emulator.state
        return {
            **self.emulator.environ(),
            "CHATKIT_DROPBOX_APP_KEY": state.app_key,
            "CHATKIT_DROPBOX_APP_SECRET": state.app_secret,
            "CHATKIT_DROPBOX_REFRESH_TOKEN": state.refresh_token,
            "CHATKIT_DROPBOX_CA_BUNDLE": self.emulator.ca_pem,
        }

    async def prepare(self, url: str, local: Local) -> None:
        settings = ChatKitSettings(understanding=UnderstandingSettings(enabled=False))
        async with AsyncChatKit(url, settings=settings) as kit:
            for conversation_id in local.conversations:
                await kit.conversations.resolve(conversation_id)

    def calls(self) -> int:
        return int(self.emulator.state.call_count())

    def writes(self) -> int:
        # Bytes sent and files committed or deleted: what a kill can interrupt.
        reads = {"files/get_metadata", "users/get_current_account", "users/get_space_usage"}
        reads |= {"oauth2/token", "files/delete_batch/check"}
        reads |= {"files/upload_session/finish_batch/check"}
        return sum(1 for c in self.emulator.state.calls if c.route not in reads)

    def reset(self) -> None:
        self.emulator.state.reset_calls()

    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        # Two files per transcript; each needs its bytes sent (one upload_session/start
        # with close=True, or one files/upload), and finish_batch_v2 commits 1,000 at once.
        files = 2 * conversations
        return files + math.ceil(files / 1000)

    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        raise NotImplementedError("the archive is judged by its files (judge)")

    def judge(self, local: Local) -> tuple[int, int]:
        """Per conversation, its JSON and HTML file: lost when missing or not the transcript,
        duplicated for every other copy (an autorenamed ``… (1).json``)."""
        state = self.emulator.state
        copies: Counter[tuple[str, str]] = Counter()
        valid: set[tuple[str, str]] = set()
        for path in state.paths():
            name = path.rsplit("/", 1)[-1]
            stem, _, ext = name.rpartition(".")
            cid = stem.split(" ", 1)[0]
            copies[(cid, ext)] += 1
            content = state.read(path).decode("utf-8", "replace")
            if ext == "json" and stem == cid:
                with contextlib.suppress(ValueError):
                    if json.loads(content)["conversation"]["id"] == cid:
                        valid.add((cid, ext))
            elif ext == "html" and stem == cid and cid in content:
                valid.add((cid, ext))
        wanted = [(cid, ext) for cid in local.conversations for ext in ("json", "html")]
        lost = sum(1 for key in wanted if key not in valid)
        duplicated = sum(max(0, copies[key] - 1) for key in wanted)
        return lost, duplicated

    def extra(self, used: int, local: Local) -> dict[str, Any]:
        transcripts = len(local.conversations)
        return {
            "transcripts": transcripts,
            "calls_per_1000_transcripts": round(used / transcripts * 1000, 1),
            "calls_minimum_per_1000_transcripts": self.minimum(0, 1000, 0),
        }

    def inject(self) -> int:
        # A 429 part-way through the uploads (what was staged is committed, the rest
        # waits Retry-After), a 500 on an upload and a 503 on a batch commit.
        self.emulator.fail_next(429, retry_after=1, route="files/upload_session/start", after=20)
        self.emulator.fail_next(500, route="files/upload_session/start", after=45)
        self.emulator.fail_next(503, route="files/upload_session/finish_batch_v2", after=1)
        return 3
class ZohoCRMHarness(Harness):
    """Zoho CRM (REST API v7 over httpx) against its emulator."""

    name = "zoho_crm"

    def start(self, stack: ExitStack) -> dict[str, str]:
        from chatkit_integrations.zoho_crm.emulator import ZohoCRMEmulator

        self.emulator = stack.enter_context(ZohoCRMEmulator())
        return {
            "CHATKIT_ZOHO_CRM_CLIENT_ID": self.emulator.client_id,
            "CHATKIT_ZOHO_CRM_CLIENT_SECRET": self.emulator.client_secret,
            "CHATKIT_ZOHO_CRM_REFRESH_TOKEN": self.emulator.refresh_token,
            "CHATKIT_ZOHO_CRM_ACCOUNTS_URL": self.emulator.url,
        }

    def calls(self) -> int:
        # CRM API calls; the token exchange is on the accounts server and
        # uses no CRM API credits.
        return self.emulator.calls(path="/crm/")

    def writes(self) -> int:
        return self.emulator.write_calls()

    def reset(self) -> None:
        self.emulator.reset_calls()

    def minimum(self, contacts: int, conversations: int, per_conversation: int) -> int:
        # Upserts take 100 records a call (Contacts, Cases with their contact
        # lookup inline); notes are inserted 100 a call with their parent case.
        notes = conversations * per_conversation
        return math.ceil(contacts / 100) + math.ceil(conversations / 100) + math.ceil(notes / 100)

    def twins(self, local: Local) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str]]]:
        records = self.emulator.state.records
        people = Counter(
            c.get("Chatkit_Id") for c in records["Contacts"].values() if c.get("Chatkit_Id")
        )
        cases: Counter[str] = Counter()
        case_of: dict[str, str] = {}
        for case in records["Cases"].values():
            ours = case.get("Chatkit_Id")
            if ours:
                cases[ours] += 1
                case_of[case["id"]] = ours
        comments: Counter[tuple[str, str]] = Counter()
        for note in records["Notes"].values():
            conversation = case_of.get(note.get("Parent_Id", {}).get("id", ""))
            if conversation is not None:
                comments[(conversation, note.get("Note_Content") or "")] += 1
        return people, cases, comments

    def inject(self) -> int:
        self.emulator.fail_next(429, times=2, retry_after=1)
        self.emulator.fail_next(502, times=2, after=4)
        return 4


def judge(harness: Harness, local: Local) -> tuple[int, int]:
    """``(lost, duplicated)``: local records without a twin, twins beyond one each."""
    return harness.judge(local)


def run_worker(env: dict[str, str], url: str, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE), "--worker", name, "--url", url],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def copy_of(template: Path, path: Path) -> str:
    """A copy of the template store at ``path``, as a store URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def measure(
    harness: Harness,
    data: tuple[Path, Local],
    faults: tuple[Path, Local],
    m: int,
    workdir: Path,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    template, local = data
    started = time.perf_counter()
    with ExitStack() as stack:
        env = harness.start(stack)
        os.environ.update(env)
        url = copy_of(template, workdir / f"{harness.name}-first.db")
        asyncio.run(harness.prepare(url, local))

        async def first() -> tuple[float, SyncReport, int, SyncReport]:
            async with AsyncChatKit(url) as kit, kit.sync.engine(harness.name) as engine:
                await engine.collect()
                harness.reset()
                started = time.perf_counter()
                pushed = await engine.push()
                elapsed = time.perf_counter() - started
                used = harness.calls()
                if engine.integration.capabilities.inbound:
                    await engine.pull()
                await engine.resync()
                harness.reset()
                quiet = await engine.run_once()
                return elapsed, pushed, used, quiet

        elapsed, pushed, used, quiet = asyncio.run(first())
        minimum = harness.minimum(len(local.contacts), len(local.conversations), m)
        figures.update(
            records=pushed.pushed,
            push_seconds=round(elapsed, 2),
            calls_used=used,
            calls_minimum=minimum,
            calls_ratio=round(used / minimum, 3),
            resync_queued=quiet.unchanged,
            resync_write_calls=harness.writes(),
            resync_calls=harness.calls(),
            **harness.extra(used, local),
        )
        lost, duplicated = judge(harness, local)
        figures["first_sync_lost"], figures["first_sync_duplicated"] = lost, duplicated

    figures["first_phase_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    with ExitStack() as stack:
        env = harness.start(stack)
        os.environ.update(env)
        template, local = faults
        n = len(local.conversations)
        url = copy_of(template, workdir / f"{harness.name}-faults.db")
        asyncio.run(harness.prepare(url, local))
        failures = harness.inject()
        harness.reset()
        worker = run_worker(env, url, harness.name)
        # Kill it in the middle of real work: after about half the writes the
        # job needs, and after more writes than there are injected failures.
        target = max(3, harness.minimum(n, n, m) // 2, failures + 1)
        deadline = time.monotonic() + 30
        while harness.writes() < target and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        killed_after = harness.writes()
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = time.perf_counter() - started
        restart = run_worker(env, url, harness.name)
        _, errors = restart.communicate(timeout=300)
        if restart.returncode != 0:
            raise RuntimeError(f"{harness.name} worker failed: {errors.decode()[-2000:]}")
        lost, duplicated = judge(harness, local)
        figures.update(
            injected_failures=failures,
            killed_after_writes=killed_after,
            killed_mid_run=worker.returncode == -signal.SIGKILL,
            killed_at_seconds=round(killed_at, 1),
            fault_phase_seconds=round(time.perf_counter() - started, 1),
            lost=lost,
            duplicated=duplicated,
        )
    return figures


# -- GA4: chat events, not records ---------------------------------------------------
#
# GA4 takes events, at most 25 a request, all of one visitor (client id). The
# data: V web visitors (consent given), each with C whole chats (started,
# first reply, handover, resolved, rated: 5 events a chat). ``calls_ratio``
# = requests ÷ ⌈events / 25⌉; ``calls_floor`` is the fewest requests one
# per visitor allows (the same here: 25 events a visitor). The fault run
# injects 429s and 5xx and kills the worker with SIGKILL mid-run: ``lost``
# counts events GA4 never got, ``duplicated`` events it got twice, and
# ``unknown_outcome`` the events of a request cut off by the kill (not sent
# again: dead-lettered; GA4 has them when ``lost`` stays 0).


async def make_ga4_data(url: str, visitors: int, chats: int) -> list[tuple[str, str]]:
    """``visitors`` consenting web visitors with ``chats`` whole chats each; their
    (client id, conversation id) pairs."""
    from chatkit.models import AnalyticsConsent, WebSession, new_id, utcnow
    from chatkit.stores.base import Insert
    from chatkit.web.sessions import hash_token, new_token

    settings = ChatKitSettings(understanding=UnderstandingSettings(enabled=False))
    form = {"name": "quick", "questions": [{"id": "stars", "kind": "stars", "text": "Stars?"}]}
    out: list[tuple[str, str]] = []
    async with AsyncChatKit(url, settings=settings) as kit:
        site = await kit.websites.create("Bench shop")
        agent = await kit.agents.create(name="Sam", email="sam@example.com")
        for v in range(visitors):
            client_id = f"{1000 + v}.1700000000"
            contact = await kit.contacts.identify(("web", f"visitor{v}"))
            session = WebSession(
                id=new_id("wsess"),
                token_hash=hash_token(new_token()),
                website_id=site.id,
                contact_id=contact.id,
                visitor_id=f"visitor{v}",
                expires_at=utcnow() + timedelta(days=1),
                analytics_client_id=client_id,
                analytics_consent=AnalyticsConsent(analytics=True),
            )
            await kit._core.commit([Insert(session)])
            for c in range(chats):
                inbound = await kit.messages.receive(
                    channel="web", sender=("web", f"visitor{v}"), text=f"Chat {c}", verified=True
                )
                conv = inbound.conversation.id
                await kit.conversations.assign(conv, agent.id)
                await kit.messages.send(conv, "On it.", author=Author.agent(agent.id))
                await kit.conversations.resolve(conv)
                survey = await kit.surveys.send(conv, form)
                await kit.surveys.answer(survey.id, {"stars": 5})
                await kit.conversations.close(conv)
                out.append((client_id, conv))
    return out


GA4_NAMES = ("chat_started", "chat_first_reply", "chat_handover", "chat_resolved", "chat_rated")


def measure_ga4(workdir: Path, quick: bool) -> dict[str, Any]:
    from chatkit_integrations.ga4.emulator import GA4Emulator

    visitors, chats = (40, 5) if quick else (160, 5)
    template = workdir / "ga4.db"
    chats_made = asyncio.run(make_ga4_data(f"sqlite:///{template}", visitors, chats))
    events = len(chats_made) * len(GA4_NAMES)

    def judge_ga4(emulator: GA4Emulator, made: list[tuple[str, str]]) -> tuple[int, int]:
        got = Counter(
            (e.client_id, e.name, e.params.get("conversation_id")) for e in emulator.events()
        )
        wanted = [(client, name, conv) for client, conv in made for name in GA4_NAMES]
        lost = sum(1 for key in wanted if got[key] == 0)
        return lost, sum(max(0, n - 1) for n in got.values())

    figures: dict[str, Any] = {}
    with GA4Emulator(measurement_id="G-BENCH1", api_secret="bench") as emulator:
        env = {
            "CHATKIT_GA4_MEASUREMENT_ID": "G-BENCH1",
            "CHATKIT_GA4_API_SECRET": "bench",
            "CHATKIT_GA4_BASE_URL": emulator.url,
        }
        os.environ.update(env)
        url = copy_of(template, workdir / "ga4-first.db")

        async def first() -> tuple[float, SyncReport, int]:
            async with AsyncChatKit(url) as kit, kit.sync.engine("ga4") as engine:
                await engine.collect()
                emulator.reset()
                started = time.perf_counter()
                pushed = await engine.push()
                elapsed = time.perf_counter() - started
                await engine.resync()
                quiet = await engine.run_once()
                return elapsed, pushed, quiet.pushed

        elapsed, pushed, _ = asyncio.run(first())
        used = emulator.calls()
        minimum = math.ceil(events / 25)
        floor = visitors * math.ceil(chats * len(GA4_NAMES) / 25)
        lost, duplicated = judge_ga4(emulator, chats_made)
        figures.update(
            records=pushed.pushed,
            events=events,
            push_seconds=round(elapsed, 2),
            calls_used=used,
            calls_minimum=minimum,
            calls_floor=floor,
            calls_ratio=round(used / minimum, 3),
            requests_per_1000_events=round(1000 * used / events, 1),
            max_events_per_request=max(len(r.body["events"]) for r in emulator.requests),
            invalid_requests=len(emulator.invalid()),
            resync_write_calls=emulator.calls() - used,
            first_sync_lost=lost,
            first_sync_duplicated=duplicated,
        )

    faults_visitors = 12 if quick else visitors
    small = workdir / "ga4-faults-template.db"
    fault_chats = (
        asyncio.run(make_ga4_data(f"sqlite:///{small}", faults_visitors, chats))
        if quick
        else chats_made
    )
    started = time.perf_counter()
    with GA4Emulator(measurement_id="G-BENCH1", api_secret="bench") as emulator:
        env = {
            "CHATKIT_GA4_MEASUREMENT_ID": "G-BENCH1",
            "CHATKIT_GA4_API_SECRET": "bench",
            "CHATKIT_GA4_BASE_URL": emulator.url,
            "CHATKIT_GA4_MAX_RETRY_WAIT": "2",
        }
        url = copy_of(small if quick else template, workdir / "ga4-faults.db")
        emulator.fail_next(429, times=2, retry_after=0.2)
        emulator.fail_next(500, times=2)
        emulator.fail_next(503, times=1)
        worker = run_worker(env, url, "ga4")
        target = faults_visitors // 2 + 5  # half the requests, past the injected failures
        deadline = time.monotonic() + 30
        while emulator.calls() < target and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        killed_after = emulator.calls()
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
        worker.wait()
        restart = run_worker(env, url, "ga4")
        _, errors = restart.communicate(timeout=300)
        if restart.returncode != 0:
            raise RuntimeError(f"ga4 worker failed: {errors.decode()[-2000:]}")
        lost, duplicated = judge_ga4(emulator, fault_chats)

        async def dead() -> int:
            async with AsyncChatKit(url) as kit:
                return len(await kit.sync.dead_letters("ga4"))

        figures.update(
            injected_failures=5,
            killed_after_writes=killed_after,
            killed_mid_run=worker.returncode == -signal.SIGKILL,
            fault_phase_seconds=round(time.perf_counter() - started, 1),
            unknown_outcome=asyncio.run(dead()),
            lost=lost,
            duplicated=duplicated,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 conversations, 3 messages each")
    parser.add_argument(
        "--vendor", action="append", help="only this vendor (repeat for more); default: all"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(sync_until_done(args.url, args.worker))
        return
    n, m = (150, 3) if args.quick else (600, 4)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        data = (template, asyncio.run(make_data(f"sqlite:///{template}", n, m)))
        faults = data
        if args.quick:  # the fault run is about correctness, not volume: fewer chats
            small = Path(tmp) / "faults.db"
            faults = (small, asyncio.run(make_data(f"sqlite:///{small}", 60, m)))
        chosen = [h for h in harnesses() if not args.vendor or h.name in args.vendor]
        with_ga4 = not args.vendor or "ga4" in args.vendor
        if not chosen and not with_ga4:
            parser.error(f"no vendor among {args.vendor}")
        for harness in chosen:
            figures = measure(harness, data, faults, m, Path(tmp))
            results[harness.name] = figures
            print(
                f"{harness.name:>10}: {figures['calls_used']} calls for {figures['records']} "
                f"records (minimum {figures['calls_minimum']}, ratio {figures['calls_ratio']}); "
                f"quiet re-sync {figures['resync_write_calls']} writes; "
                f"faults + kill: lost {figures['lost']}, duplicated {figures['duplicated']}",
                flush=True,
            )
        if with_ga4:
            results["ga4"] = ga4 = measure_ga4(Path(tmp), args.quick)
            print(
                f"{'ga4':>10}: {ga4['calls_used']} requests for {ga4['events']} events "
                f"(minimum {ga4['calls_minimum']}, ratio {ga4['calls_ratio']}); "
                f"faults + kill: lost {ga4['lost']}, duplicated {ga4['duplicated']}",
                flush=True,
            )
    summary = {
        "benchmark": "sync",
        "conversations": n,
        "messages_per_conversation": m,
        "vendors": results,
        "calls_ratio": {name: r["calls_ratio"] for name, r in results.items()},
        "calls_ratio_max": max(r["calls_ratio"] for r in results.values()),
        "resync_write_calls_max": max(r["resync_write_calls"] for r in results.values()),
        "lost": sum(r["lost"] for r in results.values()),
        "duplicated": sum(r["duplicated"] for r in results.values()),
        "baseline": "the fewest calls each vendor's batch limits allow",
        "goals": {"calls_ratio": 1.1, "resync_write_calls": 0, "lost": 0, "duplicated": 0},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
