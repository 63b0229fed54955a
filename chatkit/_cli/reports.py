"""``chatkit report``: service metrics as tables, JSON or CSV, charts, HTML; rebuild; export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from .._facade import AsyncChatKit
from ..errors import InvalidInputError
from ..reports.models import DurationStats, ServiceMetrics, ServiceReport, Share
from ..settings import default_url
from .core import StoreUrl
from .output import Bars, console, fail, print_table, run

__all__ = ["report_app"]

report_app = typer.Typer(
    help="Service metrics, busiest hours, mood, staffing (see the concept page 'Reports').",
    invoke_without_command=True,
)

Days = Annotated[int | None, typer.Option(help="The range: this many days before --end (7).")]
Start = Annotated[
    str | None, typer.Option(metavar="ISO", help="Start of the range (ISO time, UTC if no zone).")
]
End = Annotated[str | None, typer.Option(metavar="ISO", help="End of the range (now).")]
TeamOpt = Annotated[str | None, typer.Option(help="Only this team.")]
AgentOpt = Annotated[str | None, typer.Option(help="Only this agent's part (agent id).")]
ChannelOpt = Annotated[str | None, typer.Option(help="Only this channel.")]
TagOpt = Annotated[str | None, typer.Option(help="Only conversations with this tag.")]
LanguageOpt = Annotated[str | None, typer.Option(help="Only this language.")]
ZoneOpt = Annotated[str, typer.Option("--tz", help="Time zone for days and hours (IANA name).")]
Format = Annotated[str, typer.Option("--format", help="table, json or csv.", case_sensitive=False)]
NoDrain = Annotated[
    bool,
    typer.Option(
        "--no-drain", help="Do not apply outbox events the projection has not seen first."
    ),
]


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"{field} is not an ISO time: {value!r}", field=field) from exc
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _rate(share: Share) -> str:
    return "-" if share.rate is None else f"{share.rate:.0%} ({share.count}/{share.total})"


_DURATIONS = (
    ("first response", "first_response"),
    ("reply time", "reply_time"),
    ("queue wait", "queue_wait"),
    ("handle time", "handle_time"),
    ("first resolution", "first_resolution"),
    ("full resolution", "full_resolution"),
)


def _flat(m: ServiceMetrics) -> dict[str, Any]:
    """Every headline figure of ``m`` as name -> number (durations in seconds)."""
    out: dict[str, Any] = {"conversations": m.conversations}
    for _, key in _DURATIONS:
        stats: DurationStats = getattr(m, key)
        out[f"{key}.count"] = stats.count
        out[f"{key}.median_s"] = stats.median
        out[f"{key}.mean_s"] = stats.mean
        out[f"{key}.p90_s"] = stats.p90
        out[f"{key}.business_median_s"] = stats.business_median
    for name, share in (
        ("abandoned", m.abandoned),
        ("missed", m.missed),
        ("reopened", m.reopened),
        ("first_contact_resolution", m.first_contact_resolution),
        ("csat", m.csat.satisfied),
        ("bot_containment", m.bot.contained),
        ("bot_handoff", m.bot.handoffs),
    ):
        out[f"{name}.rate"] = share.rate
        out[f"{name}.count"] = share.count
        out[f"{name}.total"] = share.total
    out["csat.response_rate"] = m.csat.response_rate
    out["messages_in"] = m.load.messages_in
    out["messages_out"] = m.load.messages_out
    out["bot_messages_out"] = m.load.bot_messages_out
    return out


def _tables(report: ServiceReport) -> None:
    t = report.totals
    f = report.filter
    console.print(
        f"[bold]Conversations started {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC[/]"
        f" ({t.conversations})"
    )
    table = Table("duration", "n", "median", "mean", "p90", "median (business)")
    for label, key in _DURATIONS:
        s: DurationStats = getattr(t, key)
        table.add_row(
            label, str(s.count), _dur(s.median), _dur(s.mean), _dur(s.p90), _dur(s.business_median)
        )
    print_table(table)
    rates = Table("rate", "value")
    for label, value in (
        ("CSAT (satisfied)", _rate(t.csat.satisfied)),
        (
            "survey response rate",
            "-" if t.csat.response_rate is None else f"{t.csat.response_rate:.0%}",
        ),
        ("first contact resolution", _rate(t.first_contact_resolution)),
        ("reopened", _rate(t.reopened)),
        ("abandoned", _rate(t.abandoned)),
        ("missed", _rate(t.missed)),
        ("bot containment", _rate(t.bot.contained)),
        ("bot handoffs", _rate(t.bot.handoffs)),
        (
            "messages in / out / bot",
            f"{t.load.messages_in} / {t.load.messages_out} / {t.load.bot_messages_out}",
        ),
    ):
        rates.add_row(label, value)
    print_table(rates)
    if report.groups:
        groups = Table(
            report.group_by or "group",
            "conv.",
            "median FRT",
            "median resolution",
            "handle total",
            "CSAT",
            "FCR",
            "abandoned",
        )
        for g in report.groups:
            m = g.metrics
            groups.add_row(
                g.key,
                str(m.conversations),
                _dur(m.first_response.median),
                _dur(m.first_resolution.median),
                _dur(m.handle_time.total),
                _rate(m.csat.satisfied),
                _rate(m.first_contact_resolution),
                _rate(m.abandoned),
            )
        print_table(groups)


def _csv(report: ServiceReport) -> str:
    rows = [("total", _flat(report.totals))] + [(g.key, _flat(g.metrics)) for g in report.groups]
    out = io.StringIO()
    names = list(rows[0][1])
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", *names])
    for key, values in rows:
        writer.writerow([key, *("" if values[n] is None else values[n] for n in names)])
    return out.getvalue()


@report_app.callback()
def report(
    ctx: typer.Context,
    url: StoreUrl = None,
    days: Days = None,
    start: Start = None,
    end: End = None,
    team: TeamOpt = None,
    agent: AgentOpt = None,
    channel: ChannelOpt = None,
    tag: TagOpt = None,
    language: LanguageOpt = None,
    tz: ZoneOpt = "UTC",
    by: Annotated[
        str | None,
        typer.Option(help="Group by team, agent, channel, language, tag, day, week or month."),
    ] = None,
    format: Format = "table",
    plot: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Also draw the charts to FILE.png or FILE.svg (chatkit[reports])."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Also write a self-contained HTML report (chatkit[reports])."
        ),
    ] = None,
    no_drain: NoDrain = False,
) -> None:
    """Service metrics for conversations started in a range (the last 7 days by default)."""
    if ctx.invoked_subcommand is not None:
        return
    if format.lower() not in ("table", "json", "csv"):
        fail("--format takes table, json or csv")

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            if not no_drain:
                await kit.reports.drain()
            scope: dict[str, Any] = {
                "start": _time(start, "start"),
                "end": _time(end, "end"),
                "days": days,
                "team": team,
                "channel": channel,
                "tag": tag,
                "language": language,
                "time_zone": tz,
            }
            result = await kit.reports.summary(agent=agent, group_by=by, **scope)  # type: ignore[arg-type]
            kind = format.lower()
            if kind == "json":
                console.file.write(result.model_dump_json(indent=2) + "\n")
            elif kind == "csv":
                console.file.write(_csv(result))
            else:
                _tables(result)
            if plot is None and html is None:
                return
            from ..reports.plots import Charts

            scope["start"], scope["end"], scope["days"] = (
                result.filter.start,
                result.filter.end,
                None,
            )
            charts = Charts(
                report=result,
                heatmap=await kit.reports.heatmap(agent=agent, **scope),
                trend=await kit.reports.trend(agent=agent, **scope),
                mood=await kit.reports.mood(agent=agent, **scope),
                staffing=await kit.reports.staffing(
                    start=scope["start"], end=scope["end"], team=team, channel=channel, time_zone=tz
                ),
            )
            if plot is not None:
                from ..reports.plots import save

                save(charts, plot)
                console.print(f"charts written to {plot}") if kind == "table" else None
            if html is not None:
                from ..reports.html import write

                write(charts, html)
                console.print(f"HTML report written to {html}") if kind == "table" else None

    run(main())


@report_app.command()
def rebuild(url: StoreUrl = None) -> None:
    """Recompute the reporting projection from the whole outbox (history included)."""

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            with Bars() as bars:
                count = await kit.reports.rebuild(
                    progress=lambda done, total: bars.update("events", done, total)
                )
            console.print(f"rebuilt the reports of {count} conversations")

    run(main())


@report_app.command()
def heatmap(
    url: StoreUrl = None,
    days: Days = None,
    start: Start = None,
    end: End = None,
    team: TeamOpt = None,
    channel: ChannelOpt = None,
    tz: ZoneOpt = "UTC",
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Resolutions instead of conversations started.")
    ] = False,
    format: Format = "table",
) -> None:
    """Busiest hours: weekday x hour counts, coloured by quantile."""

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.reports.drain()
            heat = await kit.reports.heatmap(
                metric="resolved" if resolved else "started",
                start=_time(start, "start"),
                end=_time(end, "end"),
                days=days,
                team=team,
                channel=channel,
                time_zone=tz,
            )
            if format.lower() == "json":
                console.file.write(heat.model_dump_json(indent=2) + "\n")
                return
            if format.lower() == "csv":
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["weekday", *range(24)])
                for d, row in enumerate(heat.cells):
                    writer.writerow([d, *row])
                console.file.write(out.getvalue())
                return
            styles = ["dim", "green", "yellow", "dark_orange", "red", "bold red"]
            table = Table(
                "", *[f"{h:02d}" for h in range(24)], title=f"{heat.metric} ({heat.time_zone})"
            )
            for d, row in enumerate(heat.cells):
                table.add_row(
                    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d],
                    *[f"[{styles[min(heat.levels[d][h], 5)]}]{v}[/]" for h, v in enumerate(row)],
                )
            print_table(table)

    run(main())


@report_app.command()
def mood(
    url: StoreUrl = None,
    days: Days = None,
    team: TeamOpt = None,
    tz: ZoneOpt = "UTC",
    format: Format = "table",
) -> None:
    """Customer mood: sentiment, moods that fell, complaint terms, intents, question patterns."""

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.reports.drain()
            result = await kit.reports.mood(days=days, team=team, time_zone=tz)
            if format.lower() == "json":
                console.file.write(result.model_dump_json(indent=2) + "\n")
                return
            console.print(f"sentiment: {result.distribution}  average: {result.average}")
            console.print(f"mood fell: {_rate(result.fell)}")
            table = Table("top complaint terms", "n", "top intents", "n")
            terms, intents = result.top_negative_terms, result.top_intents
            for i in range(max(len(terms), len(intents))):
                a = terms[i] if i < len(terms) else None
                b = intents[i] if i < len(intents) else None
                table.add_row(
                    a.term if a else "",
                    str(a.count) if a else "",
                    b.term if b else "",
                    str(b.count) if b else "",
                )
            print_table(table)
            patterns = Table("question pattern", "n", "example")
            for p in result.question_patterns:
                patterns.add_row(" + ".join(p.terms), str(p.count), p.examples[0])
            print_table(patterns)

    run(main())


@report_app.command()
def staffing(
    url: StoreUrl = None,
    days: Annotated[
        int | None, typer.Option(help="Days of history to learn demand from (28).")
    ] = None,
    team: TeamOpt = None,
    channel: ChannelOpt = None,
    tz: ZoneOpt = "UTC",
    format: Format = "table",
) -> None:
    """Agents needed per hour (Erlang C) beside the planned shifts."""

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.reports.drain()
            result = await kit.reports.staffing(days=days, team=team, channel=channel, time_zone=tz)
            if format.lower() == "json":
                console.file.write(result.model_dump_json(indent=2) + "\n")
                return
            table = Table("day", "hour", "arrivals/h", "handle", "needed", "planned", "gap")
            for h in result.hours:
                if h.arrivals == 0 and not h.planned:
                    continue
                gap = "" if h.gap is None else (f"[red]{h.gap}[/]" if h.gap < 0 else str(h.gap))
                table.add_row(
                    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][h.weekday],
                    f"{h.hour:02d}",
                    f"{h.arrivals:.2f}",
                    _dur(h.handle_seconds),
                    str(h.needed),
                    "" if h.planned is None else str(h.planned),
                    gap,
                )
            print_table(table)
            console.print(
                f"understaffed hours: {result.understaffed}, overstaffed: {result.overstaffed}"
            )

    run(main())


@report_app.command()
def sla(
    url: StoreUrl = None, days: Days = None, team: TeamOpt = None, format: Format = "table"
) -> None:
    """SLA compliance and breaches per policy (the store's kit settings' sla_policies)."""

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.reports.drain()
            results = await kit.reports.sla(days=days, team=team)
            if format.lower() == "json":
                console.file.write(
                    json.dumps([r.model_dump(mode="json") for r in results], indent=2) + "\n"
                )
                return
            table = Table(
                "policy", "conversations", "first response met", "resolution met", "breaches"
            )
            for r in results:
                table.add_row(
                    r.policy,
                    str(r.conversations),
                    _rate(r.first_response),
                    _rate(r.resolution),
                    str(r.breaches),
                )
            print_table(table)

    run(main())


@report_app.command()
def export(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="FILE.csv or FILE.parquet.")],
    url: StoreUrl = None,
    days: Days = None,
    start: Start = None,
    end: End = None,
    team: TeamOpt = None,
    replies: Annotated[bool, typer.Option("--replies", help="One row per agent reply.")] = False,
) -> None:
    """Export the facts (one row per conversation, or per reply) as CSV or Parquet."""
    kind: Literal["conversations", "replies"] = "replies" if replies else "conversations"

    async def main() -> None:
        async with AsyncChatKit(url or default_url()) as kit:
            await kit.reports.drain()
            count = await kit.reports.export(
                str(path),
                kind=kind,
                start=_time(start, "start"),
                end=_time(end, "end"),
                days=days,
                team=team,
            )
            console.print(f"{count} rows written to {path}")

    run(main())
