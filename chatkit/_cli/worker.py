"""``chatkit worker``: run the background jobs, or print their health (``--status``)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from .._facade import AsyncChatKit, ChatKit
from ..errors import ChatKitError, ConfigurationError, InvalidInputError
from ..integrations import Integration, integrations
from ..settings import ChatKitSettings, default_url
from ..worker import BUILTIN_JOBS, SYNC_EVERY, Worker
from .core import StoreUrl
from .output import console, errors, fail

__all__ = ["worker"]


def _intervals(pairs: list[str]) -> dict[str, float]:
    every: dict[str, float] = {}
    for pair in pairs:
        name, sep, seconds = pair.partition("=")
        try:
            every[name.strip()] = float(seconds)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigurationError(f"--every takes JOB=SECONDS, e.g. check_sla=30 (got {pair!r})")
    return every


def _settings(path: Path | None) -> ChatKitSettings | None:
    if path is None:
        return None
    try:
        return ChatKitSettings.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"cannot read settings file {path}: {exc.strerror}") from None
    except ValidationError as exc:  # malformed JSON
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigurationError(f"settings file {path}: {where}: {first['msg']}") from None
    except InvalidInputError as exc:  # a field of the wrong type or value
        raise ConfigurationError(f"settings file {path}: {exc}") from None


def _app_kit(target: str) -> AsyncChatKit | ChatKitSettings:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"--app takes MODULE:NAME, e.g. myapp.support:kit (got {target!r})"
        )
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"--app: cannot import {module_name!r}: {exc}") from None
    finally:
        sys.path.pop(0)
    value = getattr(module, attribute, None)
    if value is None:
        raise ConfigurationError(f"--app: {module_name!r} has no {attribute!r}")
    if callable(value) and not isinstance(value, (AsyncChatKit, ChatKit, ChatKitSettings)):
        value = value()
    if isinstance(value, ChatKit):
        return value.aio
    if isinstance(value, (AsyncChatKit, ChatKitSettings)):
        return value
    raise ConfigurationError(
        f"--app: {target} is a {type(value).__name__}; "
        "give an AsyncChatKit, a ChatKit, ChatKitSettings, or a function returning one"
    )


def _integration(name: str, config: Path | None) -> Integration:
    plugin = integrations.load(name)
    return plugin.from_env(file=str(config) if config else None)


def _list_jobs() -> None:
    for job in BUILTIN_JOBS:
        console.print(f"{job.name:<20} every {job.every:>7g} s  {job.description}")
    console.print(
        f"{'automation':<20} dispatcher       automation rules on events (when the kit has rules)"
    )
    console.print(
        f"{'notifications':<20} dispatcher       ticket notifications (when a notifier is set up)"
    )
    console.print(
        f"{'webhooks':<20} dispatcher       signed outbound webhooks (kit.webhooks subscriptions)"
    )
    console.print(
        f"{'sync:<name>':<20} every {SYNC_EVERY:>7g} s  one sync engine per --sync integration "
        "(and at once on new events)"
    )


async def _main(
    url: str | None,
    app: str | None,
    settings_file: Path | None,
    only: list[str] | None,
    skip: list[str],
    every: dict[str, float],
    sync: list[str],
    config: Path | None,
    status: bool,
    as_json: bool,
    max_lag: int,
    groups: list[str],
) -> int:
    settings = _settings(settings_file)
    target = _app_kit(app) if app else None
    if isinstance(target, AsyncChatKit):
        if url is not None or settings is not None:
            raise ConfigurationError(
                "--app gives a kit: --url and --settings cannot be used with it"
            )
        kit = target
    else:
        kit = AsyncChatKit(url or default_url(), settings=target or settings)
        kit.channels.add_from_env()  # CHATKIT_CHANNELS: the accounts whose replies it sends
    async with kit:
        if status:
            health = await kit.health(max_lag=max_lag, groups=groups)
            if as_json:
                print(health.model_dump_json())
            else:
                for line in health.lines():
                    print(line)
            return 0 if health.status == "ok" else 1
        worker = Worker(
            kit,
            only=only,
            skip=skip,
            every=every,
            sync=[_integration(name, config) for name in sync],
        )
        console.print(
            f"worker {worker.name} on {kit.store!r}; SIGTERM or Ctrl-C stops it", style="dim"
        )
        await worker.run(handle_signals=True)
    return 0


def worker(
    url: StoreUrl = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="JOB", help="Run only this job (repeat for more)."),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", metavar="JOB", help="Do not run this job (repeat for more)."),
    ] = None,
    every: Annotated[
        list[str] | None,
        typer.Option(
            "--every", metavar="JOB=SECONDS", help="Run a job at another interval (repeatable)."
        ),
    ] = None,
    sync: Annotated[
        list[str] | None,
        typer.Option(
            "--sync", metavar="INTEGRATION", help="Also sync this integration (repeatable)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="FILE", help="JSON/YAML file with one section per integration."
        ),
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            metavar="FILE",
            help="JSON file of ChatKitSettings (rules, retention, notifications): use your app's.",
        ),
    ] = None,
    app: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="MODULE:NAME",
            help="Your app's kit or settings (or a function returning one), e.g. myapp.chat:kit.",
        ),
    ] = None,
    status: Annotated[
        bool,
        typer.Option("--status", help="Print the workers' health, one line per job, and exit."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: print JSON.")] = False,
    max_lag: Annotated[
        int,
        typer.Option(
            min=0, metavar="N", help="With --status: events a dispatch group may lag behind."
        ),
    ] = 1000,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group", metavar="GROUP", help="With --status: also report this dispatch group."
        ),
    ] = None,
    list_jobs: Annotated[
        bool, typer.Option("--list", help="List the jobs and their default intervals, and exit.")
    ] = False,
) -> None:
    """Run the background jobs (snoozes, SLAs, presence, surveys, purge, dispatchers, sync).

    Start one or more on any machines sharing the store: periodic jobs run on
    one worker at a time under a lease, dispatchers share their events.
    SIGTERM or Ctrl-C stops it after the step in hand. With --status it prints
    the health of every worker on the store instead (exit status 1 when degraded).
    """
    if list_jobs:
        _list_jobs()
        return
    if as_json and not status:
        raise typer.BadParameter("--json goes with --status", param_hint="--json")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        code = asyncio.run(
            _main(
                url,
                app,
                settings_file,
                only,
                skip or [],
                _intervals(every or []),
                sync or [],
                config,
                status,
                as_json,
                max_lag,
                group or [],
            )
        )
    except ChatKitError as exc:
        fail(exc)
    except (asyncio.CancelledError, KeyboardInterrupt):
        errors.print("interrupted")  # a second SIGTERM or Ctrl-C: leases were released
        raise typer.Exit(130) from None
    if code:
        raise typer.Exit(code)
