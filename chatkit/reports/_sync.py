"""Blocking twin of `Reports` (``ChatKit.reports``)."""

from __future__ import annotations

from .._portal import SyncResource, sync
from .service import Reports

__all__ = ["SyncReports"]


class SyncReports(SyncResource[Reports]):
    """Blocking twin of `Reports`."""

    summary = sync(Reports.summary)
    heatmap = sync(Reports.heatmap)
    trend = sync(Reports.trend)
    mood = sync(Reports.mood)
    sla = sync(Reports.sla)
    staffing = sync(Reports.staffing)
    export = sync(Reports.export)
    drain = sync(Reports.drain)
    rebuild = sync(Reports.rebuild)
    apply = sync(Reports.apply)
