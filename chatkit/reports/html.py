"""A self-contained HTML report: tables and inline SVG charts, no outside files."""

from __future__ import annotations

import html
from pathlib import Path

from .models import DurationStats, Share
from .plots import Charts, svg

__all__ = ["render", "write"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:75rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .6rem;
text-align:right}th:first-child,td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;
gap:1rem}.charts figure{margin:0}svg{max-width:100%;height:auto}
"""


def _d(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _share(s: Share) -> str:
    return "-" if s.rate is None else f"{s.rate:.0%} ({s.count}/{s.total})"


def _row(name: str, stats: DurationStats) -> str:
    cells = [
        stats.count,
        _d(stats.median),
        _d(stats.mean),
        _d(stats.p90),
        _d(stats.business_median),
    ]
    return f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render(charts: Charts, *, title: str = "Service report") -> str:
    """The HTML page of ``charts`` (its report's tables, and every chart inline as SVG)."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    report = charts.report
    if report is not None:
        f = report.filter
        scope = ", ".join(
            f"{k} {v}"
            for k, v in (
                ("team", f.team),
                ("agent", f.agent),
                ("channel", f.channel),
                ("tag", f.tag),
                ("language", f.language),
            )
            if v
        )
        parts.append(
            f"<p>Conversations started {f.start:%Y-%m-%d %H:%M} to {f.end:%Y-%m-%d %H:%M} UTC"
            f"{html.escape(' · ' + scope) if scope else ''}; "
            f"hours in {html.escape(f.time_zone)}.</p>"
        )
        t = report.totals
        parts.append(
            "<h2>Durations</h2><table><tr><th>metric</th><th>n</th><th>median</th>"
            "<th>mean</th><th>p90</th><th>median (business)</th></tr>"
        )
        for name, stats in (
            ("first response", t.first_response),
            ("reply time", t.reply_time),
            ("queue wait", t.queue_wait),
            ("handle time", t.handle_time),
            ("first resolution", t.first_resolution),
            ("full resolution", t.full_resolution),
        ):
            parts.append(_row(name, stats))
        parts.append("</table><h2>Rates</h2><table><tr><th>metric</th><th>value</th></tr>")
        rates = [
            ("conversations", str(t.conversations)),
            ("CSAT (satisfied)", _share(t.csat.satisfied)),
            (
                "survey response rate",
                "-" if t.csat.response_rate is None else f"{t.csat.response_rate:.0%}",
            ),
            ("first contact resolution", _share(t.first_contact_resolution)),
            ("reopened", _share(t.reopened)),
            ("abandoned", _share(t.abandoned)),
            ("missed", _share(t.missed)),
            ("bot containment", _share(t.bot.contained)),
            ("bot handoffs", _share(t.bot.handoffs)),
            ("messages in / out", f"{t.load.messages_in} / {t.load.messages_out}"),
        ]
        parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rates]
        parts.append("</table>")
        if report.groups:
            parts.append(
                f"<h2>By {html.escape(report.group_by or '')}</h2><table><tr><th>group</th>"
                "<th>conversations</th><th>median first response</th>"
                "<th>median resolution</th><th>CSAT</th><th>FCR</th></tr>"
            )
            for g in report.groups:
                m = g.metrics
                cells = [
                    m.conversations,
                    _d(m.first_response.median),
                    _d(m.first_resolution.median),
                    _share(m.csat.satisfied),
                    _share(m.first_contact_resolution),
                ]
                parts.append(
                    f"<tr><td>{html.escape(g.key)}</td>"
                    + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                    + "</tr>"
                )
            parts.append("</table>")
    figures = []
    if charts.heatmap is not None:
        figures.append(svg("heatmap", charts.heatmap))
    if charts.trend:
        figures.append(svg("trend", charts.trend))
    if report is not None:
        figures.append(svg("csat", report.totals.csat.distribution))
    if charts.mood is not None:
        figures.append(svg("mood", charts.mood.distribution))
    if charts.staffing is not None:
        figures.append(svg("staffing", charts.staffing))
    if figures:
        parts.append("<h2>Charts</h2><div class=charts>")
        parts += [f"<figure>{f}</figure>" for f in figures]
        parts.append("</div>")
    if charts.mood is not None and charts.mood.top_negative_terms:
        parts.append(
            "<h2>Top complaint terms</h2><p>"
            + ", ".join(
                f"{html.escape(t.term)} ({t.count})" for t in charts.mood.top_negative_terms
            )
            + "</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write(charts: Charts, path: str | Path, *, title: str = "Service report") -> Path:
    """Write the HTML report to ``path``."""
    target = Path(path)
    target.write_text(render(charts, title=title), encoding="utf-8")
    return target
