"""Dashboards: widgets turned into aggregate queries through the record service.

No Flask here: the web pages and the API present what :class:`DashboardService` computes.
"""

from formflow.dashboards.cache import ResultCache
from formflow.dashboards.periods import Span, bucket_span, period_span, previous_period
from formflow.dashboards.service import (
    DashboardService,
    Drill,
    Group,
    ViewerFilters,
    WidgetResult,
    may_see,
    visible_dashboards,
)

__all__ = [
    "DashboardService",
    "Drill",
    "Group",
    "ResultCache",
    "Span",
    "ViewerFilters",
    "WidgetResult",
    "bucket_span",
    "may_see",
    "period_span",
    "previous_period",
    "visible_dashboards",
]
