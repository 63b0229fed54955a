"""Reports: service metrics, busiest hours, customer mood and staffing.

`Reports` (``kit.reports``) reads the reporting projection
(`chatkit.reports.facts`), kept from the outbox by the ``reports`` dispatch
group. Results are typed models (`chatkit.reports.models`).
"""

from __future__ import annotations

from .facts import ConversationFact, ConversationStamp, ReplyFact, ReportTimeline, Span
from .models import (
    AgentLoad,
    BotStats,
    CSATStats,
    DurationStats,
    Heatmap,
    HeatmapCell,
    LoadStats,
    MoodReport,
    QuestionPattern,
    ReportFilter,
    ReportGroup,
    ReportSettings,
    ServiceMetrics,
    ServiceReport,
    Share,
    SLAResult,
    StaffingHour,
    StaffingReport,
    TermCount,
    TrendPoint,
)
from .service import GROUP, Reports

__all__ = [
    "GROUP",
    "AgentLoad",
    "BotStats",
    "CSATStats",
    "ConversationFact",
    "ConversationStamp",
    "DurationStats",
    "Heatmap",
    "HeatmapCell",
    "LoadStats",
    "MoodReport",
    "QuestionPattern",
    "ReplyFact",
    "ReportFilter",
    "ReportGroup",
    "ReportSettings",
    "ReportTimeline",
    "Reports",
    "SLAResult",
    "ServiceMetrics",
    "ServiceReport",
    "Share",
    "Span",
    "StaffingHour",
    "StaffingReport",
    "TermCount",
    "TrendPoint",
]
