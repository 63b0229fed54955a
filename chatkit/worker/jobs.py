"""The jobs a worker runs, and their default schedules."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, InvalidInputError
from ..ratelimit import StoreBackend

if TYPE_CHECKING:
    from .._facade import AsyncChatKit

__all__ = [
    "AUTOMATION",
    "BUILTIN_JOBS",
    "NOTIFICATIONS",
    "SYNC_EVERY",
    "REPORTS",
    "WEBHOOKS",
    "CHANNELS",
    "PeriodicJob",
    "check_job_name",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,99}")


def check_job_name(name: object) -> str:
    """Validate a job name: lower-case letters, digits and ``_ . : -``, at most 100."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"job name {name!r} must be lower-case letters, digits and _ . : - "
            "(at most 100, starting with a letter or digit)",
            field="name",
        )
    return name


@dataclass(frozen=True)
class PeriodicJob:
    """A job a worker runs every ``every`` seconds, on one worker at a time.

    The built-in ones are in `BUILTIN_JOBS`; pass your own to
    `AsyncChatKit.run_worker` (``jobs=``) to run them under the same leases,
    schedule and health report.

    Attributes:
        name: Lower-case letters, digits and ``_ . : -``.
        run: Called with the kit; what it returns is shown as the last
            result (a string, or a list whose length is shown). Raising
            records the error; the job is tried again when next due.
        every: Seconds from the start of one run to the start of the next.
        description: One line for people.

    Example:
        ```python
        async def nightly_report(kit: AsyncChatKit) -> str:
            ...
            return "sent"

        await kit.run_worker(jobs=[PeriodicJob("nightly_report", nightly_report, 86400)])
        ```
    """

    name: str
    run: Callable[[AsyncChatKit], Awaitable[object]]
    every: float
    description: str = ""

    def __post_init__(self) -> None:
        check_job_name(self.name)
        if not callable(self.run):
            raise InvalidInputError("run must be an async callable taking the kit", field="run")
        check_every(self.name, self.every)


def check_every(name: str, every: object, *, field: str = "every") -> float:
    """Validate a number of seconds (0.05 s to 7 days): a job's interval, or ``field``."""
    what = f"the interval of {name}" if field == "every" else field
    if isinstance(every, bool) or not isinstance(every, (int, float)):
        raise InvalidInputError(f"{what} must be a number of seconds", field=field)
    if not 0.05 <= every <= 7 * 86_400:
        raise InvalidInputError(f"{what} must be between 0.05 s and 7 days", field=field)
    return float(every)


def _count(items: object, what: str) -> str:
    return f"{len(items) if isinstance(items, list) else items} {what}"


async def _wake_snoozed(kit: AsyncChatKit) -> str:
    return _count(await kit.conversations.wake_snoozed(), "conversations woken")


async def _check_sla(kit: AsyncChatKit) -> str:
    return _count(await kit.tickets.check_sla(), "SLA warnings and breaches")


async def _check_idle(kit: AsyncChatKit) -> str:
    return _count(await kit.automation.check_idle(), "idle rules fired")


async def _refresh_agents(kit: AsyncChatKit) -> str:
    return _count(await kit.agents.refresh(), "agents changed status")


async def _escalate(kit: AsyncChatKit) -> str:
    return _count(await kit.routing.escalate(), "escalations")


async def _expire_surveys(kit: AsyncChatKit) -> str:
    return _count(await kit.surveys.expire_due(), "surveys expired")


async def _survey_follow_ups(kit: AsyncChatKit) -> str:
    return _count(await kit.surveys.resume_follow_ups(), "follow-ups opened")


async def _prune_webhooks(kit: AsyncChatKit) -> str:
    return _count(await kit.webhooks.prune(), "webhook deliveries deleted")


async def _purge(kit: AsyncChatKit) -> str:
    report = await kit.retention.purge()
    return f"{report.conversations} conversations purged"


async def _purge_web_sessions(kit: AsyncChatKit) -> str:
    return _count(await kit.websites.purge_sessions(), "web sessions purged")


async def _purge_rate_limits(kit: AsyncChatKit) -> str:
    try:
        gone = await StoreBackend(kit).purge(time.time())
    except ConfigurationError:  # a store that keeps no rate limits has nothing to purge
        return "the store keeps no rate limits"
    return _count(gone, "rate-limit cells purged")


BUILTIN_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "wake_snoozed",
        _wake_snoozed,
        30.0,
        "reopen snoozed conversations whose time has come (Conversations.wake_snoozed)",
    ),
    PeriodicJob(
        "check_sla",
        _check_sla,
        60.0,
        "publish ticket SLA warnings and breaches that came due (Tickets.check_sla)",
    ),
    PeriodicJob(
        "check_idle",
        _check_idle,
        60.0,
        "fire conversation.idle automation rules (Automation.check_idle)",
    ),
    PeriodicJob(
        "refresh_agents",
        _refresh_agents,
        15.0,
        "mark agents idle or offline when activity or heartbeats stop (Agents.refresh)",
    ),
    PeriodicJob(
        "escalate",
        _escalate,
        15.0,
        "apply the escalation matrix to open conversations (Routing.escalate)",
    ),
    PeriodicJob(
        "expire_surveys",
        _expire_surveys,
        300.0,
        "expire satisfaction surveys not answered in time (Surveys.expire_due)",
    ),
    PeriodicJob(
        "survey_follow_ups",
        _survey_follow_ups,
        300.0,
        "open low-rating follow-ups a crash left undone (Surveys.resume_follow_ups)",
    ),
    PeriodicJob(
        "prune_webhooks",
        _prune_webhooks,
        86_400.0,
        "delete webhook deliveries older than WebhookSettings.log_days (Webhooks.prune)",
    ),
    PeriodicJob(
        "purge",
        _purge,
        86_400.0,
        "delete conversations past the retention policy (Retention.purge)",
    ),
    PeriodicJob(
        "purge_web_sessions",
        _purge_web_sessions,
        3600.0,
        "delete expired and ended customer sessions of the web app (Websites.purge_sessions)",
    ),
    PeriodicJob(
        "purge_rate_limits",
        _purge_rate_limits,
        3600.0,
        "delete expired rate-limit cells from the store (RateLimiter.purge)",
    ),
)
"""The periodic jobs every worker runs unless told otherwise, with their default intervals."""

AUTOMATION = "automation"
"""The automation rules dispatcher (runs when `ChatKitSettings.automation_rules` has rules)."""

NOTIFICATIONS = "notifications"
"""The notifications dispatcher (runs when a notifier is configured)."""

WEBHOOKS = "webhooks"
"""Outbound webhook delivery (`Webhooks.dispatcher`): always runs; idle without subscriptions."""

REPORTS = "reports"
"""The reporting projection (`Reports.dispatcher`): always runs; keeps `kit.reports` current."""

CHANNELS = "channels"
"""Messaging channels (`Channels.dispatcher`): writes received SMS and WhatsApp messages into
conversations and sends replies; runs when ``kit.channels`` has accounts."""

SYNC_EVERY = 30.0
"""Default seconds between sync cycles of an idle integration (commits wake it sooner)."""
