"""Charts of reports with matplotlib (``pip install 'chatkit[reports]'``).

`figure` draws the morning report on one page (busiest hours, trend, CSAT
and sentiment distributions, staffing); `save` writes it as PNG or SVG;
`svg` returns one chart as inline SVG for the HTML report.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .._optional import import_optional
from ..errors import InvalidInputError
from ..hours import WEEKDAYS
from .models import Heatmap, MoodReport, ServiceReport, StaffingReport, TrendPoint

Axes = Any
"""A matplotlib ``Axes`` (typed loosely: matplotlib is an optional extra)."""
Figure = Any
__all__ = ["Charts", "figure", "save", "svg"]

_DAYS = [d[:3].title() for d in WEEKDAYS]


class Charts:
    """What the charts show: any part may be missing."""

    def __init__(
        self,
        *,
        report: ServiceReport | None = None,
        heatmap: Heatmap | None = None,
        trend: list[TrendPoint] | None = None,
        mood: MoodReport | None = None,
        staffing: StaffingReport | None = None,
    ) -> None:
        self.report = report
        self.heatmap = heatmap
        self.trend = trend
        self.mood = mood
        self.staffing = staffing


def _pyplot() -> Any:
    mpl = import_optional("matplotlib", "report charts")
    mpl.use("Agg")
    return import_optional("matplotlib.pyplot", "report charts")


def draw_heatmap(ax: Axes, heat: Heatmap) -> None:
    """Weekday x hour cells coloured by quantile level, with the counts written in."""
    levels = heat.levels
    top = max(1, max(max(row) for row in levels))
    image = ax.imshow(levels, aspect="auto", cmap="YlOrRd", vmin=0, vmax=top)
    ax.set_yticks(range(7), _DAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    for d in range(7):
        for h in range(24):
            if heat.cells[d][h]:
                ax.text(h, d, str(heat.cells[d][h]), ha="center", va="center", fontsize=6)
    what = "conversations started" if heat.metric == "started" else "resolutions"
    ax.set_title(f"Busiest hours: {what} ({heat.time_zone})")
    ax.set_xlabel("hour")
    ax.figure.colorbar(image, ax=ax, label="quantile level")


def draw_trend(ax: Axes, points: list[TrendPoint]) -> None:
    """Conversations per period (bars) and the median first response (line, minutes)."""
    days = [p.period for p in points]
    ax.bar(days, [p.conversations for p in points], color="#9ecae1", label="conversations")
    ax.set_ylabel("conversations")
    ax.set_title("Trend")
    ax.tick_params(axis="x", labelrotation=45)
    other = ax.twinx()
    frt = [
        None if p.first_response_median is None else p.first_response_median / 60 for p in points
    ]
    other.plot(days, frt, color="#d62728", marker="o", label="median first response (min)")
    other.set_ylabel("median first response (min)")
    handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=7)


def draw_distribution(ax: Axes, counts: dict[str, int], title: str) -> None:
    """Bars of counts per answer or label."""
    keys = list(counts)
    ax.bar(keys, [counts[k] for k in keys], color="#74c476")
    ax.set_title(title)
    if not keys:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def draw_staffing(ax: Axes, staffing: StaffingReport, weekday: int | None = None) -> None:
    """Agents needed vs planned per hour (the busiest weekday unless given)."""
    if weekday is None:
        totals = [sum(h.arrivals for h in staffing.hours if h.weekday == d) for d in range(7)]
        weekday = totals.index(max(totals))
    hours = [h for h in staffing.hours if h.weekday == weekday]
    xs = [h.hour for h in hours]
    ax.bar(xs, [h.needed for h in hours], color="#6baed6", label="needed (Erlang C)")
    planned = [h.planned for h in hours]
    if any(p is not None for p in planned):
        ax.step(xs, [p or 0 for p in planned], where="mid", color="#31a354", label="planned")
    ax.set_title(f"Staffing, {_DAYS[weekday]} ({staffing.time_zone})")
    ax.set_xlabel("hour")
    ax.set_ylabel("agents")
    ax.legend(fontsize=7)


def figure(charts: Charts) -> Figure:
    """One figure with every chart there is data for."""
    plt = _pyplot()
    parts: list[tuple[str, Any]] = []
    if charts.heatmap is not None:
        parts.append(("heatmap", charts.heatmap))
    if charts.trend:
        parts.append(("trend", charts.trend))
    if charts.report is not None:
        parts.append(("csat", charts.report.totals.csat.distribution))
    if charts.mood is not None and charts.mood.distribution:
        parts.append(("mood", charts.mood.distribution))
    if charts.staffing is not None:
        parts.append(("staffing", charts.staffing))
    if not parts:
        raise InvalidInputError("nothing to plot")
    rows = (len(parts) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(13, 4.2 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (kind, data) in zip(flat, parts, strict=False):
        _draw(ax, kind, data)
    for ax in flat[len(parts) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _draw(ax: Axes, kind: str, data: Any) -> None:
    if kind == "heatmap":
        draw_heatmap(ax, data)
    elif kind == "trend":
        draw_trend(ax, data)
    elif kind == "csat":
        draw_distribution(ax, data, "CSAT answers")
    elif kind == "mood":
        draw_distribution(ax, data, "Customer sentiment (messages)")
    else:
        draw_staffing(ax, data)


def save(charts: Charts, path: str | Path) -> Path:
    """Write the charts to a ``.png`` or ``.svg`` file.

    Raises:
        InvalidInputError: Another suffix, or nothing to plot.
        MissingDependencyError: matplotlib is not installed.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InvalidInputError("the plot file must end in .png or .svg", field="plot")
    plt = _pyplot()
    fig = figure(charts)
    try:
        fig.savefig(target, format=suffix[1:], dpi=110, metadata=_metadata(suffix))
    finally:
        plt.close(fig)
    return target


def _metadata(suffix: str) -> dict[str, Any]:
    # no creation date: the same report gives the same file
    return {"Date": None} if suffix == ".svg" else {}


def svg(kind: str, data: Any, *, size: tuple[float, float] = (7.0, 3.6)) -> str:
    """One chart (``heatmap``, ``trend``, ``csat``, ``mood`` or ``staffing``) as an SVG document."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
    try:
        _draw(ax, kind, data)
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]
