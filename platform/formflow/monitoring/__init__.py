"""Watching an instance run: request metrics in Prometheus's format, readiness, warnings.

Nothing here imports Flask: :mod:`formflow.web.monitoring_pages` serves it.
"""

from formflow.monitoring.metrics import Gauges, Recorder, exposition
from formflow.monitoring.status import Alert, gauges, last_due, readiness, warnings

__all__ = [
    "Alert",
    "Gauges",
    "Recorder",
    "exposition",
    "gauges",
    "last_due",
    "readiness",
    "warnings",
]
