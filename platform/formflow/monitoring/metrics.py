"""Request metrics kept per process and added up across processes, in Prometheus's text
format (version 0.0.4).

``formflow serve`` runs several gunicorn processes; a scrape reaches one of them. Each
process counts its own requests in memory and writes them, at most once a second, to a
file of its own in the instance's ``metrics/`` folder; a scrape adds every process's file
up (its own from memory). The files only grow, as counters must; a process that ends
leaves its last counts behind, so totals never go down. That is what prometheus_client's
multiprocess mode does with memory-mapped files, for the dozen series we have, without its
environment variable that must be set before the first import in every process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the latency histogram's buckets; ``+Inf`` comes last."""
FLUSH_SECONDS = 1.0
FOLDER = "metrics"
"""The instance's folder where each process leaves its counts."""


class Recorder:
    """One process's request counts and latencies, safe across its threads."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = {}
        self._errors: dict[str, int] = {}
        self._latency: dict[str, list[float]] = {}
        """Per endpoint: a count per bucket (not cumulative), then the sum, then the count."""
        self._flushed = 0.0

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (endpoint, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            if status >= 500:
                self._errors[endpoint] = self._errors.get(endpoint, 0) + 1
            row = self._latency.setdefault(endpoint, [0.0] * (len(BUCKETS) + 3))
            row[_bucket(seconds)] += 1
            row[-2] += seconds
            row[-1] += 1
        self._maybe_flush()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [[*key, count] for key, count in self._requests.items()],
                "errors": dict(self._errors),
                "latency": {endpoint: list(row) for endpoint, row in self._latency.items()},
            }

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if self.folder is None or now - self._flushed < FLUSH_SECONDS:
            return
        self._flushed = now
        self.flush()

    def flush(self) -> None:
        """Write this process's counts to its file (atomically: a reader sees old or new)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}.json"
        partial = path.with_suffix(f".{threading.get_ident()}.tmp")
        partial.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        partial.replace(path)

    def combined(self) -> dict[str, Any]:
        """Every process's counts added up, this one's as they are now."""
        snapshots = [self.snapshot()]
        if self.folder is not None and self.folder.is_dir():
            own = f"{os.getpid()}.json"
            for path in self.folder.glob("*.json"):
                if path.name == own:
                    continue
                try:
                    snapshots.append(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue  # a file being replaced right now: next scrape has it
        return merge(snapshots)


def _bucket(seconds: float) -> int:
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


def merge(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    requests: dict[tuple[str, str], int] = {}
    errors: dict[str, int] = {}
    latency: dict[str, list[float]] = {}
    for snapshot in snapshots:
        for endpoint, status, count in snapshot.get("requests", []):
            requests[(endpoint, status)] = requests.get((endpoint, status), 0) + int(count)
        for endpoint, count in snapshot.get("errors", {}).items():
            errors[endpoint] = errors.get(endpoint, 0) + int(count)
        for endpoint, row in snapshot.get("latency", {}).items():
            total = latency.setdefault(endpoint, [0.0] * (len(BUCKETS) + 3))
            for index, value in enumerate(row[: len(total)]):
                total[index] += value
    return {"requests": requests, "errors": errors, "latency": latency}


@dataclass(frozen=True)
class Gauges:
    """What is measured at the moment of a scrape rather than counted."""

    pool_size: int
    pool_checked_out: int
    pool_overflow: int
    queue_depth: int
    failed_jobs: int
    backup_age_seconds: float | None
    """``None`` when there is no backup at all."""


def exposition(combined: Mapping[str, Any], gauges: Gauges) -> str:
    """The metrics in Prometheus's text format."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("formflow_http_requests_total", "counter", "HTTP requests by endpoint and status.")
    for (endpoint, status), count in sorted(combined["requests"].items()):
        labels = _labels(endpoint=endpoint, status=status)
        lines.append(f"formflow_http_requests_total{labels} {count}")
    family("formflow_http_errors_total", "counter", "Requests answered with a 5xx status.")
    for endpoint, count in sorted(combined["errors"].items()):
        lines.append(f"formflow_http_errors_total{_labels(endpoint=endpoint)} {count}")
    name = "formflow_http_request_duration_seconds"
    family(name, "histogram", "Time to answer a request, by endpoint.")
    for endpoint, row in sorted(combined["latency"].items()):
        cumulative = 0.0
        for index, bound in enumerate((*BUCKETS, float("inf"))):
            cumulative += row[index]
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"{name}_bucket{_labels(endpoint=endpoint, le=le)} {_number(cumulative)}")
        lines.append(f"{name}_sum{_labels(endpoint=endpoint)} {row[-2]!r}")
        lines.append(f"{name}_count{_labels(endpoint=endpoint)} {_number(row[-1])}")
    single = (
        ("formflow_db_pool_size", "Connections the database pool keeps.", gauges.pool_size),
        (
            "formflow_db_pool_checked_out",
            "Pool connections in use now (this process).",
            gauges.pool_checked_out,
        ),
        (
            "formflow_db_pool_overflow",
            "Connections open beyond the pool's size.",
            gauges.pool_overflow,
        ),
        ("formflow_job_queue_depth", "Jobs waiting in the queue.", gauges.queue_depth),
        (
            "formflow_jobs_failed",
            "Background deliveries given up after their last retry (dead letters).",
            gauges.failed_jobs,
        ),
    )
    for metric, help_text, value in single:
        family(metric, "gauge", help_text)
        lines.append(f"{metric} {value}")
    family(
        "formflow_backup_age_seconds",
        "gauge",
        "Seconds since the newest complete backup (NaN: none).",
    )
    age = "NaN" if gauges.backup_age_seconds is None else repr(round(gauges.backup_age_seconds, 3))
    lines.append(f"formflow_backup_age_seconds {age}")
    return "\n".join(lines) + "\n"


def _labels(**values: str) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in values.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
